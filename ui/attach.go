package ui

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	tea "charm.land/bubbletea/v2"
	uv "github.com/charmbracelet/ultraviolet"
	"github.com/muesli/cancelreader"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"berth/engine"
	"berth/ui/common"
)

// attachDoneMsg: the terminal is back from a container.
type attachDoneMsg struct {
	name, command string
	exec          bool
	res           *handover
	err           error
}

// execReadyMsg: a shell was found in the container; hand it the terminal.
type execReadyMsg struct {
	c     *engine.Container
	shell string
}

// attach hands the terminal to the container's main process until the
// person types the detach keys (ctrl-p ctrl-q) or the process ends.
func (m *Model) attach(c *engine.Container) tea.Cmd {
	if !c.State.Running {
		return common.Status(c.Name+" is not running: start it first (u)", "berth start -ai "+c.Name)
	}
	h := &handover{ctx: m.c.Ctx, title: "attached to " + c.Name, run: func(h *handover) error { return h.attach(m.c.Engine, c) }}
	command := "berth attach " + c.Name
	return tea.Exec(h, func(err error) tea.Msg {
		return attachDoneMsg{name: c.Name, command: command, res: h, err: err}
	})
}

// findShell looks for a shell in the container, then execs it.
func (m *Model) findShell(c *engine.Container) tea.Cmd {
	e, ctx := m.c.Engine, m.c.Ctx
	return func() tea.Msg {
		sh, err := e.FindShell(ctx, c.ID)
		if err != nil {
			return common.Err("exec a shell in "+c.Name, err)
		}
		return execReadyMsg{c: c, shell: sh}
	}
}

func (m *Model) execReady(msg execReadyMsg) tea.Cmd {
	c := msg.c
	h := &handover{ctx: m.c.Ctx, title: msg.shell + " in " + c.Name, run: func(h *handover) error { return h.exec(m.c.Engine, c, msg.shell) }}
	command := "berth exec -it " + c.Name + " " + msg.shell
	return tea.Exec(h, func(err error) tea.Msg {
		return attachDoneMsg{name: c.Name, command: command, exec: true, res: h, err: err}
	})
}

func (m *Model) attachDone(msg attachDoneMsg) tea.Cmd {
	cmds := []tea.Cmd{loadContainers(m.c)}
	switch {
	case msg.err != nil:
		cmds = append(cmds, func() tea.Msg { return common.Err("attach to "+msg.name, msg.err) })
	case msg.res.detached && msg.exec:
		cmds = append(cmds, common.Status("left the shell in "+msg.name, msg.command))
	case msg.res.detached:
		cmds = append(cmds, common.Status("detached from "+msg.name+" (still running)", msg.command))
	case msg.exec:
		cmds = append(cmds, common.Status(fmt.Sprintf("shell in %s exited with code %d", msg.name, msg.res.exit), msg.command))
	default:
		cmds = append(cmds, common.Status(fmt.Sprintf("%s exited with code %d", msg.name, msg.res.exit), msg.command))
	}
	if msg.res != nil && len(msg.res.unread) > 0 {
		cmds = append(cmds, typeAhead(msg.res.unread))
	}
	return tea.Batch(cmds...)
}

// typeAhead gives the UI, in order, the keys typed with the detach keys
// (or after the container ended) that the session read: they were meant
// for the UI, and the terminal has no way to take them back.
func typeAhead(b []byte) tea.Cmd {
	var d uv.EventDecoder
	var keys []tea.Cmd
	for len(b) > 0 {
		n, ev := d.Decode(b)
		if n <= 0 {
			break
		}
		b = b[n:]
		if ev != nil {
			keys = append(keys, func() tea.Msg { return ev })
		}
	}
	return tea.Sequence(keys...)
}

// handover is a tea.ExecCommand: bubbletea releases the terminal, Run
// owns it (raw mode, resize, detach keys) and returns it.
type handover struct {
	ctx    context.Context
	title  string
	run    func(*handover) error
	stdin  io.Reader
	stdout io.Writer

	detached bool
	exit     int
	unread   []byte // keys read after the detach: the UI's
}

func (h *handover) SetStdin(r io.Reader)  { h.stdin = r }
func (h *handover) SetStdout(w io.Writer) { h.stdout = w }
func (h *handover) SetStderr(io.Writer)   {}

func (h *handover) Run() error {
	if h.stdin == nil {
		h.stdin = os.Stdin
	}
	if h.stdout == nil {
		h.stdout = os.Stdout
	}
	return h.run(h)
}

