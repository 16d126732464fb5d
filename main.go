// Command berth is a daemonless container workstation: a terminal UI and a
// docker-compatible command line over one in-process engine.
package main

import (
	"context"
	"os"

	"berth/cli"
	"berth/engine"
	"berth/internal/reexec"
	"berth/internal/trace"
	"berth/ui"
)

func main() {
	reexec.Run() // the hidden init and monitor entry points: first and short
	code := cli.Main(os.Args[1:], openUI)
	trace.Mark("cli: end")
	os.Exit(code)
}

// openUI opens the terminal UI; its run form parses with the CLI's own
// `run` flags.
func openUI(ctx context.Context, e *engine.Engine, noColor bool) error {
	return ui.Run(ctx, e, ui.Options{ParseRun: cli.ParseRunArgs, NoColor: noColor})
}
