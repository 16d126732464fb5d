package runtime

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"berth/containers/seccomp"
	"berth/internal/memtrim"
	"berth/internal/trace"
)

// reaper is the init stage under --init. Instead of executing the user's
// program it forks it and stays the container's PID 1, the part Docker
// gives tini and Podman catatonit, with no binary of its own in the
// container: it is the stage already running, from the sealed view of
// berth's binary and non-dumpable. It
//
//   - first takes the user's process's limits, identity, capabilities and
//     seccomp filter on every one of its threads, so that nothing in the
//     container gains anything by reaching it (ptrace with SYS_PTRACE);
//   - forks the program into a process group of its own, the terminal's
//     foreground group when there is one: ^C reaches the program, not
//     PID 1 as well;
//   - passes every signal it gets on to the program, as tini does by
//     default, but SIGCHLD, which is its own, and the terminal's SIGTTIN
//     and SIGTTOU, which concern PID 1 only;
//   - reaps every child: the program, and each orphan the kernel gives to
//     PID 1;
//   - exits when the program has, with its status: its exit code, or
//     128+n for a death by signal n (the kernel ends the rest).
//
// It returns only by failing, through fail.
func reaper(spec *specs.Spec, path string, filter *seccomp.Program, caught *caughtSignals, status *os.File, fail func(int, error)) {
	p := spec.Process
	if err := finalizeProcess(spec, filter, allThreads); err != nil {
		fail(ExitEngine, err)
	}
	filter = nil
	// A user other than root keeps, past the program's execve, only its
	// ambient capabilities: so will PID 1.
	var keepCaps *uint64
	if p.User.UID != 0 {
		ambient, err := ambientCaps(p)
		if err != nil {
			fail(ExitEngine, err)
		}
		keepCaps = &ambient
	}
	// A change of credentials may have made the process dumpable again
	// (fs.suid_dumpable): it must stay out of the container's reach.
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	// Its name in the container's ps: "berth init", not that of the path
	// it was executed by.
	name := []byte("berth\x00")
	unix.RawSyscall(unix.SYS_PRCTL, unix.PR_SET_NAME, uintptr(unsafe.Pointer(&name[0])), 0)

	// Sharing another container's PID namespace (--pid container:, host),
	// it is not PID 1 there: it takes the orphans of its command's
	// processes as a subreaper, as catatonit does.
	if os.Getpid() != 1 {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			fail(ExitEngine, fmt.Errorf("init: become a subreaper: %w", err))
		}
	}
	// Every signal is caught before the fork: one that comes before the
	// loop waits in its channel.
	<-caught.ready

	// Read now, while nothing of the container's runs: the trim below must
	// not go by a /proc the program could have mounted over.
	exe := memtrim.ExecutableMappings()
	attr := &syscall.ProcAttr{
		Env:   p.Env,
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Setpgid: true, Foreground: p.Terminal, Ctty: 0},
	}
	trace.Mark("init: fork")
	child, err := syscall.ForkExec(path, p.Args, attr)
	if err != nil {
		code := ExitCannotExec
		if errors.Is(err, unix.ENOENT) {
			code = ExitNotFound
		}
		fail(code, fmt.Errorf("exec %q: %w", p.Args[0], err))
	}
	status.Close() // started: the monitor's Go returns
	spec, p, attr = nil, nil, nil
	trace.Mark("init: forked")
	if keepCaps != nil {
		if err := keepOnly(*keepCaps); err != nil {
			fmt.Fprintln(os.Stderr, "berth init:", err)
			os.Exit(ExitEngine)
		}
	}
	// The stage ran without a collector; a PID 1 lives as long as its
	// container, and needs little of what starting it took: it gives that
	// back once the command has run a while, as the monitor does, not on
	// the way of a command that ends at once.
	debug.SetGCPercent(100)
	trim := time.NewTimer(trimAfter)
	for {
		select {
		case <-caught.chld:
			if code, done := reapAll(child); done {
				trace.Mark("init: reaped")
				os.Exit(code)
			}
		case s := <-caught.sigs:
			_ = unix.Kill(child, s.(syscall.Signal))
		case <-trim.C:
			debug.FreeOSMemory()
			memtrim.Drop(exe)
		}
	}
}

// trimAfter is how long the command runs before PID 1 trims itself.
const trimAfter = 300 * time.Millisecond

// caughtSignals are the channels of the signals the reaper gets: SIGCHLD
// (one pending is enough: reapAll takes every child that has ended), and
// those it passes on.
type caughtSignals struct {
	chld, sigs chan os.Signal
	ready      chan struct{} // closed once every one is caught
}

// catchSignals starts catching them, in a goroutine of its own. Caught, a
// signal no longer has Go's default action (SIGTERM would end PID 1), and
// Go's fork gives the command the default action of each.
func catchSignals() *caughtSignals {
	c := &caughtSignals{chld: make(chan os.Signal, 1), sigs: make(chan os.Signal, 64), ready: make(chan struct{})}
	go func() {
		signal.Notify(c.chld, unix.SIGCHLD)
		signal.Notify(c.sigs, forwarded()...)
		close(c.ready)
	}()
	return c
}

// ambientCaps are the process's ambient capabilities that berth holds.
func ambientCaps(p *specs.Process) (uint64, error) {
	var ambient uint64
	if p.Capabilities != nil {
		var err error
		if ambient, err = capMask(p.Capabilities.Ambient); err != nil {
			return 0, err
		}
	}
	have, err := permittedNow()
	if err != nil {
		return 0, err
	}
	return ambient & have, nil
}

// keepOnly makes caps the effective and permitted capabilities of every
// thread.
func keepOnly(caps uint64) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	data[0].Effective, data[1].Effective = uint32(caps), uint32(caps>>32)
	data[0].Permitted, data[1].Permitted = uint32(caps), uint32(caps>>32)
	if err := allThreads.capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("drop capabilities: %w", err)
	}
	return nil
}

// forwarded lists the signals the reaper passes on: every one a process
// can catch, but SIGCHLD, SIGTTIN and SIGTTOU, and 32 to 34, which the C
// library and Go's runtime keep for themselves.
func forwarded() []os.Signal {
	var out []os.Signal
	for n := 1; n <= nsig; n++ {
		switch s := syscall.Signal(n); {
		case s == unix.SIGKILL, s == unix.SIGSTOP, s == unix.SIGCHLD, s == unix.SIGTTIN, s == unix.SIGTTOU:
		case n >= 32 && n <= 34:
		default:
			out = append(out, s)
		}
	}
	return out
}

// reapAll waits for every child that has ended, without blocking; done
// tells whether one was the program, and code is then its status as a
// shell gives it.
func reapAll(program int) (code int, done bool) {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil || pid <= 0 {
			return code, done
		}
		if pid != program {
			continue
		}
		done = true
		switch {
		case ws.Exited():
			code = ws.ExitStatus()
		case ws.Signaled():
			code = 128 + int(ws.Signal())
		}
	}
}
