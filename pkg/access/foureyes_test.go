package access

import (
	"errors"
	"testing"
)

func TestFourEyes(t *testing.T) {
	tests := []struct {
		name           string
		enabled        bool
		creator, actor string
		want           error
	}{
		{"rule off, same key", false, "k1", "k1", nil},
		{"rule off, unknown creator", false, "", "k1", nil},
		{"rule on, second key", true, "k1", "k2", nil},
		{"rule on, same key", true, "k1", "k1", ErrFourEyes},
		{"rule on, unknown creator", true, "", "k1", ErrFourEyes},
	}
	for _, tt := range tests {
		if got := FourEyes(tt.enabled, tt.creator, tt.actor); !errors.Is(got, tt.want) || (got == nil) != (tt.want == nil) {
			t.Errorf("%s: FourEyes = %v, want %v", tt.name, got, tt.want)
		}
	}
}
