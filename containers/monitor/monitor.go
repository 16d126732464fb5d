// Package monitor is the small process that watches one running container
// (the role conmon plays for Podman): it starts the container's first
// process, holds its terminal or pipes, writes its log, serves attach
// clients and control requests (stop, kill, signal, resize, pause) on a unix
// socket, runs its health check (health.go), and records how it exited.
// Client is the engine's side of the control requests.
package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"berth/containers"
	"berth/containers/attach"
	"berth/containers/cgroups"
	"berth/containers/logfile"
	"berth/containers/runtime"
	"berth/events"
	"berth/internal/trace"
)

// FirstClientFD is the fd on which the process that launched the monitor
// passes its end of a socket pair: the first attached client, connected
// before the container starts so that it misses no output.
const FirstClientFD = 3

// LogName is the container's log file in its directory.
const LogName = "json.log"

// SocketName is the attach socket in the container's directory.
const SocketName = "attach.sock"

// Options configure a monitor.
type Options struct {
	Store  *containers.Store
	Events *events.Log // may be nil
	ID     string

	spawned *spawned // the init stage started on a Prepare, if any
}

type monitor struct {
	opts  Options
	c     *containers.Container
	dir   string
	log   *logfile.Writer
	logMu sync.Mutex

	mu      sync.Mutex
	clients map[*client]bool
	proc    *runtime.Process // the current run's, from when it runs the user's command until it has exited
	exited  chan struct{}    // closed when proc has exited
	cg      *cgroups.Cgroup  // of the current run
	spent   spent            // what the run that ended holds, until release
	seccomp []byte           // the compiled filter, made once for every (re)start
	prober  *prober          // the health check of the current run, while it runs unpaused

	stopping bool             // a user stopped or killed the container: no more restarts
	stopCh   chan struct{}    // closed when stopping is set: ends a back-off
	done     chan struct{}    // closed when the container has stopped for good
	final    containers.State // the state recorded last, once done is closed
	ended    []byte           // the Exit frame's body, once the last run's clients were told
	closing  bool             // the monitor is exiting: requests are no longer waited for
	ctl      sync.WaitGroup   // control requests being answered
	freezer  sync.Mutex       // one pause, unpause or thaw for a signal at a time

	stdin  *os.File     // pty master or the write end of the stdin pipe; nil without -i
	master *os.File     // with -t
	closed bool         // stdin closed
	size   *pty.Winsize // the terminal size the last client asked for
}

type client struct {
	conn  *attach.Conn
	raw   net.Conn
	hello attach.HelloMsg
}

// Run runs the monitor until the container exits, and returns the
// monitor's own exit code.
func Run(opts Options) int {
	if err := run(opts); err != nil {
		fmt.Fprintf(os.Stderr, "berth monitor %s: %v\n", containers.ShortID(opts.ID), err)
		return 1
	}
	return 0
}

func run(opts Options) error {
	s := opts.Store
	lockFD, err := unix.Open(s.MonitorLockPath(opts.ID), unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("open monitor lock: %w", err)
	}
	// The previous run's monitor may still be finishing (it records the
	// exit before it lets go): give it a moment.
	for i := 0; unix.Flock(lockFD, unix.LOCK_EX|unix.LOCK_NB) != nil; i++ {
		if i == 400 {
			return fmt.Errorf("container %s already has a monitor", containers.ShortID(opts.ID))
		}
		time.Sleep(5 * time.Millisecond)
	}
	// lockFD stays open (and locked) for the monitor's life.
	trace.Mark("monitor: locked")

	// Nothing calls the monitor's store work off: it is the container's one
	// writer, and outlives the client that started it.
	c, err := s.Get(context.Background(), opts.ID)
	if err != nil {
		return err
	}
	m := &monitor{opts: opts, c: c, dir: s.Dir(c.ID), clients: map[*client]bool{},
		stopCh: make(chan struct{}), done: make(chan struct{})}
	trace.Mark("monitor: record read")
	// The init stage starts first: its own start-up, the longest step
	// left, then overlaps the rest of the monitor's.
	next := m.begin()

	var first *client
	if f := os.NewFile(FirstClientFD, "first-client"); f != nil {
		if conn, err := net.FileConn(f); err == nil {
			first = m.handshake(conn)
		}
		f.Close()
	}

	trace.Mark("monitor: hello")
	ln, err := m.listen()
	if err != nil {
		next.abort()
		m.finish(m.failed(runtime.ExitEngine, err))
		return err
	}
	defer ln.Close()
	go m.serve(ln)
	trace.Mark("monitor: listening")
	m.lifecycle(first, next)
	// Stops waiting for the end have it now: let their replies go out
	// before the monitor exits.
	m.mu.Lock()
	m.closing = true
	m.mu.Unlock()
	m.ctl.Wait()
	return nil
}

