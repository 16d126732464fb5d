// Package reexec holds the hidden entry points berth re-executes itself
// as: a container's monitor here, and its init stage, which starts even
// earlier, from containers/runtime's package initialisation (see
// containers/runtime/entry.go). berth's main runs Run first, and so does
// every test binary whose tests start containers (the engine re-executes
// os.Executable, which there is the test binary).
package reexec

import (
	"fmt"
	"os"
	goruntime "runtime"
	"testing"

	"golang.org/x/sys/unix"

	"berth/containers/monitor"
	"berth/internal/trace"
)

// The main goroutine keeps the main thread, in berth and in the test
// binaries alike. Some work runs on a thread of its own that joins a
// container's namespaces and is never handed back (exec, cp): that thread
// must not be the main one, which Go cannot end, or the whole process
// would stay seen as inside the container. (Package init runs on the main
// goroutine, and everything that starts containers imports this package.)
func init() { goruntime.LockOSThread() }

// Run runs the monitor when os.Args names it, and exits; it returns at
// once otherwise. Keep it first in main: a monitor must start before
// anything else runs.
func Run() {
	// Descriptors whoever started berth left open without close-on-exec
	// (a shell's, a test's, a directory on /) must never reach a container
	// or a monitor: berth passes on only the descriptors it names.
	_ = unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	if len(os.Args) >= 2 && os.Args[1] == "monitor" {
		trace.Mark("monitor: main")
		code := monitor.Main(os.Args[2:])
		trace.Mark("monitor: end")
		os.Exit(code)
	}
	trace.Mark("cli: main")
}

// TestMain is a TestMain for packages whose tests run real containers:
// the binary doubles as init and monitor, and the tests need root.
func TestMain(m *testing.M, pkg string) {
	Run()
	if os.Geteuid() != 0 {
		fmt.Fprintf(os.Stderr, "the %s tests run real containers: run them as root\n", pkg)
		os.Exit(1)
	}
	os.Exit(m.Run())
}
