package engine

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"berth/containers/monitor"
	"berth/containers/runtime"
	"berth/internal/trace"
)

// launched is a monitor process just started: the socket of its first
// client, the one that starts the container.
type launched struct {
	conn net.Conn
}

// early holds the monitors launched by Create for a Start that follows at
// once (run): a monitor's own start-up, a few milliseconds of Go runtime
// and package set-up, then overlaps the writing of the record instead of
// following it.
type early struct {
	mu    sync.Mutex
	m     map[string]*launched
	spare *launched // launched by New (Options.StartSoon), for Create
}

// launchEarly starts a monitor that waits for its container (see
// monitor.Assign); nil if it could not, and Start then launches one.
func launchEarly(root string) *launched {
	l, err := launchMonitor(root, "", nil)
	if err != nil {
		return nil
	}
	return l
}

// takeSpare returns the monitor New launched, or launches one.
func (e *Engine) takeSpare() *launched {
	e.early.mu.Lock()
	l := e.early.spare
	e.early.spare = nil
	e.early.mu.Unlock()
	if l != nil {
		return l
	}
	return launchEarly(e.root)
}

// keepEarly hands l to the Start of container id.
func (e *Engine) keepEarly(id string, l *launched) {
	e.early.mu.Lock()
	defer e.early.mu.Unlock()
	if e.early.m == nil {
		e.early.m = map[string]*launched{}
	}
	e.early.m[id] = l
}

// takeEarly returns the monitor launched for container id, if any, told
// which container is its own.
func (e *Engine) takeEarly(id string) *launched {
	e.early.mu.Lock()
	l := e.early.m[id]
	delete(e.early.m, id)
	e.early.mu.Unlock()
	if l == nil {
		return nil
	}
	if err := monitor.Assign(l.conn, id); err != nil {
		l.conn.Close()
		return nil
	}
	return l
}

// startMonitor launches the monitor of container id.
func (e *Engine) startMonitor(id string) (*launched, error) {
	logf, err := os.OpenFile(filepath.Join(e.containers.Dir(id), monitor.LogFileName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	return launchMonitor(e.root, id, logf)
}

// dropEarly lets the monitor launched for a container that was never
// started go: it ends when its socket closes.
func (e *Engine) dropEarly(id string) {
	e.early.mu.Lock()
	l := e.early.m[id]
	delete(e.early.m, id)
	e.early.mu.Unlock()
	if l != nil {
		l.conn.Close()
	}
}

// launchMonitor starts the monitor of container id, its stderr going to
// logf; with id "", a monitor that learns its container from its first
// client (monitor.Assign) and opens its log then.
func launchMonitor(root, id string, logf *os.File) (*launched, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	ours := os.NewFile(uintptr(fds[0]), "monitor-client")
	theirs := os.NewFile(uintptr(fds[1]), "monitor-end")
	defer theirs.Close()
	conn, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		return nil, err
	}
	arg := monitor.PendingArg
	if id != "" {
		arg = id
	}
	// The monitor, and the init stages it re-executes, run from the sealed
	// view of this binary: a container never sees a writable berth.
	self, err := runtime.SealedSelf()
	if err != nil {
		conn.Close()
		return nil, err
	}
	cmd := &exec.Cmd{
		Path:        self,
		Args:        []string{"berth", "monitor", "--root", root, arg},
		Env:         trace.With("GOGC=50", "GOMAXPROCS=1"), // a monitor is small and mostly waits
		ExtraFiles:  []*os.File{theirs},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if logf != nil {
		cmd.Stderr = logf
	}
	trace.Mark("cli: monitor exec")
	if err := cmd.Start(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("start monitor: %w", err)
	}
	// Reap the monitor if we live longer than it (the UI); a CLI that exits
	// first hands it to init.
	go func() { _ = cmd.Wait() }()
	return &launched{conn: conn}, nil
}