// handshake reads a client's first frame: a hello registers an attach
// client; a control request makes a control client, which is never
// registered (it gets replies, no output) and whose request is answered.
func (m *monitor) handshake(conn net.Conn) *client {
	cl := &client{conn: attach.NewConn(conn), raw: conn}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	typ, p, err := cl.conn.ReadFrame(nil)
	_ = conn.SetReadDeadline(time.Time{})
	if err == nil && typ == attach.Request {
		m.request(cl, p)
		return cl
	}
	if err != nil || typ != attach.Hello || json.Unmarshal(p, &cl.hello) != nil {
		conn.Close()
		return nil
	}
	m.mu.Lock()
	if exit := m.ended; exit != nil {
		m.mu.Unlock()
		_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_ = cl.conn.WriteFrame(attach.Exit, exit)
		conn.Close()
		return nil
	}
	m.clients[cl] = true
	if cl.hello.Rows > 0 && cl.hello.Cols > 0 {
		m.size = &pty.Winsize{Rows: cl.hello.Rows, Cols: cl.hello.Cols}
		if m.master != nil {
			_ = pty.Setsize(m.master, m.size)
		}
	}
	m.mu.Unlock()
	return cl
}

// listen opens the attach socket. The path goes through /proc/self/fd so
// that a deep state root cannot exceed the 108-byte socket path limit.
func (m *monitor) listen() (net.Listener, error) {
	dirFD, err := unix.Open(m.dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("attach socket: %w", err)
	}
	defer unix.Close(dirFD)
	_ = os.Remove(filepath.Join(m.dir, SocketName))
	ln, err := net.Listen("unix", "/proc/self/fd/"+strconv.Itoa(dirFD)+"/"+SocketName)
	if err != nil {
		return nil, fmt.Errorf("attach socket: %w", err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	return ln, nil
}

// SocketAddr returns an address a client can dial for the socket in dir,
// through an fd that the caller closes with the returned func.
func SocketAddr(dir string) (string, func(), error) {
	dirFD, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, err
	}
	return "/proc/self/fd/" + strconv.Itoa(dirFD) + "/" + SocketName, func() { unix.Close(dirFD) }, nil
}

func (m *monitor) serve(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			if cl := m.handshake(conn); cl != nil {
				m.readClient(cl)
			}
		}()
	}
}

type output struct {
	stream string
	f      *os.File
}

// shape is what a container's stdio is made of.
type shape struct {
	tty, stdin bool // -t, -i
}

func shapeOf(c *containers.Container) shape {
	return shape{tty: c.Config.Tty, stdin: c.Config.OpenStdin}
}

