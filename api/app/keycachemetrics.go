package app

import "github.com/prometheus/client_golang/prometheus"

// RegisterMetrics exports the cache's state and counters on reg.
func (c *KeyCache) RegisterMetrics(reg prometheus.Registerer) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ota_key_cache_serving",
			Help: "1 while the API key cache answers (its change notifications are proven to arrive); 0 while every request asks the database."},
			func() float64 {
				if c.Serving() {
					return 1
				}
				return 0
			}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ota_key_cache_hits_total",
			Help: "API keys authenticated from the cache."},
			func() float64 { return float64(c.hits.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ota_key_cache_misses_total",
			Help: "API keys looked up in the database: not cached, or the cache was not serving."},
			func() float64 { return float64(c.misses.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ota_key_cache_invalidations_total",
			Help: "Times the API key cache was emptied: a key or tenant changed, or its notifications were not proven."},
			func() float64 { return float64(c.invalidations.Load()) }),
	)
}
