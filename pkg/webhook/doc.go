// Package webhook holds the pure rules of outgoing webhooks: request signing and its
// verification in the Standard Webhooks style (receivers may use Verify as is), the
// event types a tenant subscribes to, and which targets a webhook may reach.
package webhook