// terminal puts stdin in raw mode and reports its size; restore undoes it.
// Without a container terminal (plain) nothing turns the process's "\n"
// into "\r\n", so the output keeps the terminal's own processing (no
// staircase), and the input its CR to NL, and its echo when the container
// takes input (echo): keys still come one at a time, for the detach keys.
func (h *handover) terminal(plain, echo bool) (fd int, rows, cols uint16, restore func()) {
	restore = func() {}
	f, ok := h.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return -1, 24, 80, restore
	}
	fd = int(f.Fd())
	rows, cols = 24, 80
	if w, ht, err := term.GetSize(fd); err == nil {
		rows, cols = uint16(ht), uint16(w)
	}
	if st, err := term.MakeRaw(fd); err == nil {
		restore = func() { _ = term.Restore(fd, st) }
	}
	if plain {
		if t, err := unix.IoctlGetTermios(fd, unix.TCGETS); err == nil {
			t.Oflag |= unix.OPOST | unix.ONLCR
			t.Iflag |= unix.ICRNL
			if echo {
				t.Lflag |= unix.ECHO
			}
			_ = unix.IoctlSetTermios(fd, unix.TCSETS, t)
		}
	}
	return fd, rows, cols, restore
}

// onResize calls fn with the terminal's size whenever it changes.
func onResize(fd int, fn func(rows, cols uint16)) (stop func()) {
	if fd < 0 {
		return func() {}
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGWINCH)
	go func() {
		for range sigs {
			if w, h, err := term.GetSize(fd); err == nil {
				fn(uint16(h), uint16(w))
			}
		}
	}()
	return func() { signal.Stop(sigs); close(sigs) }
}

// banner starts a session on a clear screen: what the last one left (the
// terminal's main screen, under the UI's alternate one) is not this one's.
func (h *handover) banner() {
	fmt.Fprintf(h.stdout, "\x1b[H\x1b[2J[berth] %s: detach with ctrl-p ctrl-q\r\n", h.title)
}

// attach streams the container's main process through its monitor.
func (h *handover) attach(e *engine.Engine, c *engine.Container) error {
	fd, rows, cols, restore := h.terminal(!c.Config.Tty, c.Config.OpenStdin)
	defer restore()
	in, err := newInput(h.stdin)
	if err != nil {
		return err
	}
	defer in.stop()
	// The keys are read for the detach sequence even when the container
	// takes no input; the terminal goes back to the UI, not the end of
	// the container's input.
	s, err := e.Attach(h.ctx, c.ID, engine.Streams{
		Stdin: in, Stdout: h.stdout, Stderr: h.stdout, Rows: rows, Cols: cols,
		DetachKeys: engine.DefaultDetachKeys, KeepStdinOpen: true,
	})
	if err != nil {
		return err
	}
	h.banner()
	// A size change makes the shell redraw its prompt.
	if c.Config.Tty {
		_ = s.Resize(rows+1, cols)
		_ = s.Resize(rows, cols)
	}
	return h.follow(s, fd, in)
}

// exec runs shell in the container on a new terminal of its own.
func (h *handover) exec(e *engine.Engine, c *engine.Container, shell string) error {
	fd, rows, cols, restore := h.terminal(false, false)
	defer restore()
	in, err := newInput(h.stdin)
	if err != nil {
		return err
	}
	defer in.stop()
	// The terminal is the shell's stdio: no other to give.
	p, err := e.Exec(h.ctx, c.ID, engine.ExecOptions{Cmd: []string{shell}, Tty: true, Rows: rows, Cols: cols})
	if err != nil {
		return err
	}
	// Detaching lets go of the shell's terminal, which hangs it up.
	s, err := p.Attach(engine.Streams{Stdin: in, Stdout: h.stdout, DetachKeys: engine.DefaultDetachKeys})
	if err != nil {
		return err
	}
	h.banner()
	return h.follow(s, fd, in)
}

// follow passes the terminal's size changes to s until it ends, and
// records how it ended, with the keys it read that are the UI's.
func (h *handover) follow(s *engine.Session, fd int, in *input) error {
	stop := onResize(fd, func(r, c uint16) { _ = s.Resize(r, c) })
	defer stop()
	res, err := s.Wait(h.ctx)
	// The session's reader is done once the read in progress is; a read
	// that could not be woken keeps it, and its keys.
	if in.stop() {
		h.unread = s.Unread()
	}
	if err != nil {
		return err
	}
	h.detached, h.exit = res.Detached, res.ExitCode
	return nil
}

// input reads the terminal for a container and gives it back: stop
// cancels a read in progress and waits for it to return, so that no
// reader of ours is left to take the next key meant for the UI.
type input struct {
	cr       cancelreader.CancelReader
	mu       sync.Mutex // held by a Read in progress
	once     sync.Once
	released bool // no Read in progress or to come
}

func newInput(r io.Reader) (*input, error) {
	cr, err := cancelreader.NewReader(r)
	if err != nil {
		return nil, err
	}
	return &input{cr: cr}, nil
}

func (in *input) Read(p []byte) (int, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.cr.Read(p)
}

// stop ends reading, and reports whether no read is left in progress.
// Closing the canceller while a read still waits on it would lose the
// wake-up, and that read would take the next key.
func (in *input) stop() bool {
	in.once.Do(func() {
		in.cr.Cancel()
		deadline := time.Now().Add(time.Second)
		for !in.mu.TryLock() {
			if time.Now().After(deadline) {
				return // a read that cannot be woken: leave it its fds
			}
			time.Sleep(time.Millisecond)
		}
		in.mu.Unlock()
		in.cr.Close()
		in.released = true
	})
	return in.released
}
