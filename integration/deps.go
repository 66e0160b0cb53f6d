//go:build tools

package integration

// Pins the split-out genproto: older monolithic versions, pulled in by the Cadence client's
// dependencies, also contain googleapis/rpc/status and make that import ambiguous.
import _ "google.golang.org/genproto/protobuf/field_mask"
