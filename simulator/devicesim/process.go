package devicesim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strings"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	devicev1 "github.com/otaplane/ota/proto/device/v1"
	"github.com/otaplane/ota/proto/manifest"
	"go.uber.org/zap"
)

// Error codes carried in Report.error_code; a refused manifest carries one of
// proto/manifest's codes.
const (
	ErrCodeExpired            = "expired"
	ErrCodeHardwareMismatch   = manifest.CodeHardwareMismatch
	ErrCodeImageMismatch      = "image_mismatch"
	ErrCodeDownloadFailed     = "download_failed"
	ErrCodeInstallFailed      = "install_failed"
	ErrCodeAlreadyInstalled   = "already_installed"
	ErrCodeInvalidCommand     = "invalid_command"
	ErrCodeUnsupportedCommand = "unsupported_command"
)

// fallbackDelay is how long a BehaviorSlotFallback device runs a new image before its
// bootloader reverts.
const fallbackDelay = time.Second

// drain processes a device's queued commands one at a time, then exits so an idle
// device holds no goroutine.
func (f *Fleet) drain(d *device) {
	for {
		d.mu.Lock()
		d.active = nil
		if len(d.queue) == 0 || f.ctx.Err() != nil {
			d.queue = nil
			d.busy = false
			d.mu.Unlock()
			return
		}
		cmd := d.queue[0]
		d.queue[0] = nil
		d.queue = d.queue[1:]
		ctx, cancel := f.ctx, context.CancelFunc(func() {})
		if cmd.GetType() == devicev1.CommandType_COMMAND_TYPE_UPDATE {
			// Registered under the same lock as the dequeue, so a CANCEL finds the
			// update either queued or active, never in between.
			ctx, cancel = context.WithCancel(f.ctx)
			d.active = &activeUpdate{commandID: cmd.GetCommandId(), cancel: cancel}
		}
		d.mu.Unlock()

		r := &run{f: f, d: d, cmd: cmd, ctx: ctx}
		r.process()
		cancel()
	}
}

// run carries out one command. Its context ends when the command is canceled or the
// fleet stops; from then on it publishes nothing.
type run struct {
	f   *Fleet
	d   *device
	cmd *devicev1.Command
	ctx context.Context
}

func (r *run) process() {
	if exp := r.cmd.GetExpiresAtMs(); exp != 0 && time.Now().UnixMilli() > exp {
		r.reject(ErrCodeExpired, fmt.Sprintf("command expired at %s", time.UnixMilli(exp).UTC().Format(time.RFC3339)))
		return
	}
	switch r.cmd.GetType() {
	case devicev1.CommandType_COMMAND_TYPE_UPDATE:
		r.update()
	case devicev1.CommandType_COMMAND_TYPE_ROLLBACK:
		r.rollback()
	default:
		r.reject(ErrCodeUnsupportedCommand, fmt.Sprintf("command type %v not supported", r.cmd.GetType()))
	}
}

func (r *run) update() {
	fw := r.cmd.GetFirmware()
	if fw.GetUrl() == "" || fw.GetSha256() == "" || fw.GetVersion() == "" {
		r.reject(ErrCodeInvalidCommand, "update without firmware version, url or sha256")
		return
	}
	// Everything below acts on the signed values only: the command's own firmware fields
	// are trusted for nothing but the download URL.
	m, err := manifest.VerifyUpdate(r.f.cfg.Trust, r.self(), r.cmd, time.Now())
	if err != nil {
		var refused *manifest.Refusal
		if !errors.As(err, &refused) {
			refused = &manifest.Refusal{Code: ErrCodeInvalidCommand, Reason: err.Error()}
		}
		r.reject(refused.Code, refused.Reason)
		return
	}
	if r.runsAlready(m) {
		// Nothing to install: confirm what runs, tied to this command.
		if r.step(devicev1.ReportStatus_REPORT_STATUS_ACCEPTED, 0) {
			r.installed(m, "")
		}
		return
	}
	if !r.step(devicev1.ReportStatus_REPORT_STATUS_ACCEPTED, 0) ||
		!r.step(devicev1.ReportStatus_REPORT_STATUS_DOWNLOADING, 0) {
		return
	}

	sum, size, err := r.f.download(r.ctx, fw.GetUrl(), m.GetSizeBytes(), r.behavior() == BehaviorBadChecksum)
	if r.ctx.Err() != nil {
		return
	}
	if err != nil {
		r.fail(ErrCodeDownloadFailed, err.Error())
		return
	}
	if !r.step(devicev1.ReportStatus_REPORT_STATUS_DOWNLOADING, 100) {
		return
	}
	switch {
	case size != m.GetSizeBytes():
		r.fail(ErrCodeImageMismatch, fmt.Sprintf("downloaded %d bytes (reading stops one past the signed size), "+
			"the manifest signs %d", size, m.GetSizeBytes()))
		return
	case sum != m.GetSha256():
		r.fail(ErrCodeImageMismatch, fmt.Sprintf("sha256 %s, the manifest signs %s", sum, m.GetSha256()))
		return
	}
	if !r.step(devicev1.ReportStatus_REPORT_STATUS_DOWNLOADED, 0) ||
		!r.step(devicev1.ReportStatus_REPORT_STATUS_INSTALLING, 0) {
		return
	}
	if r.behavior() == BehaviorInstallFailure {
		r.fail(ErrCodeInstallFailed, "simulated install failure")
		return
	}

	r.installed(m, sum)
}

