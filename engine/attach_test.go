package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"berth/containers"
	"berth/engine"
)

// bound is how long a test waits for something that should happen at
// once; only a broken session reaches it.
const bound = time.Minute

// screen is a session's output that a test waits on.
type screen struct {
	mu      sync.Mutex
	b       bytes.Buffer
	mark    int
	written chan struct{}
}

func newScreen() *screen { return &screen{written: make(chan struct{}, 1)} }

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.b.Write(p)
	s.mu.Unlock()
	select {
	case s.written <- struct{}{}:
	default:
	}
	return len(p), nil
}

// expect waits until the output after the mark holds want, and moves the
// mark past it.
func (s *screen) expect(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(bound)
	for {
		s.mu.Lock()
		all := s.b.String()
		i := strings.Index(all[s.mark:], want)
		if i >= 0 {
			s.mark += i + len(want)
		}
		s.mu.Unlock()
		if i >= 0 {
			return
		}
		select {
		case <-s.written:
		case <-deadline:
			t.Fatalf("output %q does not show %q", all, want)
		}
	}
}

// keyboard is a session's input: each type is one read of the session.
type keyboard struct {
	r *io.PipeReader
	w *io.PipeWriter
}

func newKeyboard(t *testing.T) keyboard {
	r, w := io.Pipe()
	t.Cleanup(func() { w.Close() })
	return keyboard{r, w}
}

// typ hands s to the session, which reads it whole in one read: io.Pipe
// returns from a write once it has been read.
func (k keyboard) typ(t *testing.T, s string) {
	t.Helper()
	if _, err := k.w.Write([]byte(s)); err != nil {
		t.Fatalf("type %q: %v", s, err)
	}
}

// wait waits (bounded) for a session to end.
func wait(t *testing.T, s *engine.Session) engine.AttachResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	res, err := s.Wait(ctx)
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	return res
}

