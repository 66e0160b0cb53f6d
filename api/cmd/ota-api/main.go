// Command ota-api is the HTTP gateway for fleet tools. `ota-api migrate` applies the
// database migrations and exits.
package main

import (
	"flag"
	"fmt"

	"github.com/otaplane/ota/api/gateway"
	"github.com/otaplane/ota/pkg/config"
	"github.com/otaplane/ota/pkg/startup"
)

func main() {
	cfg, log := startup.Load("ota-api", (*config.Config).ValidateAPI)
	ctx, stop := startup.SignalContext()
	defer stop()
	var err error
	switch flag.Arg(0) {
	case "migrate":
		err = gateway.Migrate(ctx, cfg, log)
	case "", "serve":
		err = gateway.Run(ctx, cfg, log, nil)
	default:
		err = fmt.Errorf("unknown command %q (want serve or migrate)", flag.Arg(0))
	}
	startup.Exit(log, err)
}
