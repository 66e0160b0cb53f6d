// Package access holds the pure rules of who may do what in a tenant: API key roles,
// the lifecycle of a key (active, in its rotation grace, expired, revoked), which keys an
// admin may create or revoke, and the four-eyes rule on campaigns. It does no I/O; the
// API and the store apply its decisions.
package access