// self is what the device knows of itself to check a manifest.
func (r *run) self() manifest.Device {
	r.d.mu.Lock()
	defer r.d.mu.Unlock()
	return manifest.Device{ID: r.d.id, HardwareModel: r.d.model, Version: r.d.version, ImageSHA256: r.d.imageSHA,
		ReleaseCounter: r.d.counter}
}

// runsAlready reports whether the device runs exactly the image a manifest names.
func (r *run) runsAlready(m *devicev1.Manifest) bool {
	r.d.mu.Lock()
	defer r.d.mu.Unlock()
	return r.d.imageSHA != "" && m.GetVersion() == r.d.version && strings.EqualFold(m.GetSha256(), r.d.imageSHA)
}

// installed switches to the manifest's image, whose hash is sum (a reboot into the new
// slot), and reports INSTALLED; an empty sum confirms the image already running.
func (r *run) installed(m *devicev1.Manifest, sum string) {
	d := r.d
	d.mu.Lock()
	if r.ctx.Err() != nil {
		// Canceled between the last step and here; the CANCEL already answered.
		d.mu.Unlock()
		return
	}
	now := time.Now()
	if sum != "" {
		d.previous, d.previousSHA = d.version, d.imageSHA
		d.version, d.imageSHA = m.GetVersion(), sum
		d.counter = max(d.counter, m.GetReleaseCounter())
		d.reboot(now)
		switch d.behavior {
		case BehaviorBootLoop:
			d.looping = true
		case BehaviorSlotFallback:
			r.f.spawn(func() { r.f.fallBack(d, m.GetVersion()) })
		}
	}
	d.installed.add(r.cmd.GetCommandId())
	tok := r.f.publishLocked(d, &devicev1.Report{
		CommandId:       r.cmd.GetCommandId(),
		Status:          devicev1.ReportStatus_REPORT_STATUS_INSTALLED,
		FirmwareVersion: d.version,
		ImageSha256:     d.imageSHA,
		BootCount:       d.boots,
	})
	d.mu.Unlock()
	r.f.log.Debug("update installed", zap.String("device", d.id), zap.String("version", m.GetVersion()))
	r.f.await(d.id, tok)
}

