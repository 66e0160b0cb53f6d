package access

import (
	"errors"
	"testing"
	"time"
)

func TestKeyStateAt(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	past, future := now.Add(-time.Minute), now.Add(time.Minute)
	tests := []struct {
		name string
		k    KeyTimes
		want KeyState
	}{
		{"fresh", KeyTimes{}, KeyActive},
		{"expiry ahead", KeyTimes{ExpiresAt: &future}, KeyActive},
		{"expiry reached exactly", KeyTimes{ExpiresAt: &now}, KeyExpired},
		{"expired", KeyTimes{ExpiresAt: &past}, KeyExpired},
		{"rotated, in grace", KeyTimes{RotatedAt: &past, ExpiresAt: &future}, KeyGrace},
		{"rotated, grace over", KeyTimes{RotatedAt: &past, ExpiresAt: &past}, KeyExpired},
		{"revoked beats everything", KeyTimes{RevokedAt: &past, RotatedAt: &past, ExpiresAt: &future}, KeyRevoked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.k.StateAt(now)
			if got != tt.want {
				t.Errorf("StateAt = %s, want %s", got, tt.want)
			}
			b, _ := got.MarshalText()
			var back KeyState
			if err := back.UnmarshalText(b); err != nil || back != got {
				t.Errorf("%s round trip = %v, %v", got, back, err)
			}
			if got.Authenticates() != (tt.want == KeyActive || tt.want == KeyGrace) {
				t.Errorf("%s.Authenticates() = %v", got, got.Authenticates())
			}
		})
	}
}

func TestRotationGrace(t *testing.T) {
	d := func(v time.Duration) *time.Duration { return &v }
	tests := []struct {
		name       string
		requested  *time.Duration
		configured time.Duration
		want       time.Duration
		wantErr    bool
	}{
		{"configured default", nil, time.Hour, time.Hour, false},
		{"configured above the limit is capped", nil, 365 * 24 * time.Hour, MaxRotationGrace, false},
		{"negative configured is none", nil, -time.Second, 0, false},
		{"requested", d(2 * time.Second), time.Hour, 2 * time.Second, false},
		{"requested zero ends at once", d(0), time.Hour, 0, false},
		{"requested at the limit", d(MaxRotationGrace), time.Hour, MaxRotationGrace, false},
		{"requested above the limit", d(MaxRotationGrace + 1), time.Hour, 0, true},
		{"requested negative", d(-time.Second), time.Hour, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RotationGrace(tt.requested, tt.configured)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("RotationGrace = %s, %v; want %s, error %v", got, err, tt.want, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrGraceOutOfRange) {
				t.Fatalf("error %v is not ErrGraceOutOfRange", err)
			}
		})
	}
}

func TestGraceEnd(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	soon, late := now.Add(time.Minute), now.Add(48*time.Hour)
	tests := []struct {
		name    string
		grace   time.Duration
		expires *time.Time
		want    time.Time
	}{
		{"no expiry", time.Hour, nil, now.Add(time.Hour)},
		{"expiry after the grace", time.Hour, &late, now.Add(time.Hour)},
		{"expiry before the grace wins", time.Hour, &soon, soon},
		{"no grace", 0, nil, now},
	}
	for _, tt := range tests {
		if got := GraceEnd(now, tt.grace, tt.expires); !got.Equal(tt.want) {
			t.Errorf("%s: GraceEnd = %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestCanRevoke(t *testing.T) {
	tests := []struct {
		name         string
		target       Role
		targetActive bool
		activeAdmins int
		want         error
	}{
		{"last active admin", RoleAdmin, true, 1, ErrLastAdmin},
		{"one of two admins", RoleAdmin, true, 2, nil},
		{"an expired admin key", RoleAdmin, false, 1, nil},
		{"an operator while one admin is left", RoleOperator, true, 1, nil},
		{"a viewer with no admin at all", RoleViewer, true, 0, nil},
	}
	for _, tt := range tests {
		if got := CanRevoke(tt.target, tt.targetActive, tt.activeAdmins); !errors.Is(got, tt.want) || (got == nil) != (tt.want == nil) {
			t.Errorf("%s: CanRevoke = %v, want %v", tt.name, got, tt.want)
		}
	}
}
