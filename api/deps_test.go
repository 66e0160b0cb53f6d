package api

import (
	"os/exec"
	"strings"
	"testing"
)

// TestAPIDoesNotTalkToDevices guards the architecture: the API starts and queries
// workflows; only workers reach MQTT and ChirpStack.
func TestAPIDoesNotTalkToDevices(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, forbidden := range []string{"github.com/eclipse/paho.mqtt.golang", "github.com/chirpstack/", "github.com/otaplane/ota/worker"} {
		for _, pkg := range strings.Fields(string(out)) {
			if strings.HasPrefix(pkg, forbidden) {
				t.Errorf("api depends on %s", pkg)
			}
		}
	}
}
