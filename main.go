// Command berth is a daemonless container workstation: a docker-compatible
// command line (and, later, a terminal UI) over an in-process engine.
package main

import (
	"os"

	"berth/cli"
	"berth/containers/monitor"
	"berth/containers/runtime"
)

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
	os.Exit(cli.Main(os.Args[1:]))
}
