package runshape

import (
	"os"
	"time"

	"github.com/otaplane/ota/bench/internal/procstat"
)

// cpuSample is the CPU time each part has used so far, and the machine's.
type cpuSample struct {
	cadence, postgres, bench time.Duration
	busy, total              time.Duration
	at                       time.Time
}

func sampleCPU(devServerPID int) (cpuSample, error) {
	s := cpuSample{at: time.Now()}
	var err error
	if s.cadence, err = procstat.CPU(devServerPID); err != nil {
		return s, err
	}
	if s.postgres, _, err = procstat.CommandCPU("postgres"); err != nil {
		return s, err
	}
	if s.bench, err = procstat.CPU(os.Getpid()); err != nil {
		return s, err
	}
	s.busy, s.total, err = procstat.MachineTimes()
	return s, err
}

// perDevice turns the CPU used between two samples into milliseconds per device run.
func perDevice(d time.Duration, devices int) float64 {
	return float64(d) / float64(time.Millisecond) / float64(devices)
}
