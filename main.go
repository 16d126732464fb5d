// Command berth is a daemonless container workstation: a terminal UI and a
// docker-compatible command line over one in-process engine.
package main

import (
	"context"
	"os"
	goruntime "runtime"

	"berth/cli"
	"berth/containers/monitor"
	"berth/containers/runtime"
	"berth/engine"
	"berth/ui"
)

// The main goroutine keeps the main thread. Some work runs on a thread of
// its own that joins a container's namespaces and is never handed back
// (exec, cp): that thread must not be the main one, which Go cannot end,
// or the whole process would stay seen as inside the container.
func init() { goruntime.LockOSThread() }

func main() {
	if len(os.Args) > 1 {
		// Hidden re-exec entry points: keep them first and short.
		switch os.Args[1] {
		case "init":
			runtime.Init()
			os.Exit(runtime.ExitEngine)
		case "monitor":
			os.Exit(monitor.Main(os.Args[2:]))
		}
	}
	os.Exit(cli.Main(os.Args[1:], openUI))
}

// openUI opens the terminal UI; its run form parses with the CLI's own
// `run` flags.
func openUI(ctx context.Context, e *engine.Engine, noColor bool) error {
	return ui.Run(ctx, e, ui.Options{ParseRun: cli.ParseRunArgs, NoColor: noColor})
}
