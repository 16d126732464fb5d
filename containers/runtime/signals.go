package runtime

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A process inherits the signals its parent ignores and the ones it
// blocks, across fork and execve. berth's monitor ignores SIGHUP, SIGINT
// and the terminal's stop signals (it must outlive the terminal), and berth
// may be started with some signals blocked or ignored (nohup, a service
// manager): none of that may reach a container's processes, which start
// with every signal at its default and none blocked, as Docker's do. The
// init stage makes it so as it starts (cleanSignals): then its execve of
// the user's program, and each fork it makes for an exec or under --init,
// passes on a clean slate.

// sigaction is the kernel's struct sigaction. Only the handler is read,
// and the one written is all zeros (SIG_DFL, no flags, no mask), which
// reads the same whatever the architecture's field order.
type sigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

const (
	sigDFL   = 0
	sigIGN   = 1
	nsig     = 64
	sigsetSz = 8 // the kernel's sigset_t, in bytes
)

// cleanSignals gives every ignored signal back its default action and,
// when this process started with signals blocked, starts it again with
// none: Go's forks hand their children the mask the process started with,
// not the thread's current one, so clearing it now would not reach them.
// It runs first in the stage, before anything of the container's exists.
func cleanSignals() {
	var dfl sigaction
	for sig := 1; sig <= nsig; sig++ {
		if sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) {
			continue
		}
		var old sigaction
		if _, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), 0, uintptr(unsafe.Pointer(&old)), sigsetSz, 0, 0); e != 0 {
			continue
		}
		if old.handler == sigIGN {
			unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&dfl)), 0, sigsetSz, 0, 0)
		}
	}
	var blocked uint64
	if _, _, e := unix.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_BLOCK, 0, uintptr(unsafe.Pointer(&blocked)), sigsetSz, 0, 0); e != 0 || blocked == 0 {
		return
	}
	// Rare (berth itself was started with signals blocked): execute this
	// binary again, the sealed view it runs from, with none blocked. The
	// descriptors the stage was given stay open across execve.
	// Should execve fail, the stage goes on: its own execve of the user's
	// program clears the mask anyway (Init).
	unblockAll()
	_ = unix.Exec("/proc/self/exe", os.Args, os.Environ())
}

// unblockAll empties the calling thread's signal mask.
func unblockAll() {
	var none uint64
	unix.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&none)), 0, sigsetSz, 0, 0)
}