// openStdio makes a container's stdio: a pty with -t, pipes otherwise.
// cleanup closes the child's ends once it has them; stdin is the write end
// of the stdin pipe, with -i and no -t.
func openStdio(sh shape) (stdio runtime.Stdio, cleanup func(), outs []output, stdin *os.File, err error) {
	if sh.tty {
		// The init stage makes the pty inside the container and sends us
		// the master (see start); until then its stdio is /dev/null.
		null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
		if err != nil {
			return runtime.Stdio{}, nil, nil, nil, err
		}
		return runtime.Stdio{Stdin: null, Stdout: null, Stderr: null, Tty: true},
			func() { null.Close() }, nil, nil, nil
	}
	var childEnds []*os.File
	cleanup = func() {
		for _, f := range childEnds {
			f.Close()
		}
	}
	if sh.stdin {
		r, w, err := os.Pipe()
		if err != nil {
			return stdio, nil, nil, nil, err
		}
		stdio.Stdin, stdin = r, w
		childEnds = append(childEnds, r)
	} else {
		null, err := os.Open(os.DevNull)
		if err != nil {
			return stdio, nil, nil, nil, err
		}
		stdio.Stdin = null
		childEnds = append(childEnds, null)
	}
	for _, name := range []string{"stdout", "stderr"} {
		r, w, err := os.Pipe()
		if err != nil {
			cleanup()
			if stdin != nil {
				stdin.Close()
			}
			for _, o := range outs {
				o.f.Close()
			}
			return stdio, nil, nil, nil, err
		}
		// Larger pipes mean fewer wake-ups for chatty containers.
		_, _ = unix.FcntlInt(r.Fd(), unix.F_SETPIPE_SZ, 1<<20)
		childEnds = append(childEnds, w)
		outs = append(outs, output{name, r})
		if name == "stdout" {
			stdio.Stdout = w
		} else {
			stdio.Stderr = w
		}
	}
	return stdio, cleanup, outs, stdin, nil
}

// pump copies one output stream to the log and to attached clients.
func (m *monitor) pump(stream string, f *os.File) {
	defer f.Close()
	typ := attach.Stdout
	if stream == "stderr" {
		typ = attach.Stderr
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			m.logMu.Lock()
			_ = m.log.Write(stream, time.Now(), buf[:n])
			_ = m.log.Flush()
			m.logMu.Unlock()
			m.broadcast(typ, buf[:n], stream)
		}
		if err != nil {
			return // EOF, or EIO from a pty whose last slave closed
		}
	}
}

func (m *monitor) broadcast(typ byte, p []byte, stream string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for cl := range m.clients {
		if stream == "stdout" && !cl.hello.Stdout || stream == "stderr" && !cl.hello.Stderr {
			continue
		}
		_ = cl.raw.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if err := cl.conn.WriteFrame(typ, p); err != nil {
			cl.raw.Close()
			delete(m.clients, cl)
		}
	}
}

func (m *monitor) broadcastJSON(typ byte, v any) {
	b, _ := json.Marshal(v)
	m.mu.Lock()
	defer m.mu.Unlock()
	for cl := range m.clients {
		_ = cl.raw.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if err := cl.conn.WriteFrame(typ, b); err != nil {
			cl.raw.Close()
			delete(m.clients, cl)
		}
	}
}

// readClient handles what one client sends until it goes away.
func (m *monitor) readClient(cl *client) {
	defer func() {
		m.mu.Lock()
		delete(m.clients, cl)
		m.mu.Unlock()
		cl.raw.Close()
	}()
	var buf []byte
	for {
		typ, p, err := cl.conn.ReadFrame(buf)
		if err != nil {
			return
		}
		buf = p
		switch typ {
		case attach.Stdin:
			if cl.hello.Stdin {
				m.writeStdin(p)
			}
		case attach.CloseStdin:
			if cl.hello.Stdin && m.c.Config.StdinOnce && m.master == nil {
				m.closeStdin()
			}
		case attach.Resize:
			// The one-way forms of the control requests: no reply.
			if rows, cols, err := attach.DecodeResize(p); err == nil {
				m.control(attach.RequestMsg{Version: attach.Version, Op: attach.OpResize, Rows: rows, Cols: cols})
			}
		case attach.Signal:
			if sig, err := attach.DecodeSignal(p); err == nil {
				m.control(attach.RequestMsg{Version: attach.Version, Op: attach.OpSignal, Signal: sig})
			}
		case attach.Request:
			m.request(cl, p)
		}
	}
}

func (m *monitor) writeStdin(p []byte) {
	m.mu.Lock()
	w, closed := m.stdin, m.closed
	m.mu.Unlock()
	if w != nil && !closed {
		_, _ = w.Write(p)
	}
}

func (m *monitor) closeStdin() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stdin != nil && !m.closed {
		m.closed = true
		m.stdin.Close()
	}
}
