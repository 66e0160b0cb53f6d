package model

import (
	"testing"

	"github.com/otaplane/ota/proto/manifest"
)

// FuzzVersionOrderAgreesWithDevices: the control plane (ValidateVersion, CompareVersions)
// and a device checking a manifest (manifest.CompareVersions) must agree on what a
// version is and how two order, or one of them would let through a downgrade the other
// refuses.
func FuzzVersionOrderAgreesWithDevices(f *testing.F) {
	for _, pair := range [][2]string{
		{"1.0.0", "1.0.1"}, {"1.10.0", "1.9.0"}, {"1.0.0-rc.1", "1.0.0"}, {"1.0.0-alpha.beta", "1.0.0-alpha.1"},
		{"1.0.0+build", "1.0.0"}, {"01.0.0", "1.0.0"}, {"1.0.0-01", "1.0.0"}, {"v1.0.0", "1.0.0"},
		{"18446744073709551616.0.0", "1.0.0"}, {"1.0.0-a-b.c", "1.0.0-a-b"}, {"1.2.3+a+b", "1.2.3"},
	} {
		f.Add(pair[0], pair[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		device, err := manifest.CompareVersions(a, b)
		bothValid := ValidateVersion("v", a) == nil && ValidateVersion("v", b) == nil
		if (err == nil) != bothValid {
			t.Fatalf("%q, %q: the device says valid=%v, the control plane %v", a, b, err == nil, bothValid)
		}
		if err == nil && device != CompareVersions(a, b) {
			t.Fatalf("%q vs %q: the device orders %d, the control plane %d", a, b, device, CompareVersions(a, b))
		}
	})
}
