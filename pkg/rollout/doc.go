// Package rollout holds the rules of a staged rollout as pure functions: whether a policy
// is valid, how a campaign's devices are cut into waves, whether a gate lets the next wave
// start, when the failures seen so far abort the campaign, which failures are retried, how
// fast devices may be dispatched (a token bucket at a fixed or exponentially growing
// rate), whether a maintenance window is open, and what a dry run would do.
//
// The OTA_CAMPAIGN workflow and the API's dry run both call them, so what a dry run
// promises is what the campaign does. Nothing here talks to Cadence, a database or a
// clock: every input is an argument, which keeps the rules deterministic for workflow
// code and easy to test.
package rollout
