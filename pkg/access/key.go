package access

import (
	"errors"
	"fmt"
	"time"
)

// KeyState is where a key is in its lifecycle.
type KeyState int

// Key states; only active and grace keys authenticate.
const (
	// KeyActive authenticates.
	KeyActive KeyState = iota + 1
	// KeyGrace was rotated: it authenticates until its grace period ends.
	KeyGrace
	// KeyExpired reached its expiry (or the end of its grace).
	KeyExpired
	// KeyRevoked was revoked.
	KeyRevoked
)

var keyStateNames = map[KeyState]string{KeyActive: "active", KeyGrace: "grace", KeyExpired: "expired", KeyRevoked: "revoked"}

func (s KeyState) String() string {
	if n, ok := keyStateNames[s]; ok {
		return n
	}
	return fmt.Sprintf("key_state(%d)", int(s))
}

// MarshalText writes the state's name.
func (s KeyState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a state's name.
func (s *KeyState) UnmarshalText(b []byte) error {
	for st, n := range keyStateNames {
		if n == string(b) {
			*s = st
			return nil
		}
	}
	return fmt.Errorf("unknown key state %q", b)
}

// Authenticates says a key in state s is accepted.
func (s KeyState) Authenticates() bool { return s == KeyActive || s == KeyGrace }

// KeyTimes are the lifecycle facts of a stored key.
type KeyTimes struct {
	ExpiresAt *time.Time
	RevokedAt *time.Time
	// RotatedAt is set once the key was replaced; ExpiresAt then ends its grace.
	RotatedAt *time.Time
}

// StateAt is the key's state at now.
func (k KeyTimes) StateAt(now time.Time) KeyState {
	switch {
	case k.RevokedAt != nil:
		return KeyRevoked
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		return KeyExpired
	case k.RotatedAt != nil:
		return KeyGrace
	}
	return KeyActive
}

// ErrGraceOutOfRange: a requested rotation grace is negative or above the limit.
var ErrGraceOutOfRange = errors.New("grace out of range")

// MaxRotationGrace bounds any grace, configured or requested: a rotated key is meant to
// stop working soon.
const MaxRotationGrace = 30 * 24 * time.Hour

// RotationGrace is how long a rotated key keeps working: requested when given (0 ends it
// at once), else the configured default; never above MaxRotationGrace.
func RotationGrace(requested *time.Duration, configured time.Duration) (time.Duration, error) {
	if requested == nil {
		return min(max(configured, 0), MaxRotationGrace), nil
	}
	if *requested < 0 || *requested > MaxRotationGrace {
		return 0, fmt.Errorf("%w: must be from 0s to %s", ErrGraceOutOfRange, MaxRotationGrace)
	}
	return *requested, nil
}

// GraceEnd is when a key rotated at now stops working: the end of its grace, or its own
// expiry when that comes first.
func GraceEnd(now time.Time, grace time.Duration, expiresAt *time.Time) time.Time {
	end := now.Add(grace)
	if expiresAt != nil && expiresAt.Before(end) {
		return *expiresAt
	}
	return end
}

// ErrLastAdmin: revoking the key would leave the tenant without an active admin key.
var ErrLastAdmin = errors.New("the tenant's last active admin key cannot be revoked")

// CanRevoke decides a revocation of a key of role target while activeAdmins admin keys
// (this one included, when it is an active admin) can still authenticate.
func CanRevoke(target Role, targetActive bool, activeAdmins int) error {
	if target == RoleAdmin && targetActive && activeAdmins <= 1 {
		return ErrLastAdmin
	}
	return nil
}
