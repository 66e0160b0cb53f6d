// Command ota-chaos runs the reliability benchmark on the real stack (see
// scripts/chaos.sh and `make chaos`).
package main

import (
	"github.com/otaplane/ota/bench/internal/chaos"
	"github.com/otaplane/ota/bench/internal/command"
)

func main() { command.Main("ota-chaos", chaos.ParseFlags, chaos.Run) }
