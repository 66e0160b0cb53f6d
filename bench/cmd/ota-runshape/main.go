// Command ota-runshape measures Cadence's cost per device run for a workflow per device
// and for several devices per workflow (see scripts/bench-runshape.sh and
// `make bench-runshape`).
package main

import (
	"github.com/otaplane/ota/bench/internal/command"
	"github.com/otaplane/ota/bench/internal/runshape"
)

func main() { command.Main("ota-runshape", runshape.ParseFlags, runshape.Run) }
