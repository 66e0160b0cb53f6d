package devicefeed

import "github.com/prometheus/client_golang/prometheus"

// Metrics counts what the feed did.
type Metrics struct {
	Signaled   prometheus.Counter
	Recorded   prometheus.Counter
	Heartbeats prometheus.Counter
	Dropped    *prometheus.CounterVec
}

// NewMetrics registers the feed's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Signaled: prometheus.NewCounter(prometheus.CounterOpts{Name: "ota_device_reports_signaled_total",
			Help: "Device reports delivered to their workflow run."}),
		Recorded: prometheus.NewCounter(prometheus.CounterOpts{Name: "ota_device_progress_recorded_total",
			Help: "Device progress reports on quiet update commands recorded in the database instead of signaled."}),
		Heartbeats: prometheus.NewCounter(prometheus.CounterOpts{Name: "ota_device_heartbeats_total",
			Help: "Device heartbeats received."}),
		Dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ota_device_messages_dropped_total",
			Help: "Device messages dropped, by reason."}, []string{"reason"}),
	}
	reg.MustRegister(m.Signaled, m.Recorded, m.Heartbeats, m.Dropped)
	return m
}
