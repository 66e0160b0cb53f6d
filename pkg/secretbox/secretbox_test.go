package secretbox

import (
	"errors"
	"testing"
)

func TestSealOpen(t *testing.T) {
	box, err := New("a-secret-of-enough-length")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := New("another-secret-of-enough-length")
	sealed, err := box.Seal([]byte("p@ss"), "device:t:d:1")
	if err != nil {
		t.Fatal(err)
	}
	again, _ := box.Seal([]byte("p@ss"), "device:t:d:1")
	if sealed == again {
		t.Fatal("two seals of one value are equal: the nonce is not random")
	}
	tampered := []byte(sealed)
	tampered[len(tampered)-2] ^= 1
	tests := []struct {
		name    string
		box     *Box
		sealed  string
		purpose string
		ok      bool
	}{
		{"right key and purpose", box, sealed, "device:t:d:1", true},
		{"another purpose", box, sealed, "device:t:d:2", false},
		{"another key", other, sealed, "device:t:d:1", false},
		{"tampered", box, string(tampered), "device:t:d:1", false},
		{"garbage", box, "!!", "device:t:d:1", false},
		{"empty", box, "", "device:t:d:1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.box.Open(tt.sealed, tt.purpose)
			if tt.ok != (err == nil) || (!tt.ok && !errors.Is(err, ErrOpen)) || (tt.ok && string(got) != "p@ss") {
				t.Fatalf("Open = %q, %v", got, err)
			}
		})
	}
	if _, err := New("short"); err == nil {
		t.Fatal("a short secret was accepted")
	}
}

func FuzzOpen(f *testing.F) {
	box, _ := New("a-secret-of-enough-length")
	sealed, _ := box.Seal([]byte("x"), "p")
	f.Add(sealed, "p")
	f.Add("", "")
	f.Add("AQ", "p")
	f.Fuzz(func(t *testing.T, s, purpose string) {
		// Only "x" was ever sealed, and only for "p".
		if got, err := box.Open(s, purpose); err == nil && (purpose != "p" || string(got) != "x") {
			t.Fatalf("opened a value never sealed: %q", s)
		}
	})
}
