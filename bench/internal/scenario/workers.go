package scenario

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/otaplane/ota/bench/internal/procstat"
)

// waitWorkers waits until every worker listens for metrics: it starts that listener
// only after subscribing to device traffic, so from then on no heartbeat is lost.
// The listener's port is chosen by the kernel (127.0.0.1:0) and found in /proc.
func (e *env) waitWorkers(ctx context.Context) error {
	e.metricsPorts = make([]int, len(e.workers))
	deadline := time.Now().Add(readyWait)
	for i, w := range e.workers {
		for {
			if err := w.Alive(); err != nil {
				return err
			}
			ports, err := procstat.ListeningPorts(w.PID())
			if err == nil && len(ports) > 0 {
				e.metricsPorts[i] = ports[0]
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s not serving metrics after %s", w.Name, readyWait)
			}
			if err := sleep(ctx, 200*time.Millisecond); err != nil {
				return err
			}
		}
	}
	return nil
}

// workerCounters scrapes the workers' own metrics (ota_*), summed over workers, e.g.
// reports signaled and messages dropped by reason.
func (e *env) workerCounters(ctx context.Context) map[string]float64 {
	out := map[string]float64{}
	hc := &http.Client{Timeout: 5 * time.Second}
	for _, port := range e.metricsPorts {
		if port == 0 {
			continue
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/metrics", port), nil)
		if err != nil {
			continue
		}
		resp, err := hc.Do(req)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, "ota_") {
				continue
			}
			i := strings.LastIndexByte(line, ' ')
			if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil && i > 0 {
				out[line[:i]] += v
			}
		}
		resp.Body.Close()
	}
	return out
}
