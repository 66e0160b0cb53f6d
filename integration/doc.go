// Package integration runs the whole control plane — API, worker, device simulator — on
// the real Cadence dev server, PostgreSQL and Mosquitto (started by `make test`).
package integration
