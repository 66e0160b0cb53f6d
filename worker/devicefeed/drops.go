package devicefeed

import (
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// dropLog counts every dropped device message by reason and logs a sample of them: a
// flood of garbage must be visible without flooding the log.
type dropLog struct {
	log     *zap.Logger
	metrics *Metrics
}

func newDropLog(log *zap.Logger, m *Metrics) *dropLog {
	sampled := log.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		// Per second and message: the first 5, then every 100th.
		return zapcore.NewSamplerWithOptions(c, time.Second, 5, 100)
	}))
	return &dropLog{log: sampled, metrics: m}
}

func (d *dropLog) drop(reason string, err error, fields ...zap.Field) {
	d.metrics.Dropped.WithLabelValues(reason).Inc()
	d.log.Warn("device message dropped", append(fields, zap.String("reason", reason), zap.Error(err))...)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
