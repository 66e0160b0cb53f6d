// Command ota-worker runs the OTA workflows and the activities that talk to devices.
package main

import (
	"github.com/otaplane/ota/pkg/config"
	"github.com/otaplane/ota/pkg/startup"
	"github.com/otaplane/ota/worker/app"
)

func main() {
	cfg, log := startup.Load("ota-worker", (*config.Config).ValidateWorker)
	ctx, stop := startup.SignalContext()
	defer stop()
	startup.Exit(log, app.Run(ctx, cfg, log))
}