// fallBack is an A/B bootloader giving up on a new image: shortly after the install it
// boots the previous slot again.
func (f *Fleet) fallBack(d *device, version string) {
	t := time.NewTimer(fallbackDelay)
	defer t.Stop()
	select {
	case <-f.ctx.Done():
		return
	case <-t.C:
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.version != version {
		return
	}
	d.version, d.previous = d.previous, d.version
	d.imageSHA, d.previousSHA = d.previousSHA, d.imageSHA
	d.reboot(time.Now())
	f.log.Debug("bootloader fell back to the previous slot", zap.String("device", d.id), zap.String("version", d.version))
}

func (r *run) rollback() {
	if !r.step(devicev1.ReportStatus_REPORT_STATUS_ACCEPTED, 0) {
		return
	}
	d := r.d
	d.mu.Lock()
	target := r.cmd.GetRollbackVersion()
	if target == "" {
		target = d.previous
	}
	if target != "" && target != d.version {
		sha := ""
		if target == d.previous {
			sha = d.previousSHA
		}
		d.previous, d.previousSHA = d.version, d.imageSHA
		d.version, d.imageSHA = target, sha
		d.reboot(time.Now())
		d.looping = false
	}
	tok := r.f.publishLocked(d, &devicev1.Report{
		CommandId:       r.cmd.GetCommandId(),
		Status:          devicev1.ReportStatus_REPORT_STATUS_ROLLED_BACK,
		FirmwareVersion: d.version,
		ImageSha256:     d.imageSHA,
	})
	d.mu.Unlock()
	r.f.await(d.id, tok)
}

// cancelLocked answers a CANCEL. The CANCELED report carries the canceled update's
// command_id, since that is the command whose outcome it is; a refusal carries the
// CANCEL's own id. Callers hold d.mu.
func (f *Fleet) cancelLocked(d *device, cmd *devicev1.Command) mqtt.Token {
	target := cmd.GetCancelsCommandId()
	refuse := func(code, msg string) mqtt.Token {
		return f.publishLocked(d, &devicev1.Report{
			CommandId:    cmd.GetCommandId(),
			Status:       devicev1.ReportStatus_REPORT_STATUS_REJECTED,
			ErrorCode:    code,
			ErrorMessage: msg,
		})
	}
	if exp := cmd.GetExpiresAtMs(); exp != 0 && time.Now().UnixMilli() > exp {
		return refuse(ErrCodeExpired, "cancel expired")
	}
	switch {
	case target == "":
		return refuse(ErrCodeInvalidCommand, "cancel without cancels_command_id")
	case d.installed.has(target):
		return refuse(ErrCodeAlreadyInstalled, fmt.Sprintf("update %s is already installed", target))
	case d.active != nil && d.active.commandID == target:
		d.active.cancel()
	case d.removeQueued(target):
	default:
		// Not seen yet (or ended without installing): make sure it never runs.
		d.canceled.add(target)
	}
	return f.publishLocked(d, &devicev1.Report{
		CommandId: target,
		Status:    devicev1.ReportStatus_REPORT_STATUS_CANCELED,
	})
}

func (r *run) behavior() Behavior {
	r.d.mu.Lock()
	defer r.d.mu.Unlock()
	return r.d.behavior
}

// report publishes rep for this command unless the run has ended; false means stop.
func (r *run) report(rep *devicev1.Report) bool {
	r.d.mu.Lock()
	if r.ctx.Err() != nil {
		r.d.mu.Unlock()
		return false
	}
	rep.CommandId = r.cmd.GetCommandId()
	tok := r.f.publishLocked(r.d, rep)
	r.d.mu.Unlock()
	r.f.await(r.d.id, tok)
	return true
}

// step sends an intermediate report (when progress reports are on), then pauses
// for StepDelay; false means the run ended.
func (r *run) step(status devicev1.ReportStatus, progress int32) bool {
	if r.f.cfg.ProgressReports && !r.report(&devicev1.Report{Status: status, ProgressPercent: progress}) {
		return false
	}
	if r.f.cfg.StepDelay <= 0 {
		return r.ctx.Err() == nil
	}
	t := time.NewTimer(r.f.cfg.StepDelay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.ctx.Done():
		return false
	}
}

func (r *run) fail(code, msg string) {
	r.report(&devicev1.Report{Status: devicev1.ReportStatus_REPORT_STATUS_FAILED, ErrorCode: code, ErrorMessage: msg})
}

func (r *run) reject(code, msg string) {
	r.report(&devicev1.Report{Status: devicev1.ReportStatus_REPORT_STATUS_REJECTED, ErrorCode: code, ErrorMessage: msg})
}

// download fetches an image and returns its hex SHA-256 and length. It reads at most
// one byte past the signed size, enough to tell an oversized image: a server cannot feed
// it endless data. The URL is pre-signed, so no credentials are sent. A transfer that
// breaks, or a server that is briefly unavailable, is retried with backoff and resumed
// where it stopped (Range), as a real device does over a flaky link; a refusal (4xx) is
// final. corrupt simulates a damaged transfer.
func (f *Fleet) download(ctx context.Context, url string, signedSize int64, corrupt bool) (string, int64, error) {
	limit := signedSize + 1
	h := sha256.New()
	var n int64
	backoff := downloadFirstRetry
	for attempt := 1; ; attempt++ {
		got, err := f.fetch(ctx, url, n, limit-n, h)
		n += got
		if err == nil {
			break
		}
		var refused *httpStatusError
		if errors.As(err, &refused) && refused.code < 500 && refused.code != http.StatusTooManyRequests ||
			attempt >= downloadAttempts || ctx.Err() != nil {
			return "", n, err
		}
		f.log.Debug("download interrupted; retrying", zap.String("url", url), zap.Int64("bytes", n), zap.Error(err))
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", n, ctx.Err()
		case <-t.C:
		}
		backoff *= 2
	}
	if corrupt {
		h.Write([]byte{0xff})
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// Download retries: 1 s, 2 s, 4 s, 8 s, 16 s apart — half a minute of trying.
const (
	downloadAttempts   = 6
	downloadFirstRetry = time.Second
)

type httpStatusError struct{ code int }

func (e *httpStatusError) Error() string { return fmt.Sprintf("get image: HTTP %d", e.code) }

// fetch reads the image from offset into h, at most max bytes, and returns how many it
// read. A server that ignores the Range sends the whole image again: h starts over.
func (f *Fleet) fetch(ctx context.Context, url string, offset, max int64, h hash.Hash) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, fmt.Errorf("build request: %w", err)
	}
	if offset > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	resp, err := f.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("get image: %w", err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusPartialContent && offset > 0:
	case resp.StatusCode == http.StatusOK:
		if offset > 0 {
			h.Reset()
			return f.copyFrom(resp, h, max+offset, -offset)
		}
	default:
		return 0, &httpStatusError{code: resp.StatusCode}
	}
	return f.copyFrom(resp, h, max, 0)
}

// copyFrom hashes up to max bytes of the body; base corrects the count when the
// transfer restarted from zero.
func (f *Fleet) copyFrom(resp *http.Response, h hash.Hash, max, base int64) (int64, error) {
	n, err := io.Copy(h, io.LimitReader(resp.Body, max))
	if err != nil {
		return base + n, fmt.Errorf("read image: %w", err)
	}
	return base + n, nil
}
