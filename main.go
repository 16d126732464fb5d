// Command berth is a daemonless container workstation: a terminal UI and a
// docker-compatible command line over one in-process engine.
package main

import (
	"context"
	"os"

	"berth/cli"
	"berth/engine"
	"berth/internal/reexec"
	"berth/ui"
)

func main() {
	reexec.Run() // the hidden init and monitor entry points: first and short
	os.Exit(cli.Main(os.Args[1:], openUI))
}

// openUI opens the terminal UI; its run form parses with the CLI's own
// `run` flags.
func openUI(ctx context.Context, e *engine.Engine, noColor bool) error {
	return ui.Run(ctx, e, ui.Options{ParseRun: cli.ParseRunArgs, NoColor: noColor})
}
