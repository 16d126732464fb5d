package ui

import (
	"fmt"
	"os"
	goruntime "runtime"
	"testing"

	"berth/containers/monitor"
	"berth/containers/runtime"
)

// As berth's main does: keep the main thread out of the threads that join
// containers' namespaces.
func init() { goruntime.LockOSThread() }

// The test binary doubles as berth's monitor and init: the engine
// re-executes itself for both.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "init":
			runtime.Init()
			os.Exit(runtime.ExitEngine)
		case "monitor":
			os.Exit(monitor.Main(os.Args[2:]))
		}
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "the UI tests run real containers: run them as root")
		os.Exit(1)
	}
	os.Exit(m.Run())
}
