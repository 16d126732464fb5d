package monitor

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"berth/containers"
	"berth/events"
)

// Main is the hidden `berth monitor --root DIR ID` entry point: it returns
// the process exit code.
func Main(args []string) int {
	if len(args) != 3 || args[0] != "--root" {
		fmt.Fprintln(os.Stderr, "usage: berth monitor --root DIR ID")
		return 2
	}
	// The monitor must outlive the terminal and the process that started it.
	signal.Ignore(syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGPIPE, syscall.SIGTTOU, syscall.SIGTTIN)
	store, err := containers.OpenStore(filepath.Join(args[1], "containers"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return Run(Options{Store: store, Events: events.Open(args[1]), ID: args[2]})
}
