package manifest

import "testing"

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1.0.0", "1.0.0", 0},
		{"1.0.0", "2.0.0", -1},
		{"2.0.0", "1.9.9", 1},
		{"1.10.0", "1.9.0", 1},
		{"1.0.10", "1.0.9", 1},
		{"1.0.0-alpha", "1.0.0", -1},
		{"1.0.0-alpha", "1.0.0-alpha.1", -1},
		{"1.0.0-alpha.1", "1.0.0-alpha.beta", -1},
		{"1.0.0-alpha.beta", "1.0.0-beta", -1},
		{"1.0.0-beta.2", "1.0.0-beta.11", -1},
		{"1.0.0-beta.11", "1.0.0-rc.1", -1},
		{"1.0.0-rc.1", "1.0.0", -1},
		{"1.0.0+build.1", "1.0.0+build.2", 0},
		{"1.0.0-rc.1+x", "1.0.0-rc.1", 0},
		{"18446744073709551615.0.0", "18446744073709551614.0.0", 1},
	}
	for _, tt := range tests {
		t.Run(tt.a+" vs "+tt.b, func(t *testing.T) {
			got, err := CompareVersions(tt.a, tt.b)
			if err != nil || got != tt.want {
				t.Fatalf("CompareVersions(%q, %q) = %d, %v; want %d", tt.a, tt.b, got, err, tt.want)
			}
			if back, _ := CompareVersions(tt.b, tt.a); back != -tt.want {
				t.Fatalf("CompareVersions(%q, %q) = %d; want %d", tt.b, tt.a, back, -tt.want)
			}
		})
	}
}

func TestCompareVersionsRefusesNonVersions(t *testing.T) {
	for _, v := range []string{"", "1", "1.0", "1.0.0.0", "v1.0.0", "01.0.0", "1.00.0", "1.0.0-", "1.0.0+",
		"1.0.0-01", "1.0.0-a..b", "1.0.0-a_b", "1.0.0+a+b", " 1.0.0", "18446744073709551616.0.0", "1.-1.0"} {
		t.Run(v, func(t *testing.T) {
			if _, err := CompareVersions(v, "1.0.0"); err == nil {
				t.Fatalf("%q accepted as a version", v)
			}
		})
	}
}
