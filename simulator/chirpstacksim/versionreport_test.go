package chirpstacksim

import (
	"context"
	"testing"
	"time"

	"github.com/chirpstack/chirpstack/api/go/v4/api"
	"github.com/chirpstack/chirpstack/api/go/v4/integration"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
)

// A device reports its initial version until a deployment tags it with a new one, then
// that one, first right after the deployment.
func TestReportVersions(t *testing.T) {
	r := newUplinkRig(t)
	srv, c, ctx, fx, eui, events := r.srv, r.c, r.ctx, r.fx, r.eui, r.ups
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	go srv.ReportVersions(rctx, 10, time.Hour, "1.0.0")

	version := func() string {
		var up integration.UplinkEvent
		require.NoError(t, protojson.Unmarshal(receive(t, events), &up))
		assert.EqualValues(t, 10, up.GetFPort())
		return string(up.GetData())
	}
	assert.Equal(t, "1.0.0", version(), "the first report, before any deployment")

	dep := testDeployment(fx)
	dep.OnCompleteSetDeviceTags = map[string]string{VersionTag: "2.0.0"}
	id := createDeployment(t, ctx, c, dep, eui)
	_, err := c.fuota.StartDeployment(ctx, &api.StartFuotaDeploymentRequest{Id: id})
	require.NoError(t, err)
	assert.Equal(t, "2.0.0", version(), "after the deployment, without waiting for the hourly report")
}
