package devicesim

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestEndlessImageStopsAtTheSignedSize: a server that never stops sending gets one byte
// past the signed size read, and the update fails image_mismatch.
func TestEndlessImageStopsAtTheSignedSize(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{}, spec("d1", BehaviorNormal))
	fw := e.fw.firmware("/fw/2.0.0.bin", "2.0.0")
	fw.Url = e.fw.URL + "/fw/endless"
	cmd := updateCmd(t, fw)
	e.obs.send("d1", cmd)
	got := last(e.obs.waitFinal("d1", cmd.GetCommandId()))
	assert.Equal(t, stFailed, got.GetStatus())
	assert.Equal(t, ErrCodeImageMismatch, got.GetErrorCode(), got.GetErrorMessage())
	assert.Contains(t, got.GetErrorMessage(), fmt.Sprintf("downloaded %d bytes", fw.GetSizeBytes()+1))
}

// TestSlowTransferIsCutOff: a transfer that trickles is cut by the device's download
// timeout instead of holding the update open; here the retry is refused, so it fails.
func TestSlowTransferIsCutOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{HTTPClient: &http.Client{Timeout: 300 * time.Millisecond}}, spec("d1", BehaviorNormal))
	fw := e.fw.firmware("/fw/2.0.0.bin", "2.0.0")
	fw.Url = e.fw.URL + "/fw/slow"
	cmd := updateCmd(t, fw)
	start := time.Now()
	e.obs.send("d1", cmd)
	got := last(e.obs.waitFinal("d1", cmd.GetCommandId()))
	assert.Equal(t, stFailed, got.GetStatus())
	assert.Equal(t, ErrCodeDownloadFailed, got.GetErrorCode(), got.GetErrorMessage())
	assert.Less(t, time.Since(start), 3*time.Second, "the slow transfer was cut, not waited out")
	assert.Equal(t, 2, e.fw.requestCount(), "one slow try, one refused retry")
}
