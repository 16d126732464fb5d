package runtime

import (
	"os/signal"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// handlerOf is the current action of sig: sigDFL, sigIGN or a handler.
func handlerOf(t *testing.T, sig syscall.Signal) uintptr {
	t.Helper()
	var old sigaction
	if _, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), 0, uintptr(unsafe.Pointer(&old)), sigsetSz, 0, 0); e != 0 {
		t.Fatalf("rt_sigaction %v: %v", sig, e)
	}
	return old.handler
}

// cleanSignals gives ignored signals their default action back, and leaves
// the ones Go handles alone.
func TestCleanSignalsUnignores(t *testing.T) {
	ignored := []syscall.Signal{syscall.SIGUSR2, syscall.SIGTTIN, syscall.SIGXFSZ}
	for _, s := range ignored {
		signal.Ignore(s)
		defer signal.Reset(s)
	}
	for _, s := range ignored {
		if h := handlerOf(t, s); h != sigIGN {
			t.Fatalf("%v: action %#x after signal.Ignore, want SIG_IGN", s, h)
		}
	}
	cleanSignals()
	for _, s := range ignored {
		if h := handlerOf(t, s); h != sigDFL {
			t.Errorf("%v: action %#x after cleanSignals, want SIG_DFL", s, h)
		}
	}
	if h := handlerOf(t, syscall.SIGURG); h == sigDFL || h == sigIGN {
		t.Errorf("SIGURG: action %#x after cleanSignals, want Go's handler", h)
	}
}

// The reaper passes on what a process may catch and is not its own.
func TestForwardedSignals(t *testing.T) {
	got := map[syscall.Signal]bool{}
	for _, s := range forwarded() {
		got[s.(syscall.Signal)] = true
	}
	for _, s := range []syscall.Signal{syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH, syscall.SIGCONT, syscall.SIGTSTP, syscall.SIGPIPE, syscall.Signal(35), syscall.Signal(64)} {
		if !got[s] {
			t.Errorf("%v is not passed on", s)
		}
	}
	for _, s := range []syscall.Signal{syscall.SIGKILL, syscall.SIGSTOP, syscall.SIGCHLD, syscall.SIGTTIN, syscall.SIGTTOU, syscall.Signal(32), syscall.Signal(33), syscall.Signal(34)} {
		if got[s] {
			t.Errorf("%v is passed on", s)
		}
	}
}
