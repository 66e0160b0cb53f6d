package chirpstacksim

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// VersionTag is the device tag a FUOTA deployment's on-complete tags set to the image's
// version (the worker does), and the one ReportVersions reads.
const VersionTag = "firmware_version"

// rebootDelay is how long a simulated device takes to boot its new image after a
// deployment completed for it.
const rebootDelay = 2 * time.Second

// ReportVersions makes every device speak as one running firmware does, until ctx ends:
// an uplink on fPort carrying its version as text every interval, and one shortly
// after a FUOTA deployment completes for it. A device's version is its VersionTag, or
// initial while it has none. Stand-alone runs (make run's demo) use it; tests send
// their own uplinks.
func (s *Server) ReportVersions(ctx context.Context, fPort uint32, interval time.Duration, initial string) {
	report := func(devEUI string) {
		d, ok := s.Device(devEUI)
		if !ok {
			return
		}
		v := d.GetTags()[VersionTag]
		if v == "" {
			v = initial
		}
		if _, err := s.PublishUplink(ctx, devEUI, fPort, []byte(v)); err != nil && ctx.Err() == nil {
			s.log.Warn("version uplink not sent", zap.String("dev_eui", devEUI), zap.Error(err))
		}
	}
	s.OnFUOTAComplete(func(devEUI string) {
		go func() {
			select {
			case <-ctx.Done():
			case <-time.After(rebootDelay):
				report(devEUI)
			}
		}()
	})
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for _, d := range s.Devices() {
			report(d.GetDevEui())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
