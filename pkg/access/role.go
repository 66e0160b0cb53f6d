package access

import "fmt"

// Role is what an API key may do in its tenant. Each role includes the ones below it.
type Role int

// Roles, weakest first; the zero value is no role.
const (
	// RoleViewer reads everything, changes nothing.
	RoleViewer Role = iota + 1
	// RoleOperator manages devices, firmware and campaigns.
	RoleOperator
	// RoleAdmin also manages keys, webhooks, signing keys and tenant settings, and may
	// override the downgrade and rollback protections.
	RoleAdmin
)

var roleNames = map[Role]string{RoleViewer: "viewer", RoleOperator: "operator", RoleAdmin: "admin"}

func (r Role) String() string {
	if n, ok := roleNames[r]; ok {
		return n
	}
	return fmt.Sprintf("role(%d)", int(r))
}

// Valid says r is one of the roles.
func (r Role) Valid() bool { _, ok := roleNames[r]; return ok }

// Allows says a key of role r may use something that needs role need.
func (r Role) Allows(need Role) bool { return r.Valid() && need.Valid() && r >= need }

// MarshalText writes the role's name.
func (r Role) MarshalText() ([]byte, error) {
	if !r.Valid() {
		return nil, fmt.Errorf("invalid role %d", int(r))
	}
	return []byte(r.String()), nil
}

// UnmarshalText reads a role's name.
func (r *Role) UnmarshalText(b []byte) error {
	p, err := ParseRole(string(b))
	if err != nil {
		return err
	}
	*r = p
	return nil
}

// ParseRole reads "viewer", "operator" or "admin".
func ParseRole(s string) (Role, error) {
	for r, n := range roleNames {
		if n == s {
			return r, nil
		}
	}
	return 0, fmt.Errorf("unknown role %q: must be viewer, operator or admin", s)
}

// CanGrant says a key of role actor may create a key of role requested: never one
// stronger than itself.
func CanGrant(actor, requested Role) bool { return requested.Valid() && actor.Allows(requested) }
