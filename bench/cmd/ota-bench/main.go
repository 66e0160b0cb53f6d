// Command ota-bench benchmarks the OTA control plane on the real stack (see
// scripts/bench.sh and `make bench`).
package main

import (
	"github.com/otaplane/ota/bench/internal/command"
	"github.com/otaplane/ota/bench/internal/suite"
)

func main() { command.Main("ota-bench", suite.ParseFlags, suite.Run) }