func createWith(t *testing.T, e *engine.Engine, cfg containers.Config) *containers.Container {
	t.Helper()
	c, err := e.Create(context.Background(), engine.CreateOptions{Image: "busybox", Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func running(t *testing.T, e *engine.Engine, id string) bool {
	t.Helper()
	c, err := e.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c.State.Running
}

// resizeThenDetach works in a shell on s's terminal: its size is first
// (rows and columns, as stty says), then rows×cols after a resize; then
// Ctrl-p and Ctrl-q, in two reads, detach.
func resizeThenDetach(t *testing.T, s *engine.Session, kb keyboard, out *screen, first string, rows, cols uint16) {
	t.Helper()
	out.expect(t, "# ")
	kb.typ(t, "stty size\n")
	out.expect(t, "\r\n"+first+"\r\n")
	// Frames of one session are handled in order: the shell reads the
	// next line with the new size set.
	if err := s.Resize(rows, cols); err != nil {
		t.Fatal(err)
	}
	kb.typ(t, "stty size\n")
	out.expect(t, fmt.Sprintf("\r\n%d %d\r\n", rows, cols))
	detach(t, s, kb, "\x10", "\x11")
}

// detach types the detach keys in pieces, each read on its own, and
// waits for the session to end detached.
func detach(t *testing.T, s *engine.Session, kb keyboard, pieces ...string) {
	t.Helper()
	for _, p := range pieces {
		kb.typ(t, p)
	}
	if res := wait(t, s); !res.Detached {
		t.Fatalf("keys %q: %+v, want detached", pieces, res)
	}
}

// run -it: the terminal follows resizes, the detach keys work when they
// come in separate reads, other keys (the default ones under custom
// keys) reach the shell, and the shell's exit code ends the session.
func TestAttachTerminal(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	c := createWith(t, e, containers.Config{Cmd: []string{"sh"}, Tty: true, OpenStdin: true, StdinOnce: true})
	kb, out := newKeyboard(t), newScreen()
	s, err := e.Start(ctx, c.ID, &engine.Streams{Stdin: kb.r, Stdout: out, Stderr: out, Rows: 30, Cols: 100, DetachKeys: engine.DefaultDetachKeys})
	if err != nil {
		t.Fatal(err)
	}
	resizeThenDetach(t, s, kb, out, "30 100", 40, 120)
	if !running(t, e, c.ID) {
		t.Fatal("after detaching, the container is not running")
	}

	kb, out = newKeyboard(t), newScreen()
	s, err = e.Attach(ctx, c.ID, engine.Streams{Stdin: kb.r, Stdout: out, Stderr: out, DetachKeys: []byte{0x01, 'x'}})
	if err != nil {
		t.Fatal(err)
	}
	kb.typ(t, "echo back-$((3+4))\n")
	out.expect(t, "\r\nback-7\r\n")
	// Not the keys now: the shell gets them (Ctrl-u clears what they did).
	kb.typ(t, "\x10")
	kb.typ(t, "\x11")
	kb.typ(t, "\x15echo still-$((2+3))\n")
	out.expect(t, "\r\nstill-5\r\n")
	detach(t, s, kb, "\x01", "x")

	kb, out = newKeyboard(t), newScreen()
	s, err = e.Attach(ctx, c.ID, engine.Streams{Stdin: kb.r, Stdout: out, Stderr: out, DetachKeys: engine.DefaultDetachKeys})
	if err != nil {
		t.Fatal(err)
	}
	kb.typ(t, "exit 7\n")
	if res := wait(t, s); res.Detached || res.ExitCode != 7 {
		t.Fatalf("exit 7: %+v, want exit code 7", res)
	}
}

// run -i without a terminal: a start of the detach keys that turns out
// not to be them is input, also when the input ends on it; the end of the
// input closes the container's stdin.
func TestAttachInputPassedThrough(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	c := createWith(t, e, containers.Config{Cmd: []string{"cat"}, OpenStdin: true, StdinOnce: true})
	// A client attached from the start sees all that cat writes, whoever
	// types; one that attaches later may miss what comes before its hello.
	seen := newScreen()
	watch, err := e.Start(ctx, c.ID, &engine.Streams{Stdout: seen})
	if err != nil {
		t.Fatal(err)
	}
	kb := newKeyboard(t)
	s, err := e.Attach(ctx, c.ID, engine.Streams{Stdin: kb.r, DetachKeys: engine.DefaultDetachKeys})
	if err != nil {
		t.Fatal(err)
	}
	kb.typ(t, "one\x10")
	kb.typ(t, "x\n")
	seen.expect(t, "one\x10x\n")
	// The held key was input; the sequence starts again.
	detach(t, s, kb, "two\x10", "\x10\x11")
	seen.expect(t, "two\x10")

	kb = newKeyboard(t)
	s, err = e.Attach(ctx, c.ID, engine.Streams{Stdin: kb.r, DetachKeys: []byte{0x01, 'x'}})
	if err != nil {
		t.Fatal(err)
	}
	kb.typ(t, "\x10\x11\n")
	seen.expect(t, "\x10\x11\n")
	detach(t, s, kb, "\x01", "x")
	if !running(t, e, c.ID) {
		t.Fatal("after detaching, cat is not running: its stdin was closed")
	}

	// Input that ends: cat reads it all, held key included, then its end.
	s, err = e.Attach(ctx, c.ID, engine.Streams{Stdin: strings.NewReader("end\x01"), DetachKeys: []byte{0x01, 'x'}})
	if err != nil {
		t.Fatal(err)
	}
	if res := wait(t, s); res.Detached || res.ExitCode != 0 {
		t.Fatalf("input ended: %+v, want cat's exit 0", res)
	}
	seen.expect(t, "end\x01")
	if res := wait(t, watch); res.ExitCode != 0 {
		t.Fatalf("watcher: %+v, want exit 0", res)
	}
}

// Without a terminal the caller's signals go to the container's process.
func TestAttachSignal(t *testing.T) {
	e := newEngine(t)
	c := createWith(t, e, containers.Config{Cmd: []string{"sh", "-c", `trap "echo got; exit 5" TERM; echo ready; while :; do sleep 0.1; done`}})
	out := newScreen()
	s, err := e.Start(context.Background(), c.ID, &engine.Streams{Stdout: out, Stderr: out})
	if err != nil {
		t.Fatal(err)
	}
	out.expect(t, "ready\n")
	if err := s.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if res := wait(t, s); res.ExitCode != 5 {
		t.Fatalf("after SIGTERM: %+v, want exit 5", res)
	}
	out.expect(t, "got\n")
}

// exec -it: the same session on a terminal this process holds. Detaching
// hangs the shell up and returns at once, although the shell prints
// nothing more (issue 12: the UI froze until it did).
func TestExecSession(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	c := create(t, e, "sleep", "600")
	if _, err := e.Start(ctx, c.ID, nil); err != nil {
		t.Fatal(err)
	}
	p, err := e.Exec(ctx, c.ID, engine.ExecOptions{Cmd: []string{"sh"}, Tty: true, Rows: 30, Cols: 100})
	if err != nil {
		t.Fatal(err)
	}
	pid := p.Cmd.Process.Pid
	kb, out := newKeyboard(t), newScreen()
	s, err := p.Attach(engine.Streams{Stdin: kb.r, Stdout: out, DetachKeys: engine.DefaultDetachKeys})
	if err != nil {
		t.Fatal(err)
	}
	resizeThenDetach(t, s, kb, out, "30 100", 33, 99)
	// Hung up, the shell ends, and is reaped.
	deadline := time.Now().Add(bound)
	for unix.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the exec'd shell %d still runs after detaching", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}

	p, err = e.Exec(ctx, c.ID, engine.ExecOptions{Cmd: []string{"sh", "-c", "echo hi; exit 3"}, Tty: true})
	if err != nil {
		t.Fatal(err)
	}
	out = newScreen()
	if s, err = p.Attach(engine.Streams{Stdout: out}); err != nil {
		t.Fatal(err)
	}
	if res := wait(t, s); res.Detached || res.ExitCode != 3 {
		t.Fatalf("exec exit 3: %+v, want exit code 3", res)
	}
	out.expect(t, "hi\r\n")

	// A process without a terminal has no session.
	p, err = e.Exec(ctx, c.ID, engine.ExecOptions{Cmd: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Attach(engine.Streams{}); err == nil {
		t.Error("a session on an exec without a terminal")
	}
	if code, err := p.Wait(); code != 0 || err != nil {
		t.Errorf("exec true: %d, %v", code, err)
	}
}

func TestParseDetachKeys(t *testing.T) {
	for in, want := range map[string][]byte{
		"":              {0x10, 0x11},
		"ctrl-p,ctrl-q": {0x10, 0x11},
		"ctrl-a,x":      {0x01, 'x'},
		"ctrl-@":        {0},
		"ctrl-\\":       {28},
	} {
		got, err := engine.ParseDetachKeys(in)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"ctrl-", "ctrl-1", "abc", "ctrl-pq"} {
		if _, err := engine.ParseDetachKeys(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
