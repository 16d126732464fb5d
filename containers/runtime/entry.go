package runtime

import (
	"os"

	"berth/internal/trace"
)

// The init stage (`berth init`) starts from this package's initialisation,
// not from main. Go initialises a package as soon as the packages it
// imports are, so the stage runs before most of the binary's other
// packages (the UI's, the registry client's, the builder's) have been
// initialised: they cost a stage 0.7 ms of its start-up, on every
// container's start path (GODEBUG=inittrace=1 counts 120 package inits
// instead of 174). runc's nsenter runs before its Go runtime for a like
// reason. During initialisation the main goroutine holds the main thread,
// as Init wants.
func init() {
	if len(os.Args) >= 2 && os.Args[1] == "init" {
		trace.Mark("init: main")
		cleanSignals()
		Init()
		os.Exit(ExitEngine)
	}
}
