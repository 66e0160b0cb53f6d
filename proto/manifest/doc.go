// Package manifest holds the signed-firmware rules of the device protocol
// (docs/device-protocol.md, "Signed manifest"): the release statement a tenant's release
// key signs for each image, the manifest its command key signs for each UPDATE to each
// device, the trust set a device pins, and the checks a device makes before it downloads
// anything. The control plane signs with it and the simulated devices verify with it,
// so both sides follow one definition. It depends on nothing but the standard library
// and the protocol's messages, as a device's verifier should.
package manifest
