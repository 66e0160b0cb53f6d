package stack

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// StartBroker runs a private Mosquitto on port with the broker's default limits. The
// workers' shared subscription group is the same on every broker, so on the machine's
// shared Mosquitto any other worker (an integration test, `make run`) would receive
// part of the benchmark's device reports and heartbeats, and the benchmark part of
// theirs.
func StartBroker(port int, dir string) (*Proc, error) {
	path, err := exec.LookPath("mosquitto")
	if err != nil {
		for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
			if _, serr := os.Stat(p); serr == nil {
				path, err = p, nil
				break
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("mosquitto not found (scripts/services.sh installs it): %w", err)
	}
	conf := filepath.Join(dir, "mosquitto.conf")
	body := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n"+
		"log_dest stdout\nlog_type error\nlog_type warning\n", port)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		return nil, err
	}
	return StartProc("mosquitto", path, []string{"-c", conf}, nil, filepath.Join(dir, "mosquitto.log"))
}
