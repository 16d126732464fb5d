package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// ptyProc is a berth command running on a real terminal: the test holds
// the pty master, types into it and reads what the command shows.
type ptyProc struct {
	t      *testing.T
	args   []string
	cmd    *exec.Cmd
	master *os.File
	cancel context.CancelFunc

	mu   sync.Mutex
	out  bytes.Buffer
	mark int // expect searches output from here

	waitOnce sync.Once
	waitErr  error
	exited   chan struct{}
}

// startPty runs berth args on a new pty of the given size.
func startPty(t *testing.T, e *env, rows, cols uint16, args ...string) *ptyProc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := e.command(ctx, args...)
	cmd.Env = append(cmd.Env, "TERM=xterm")
	master, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: rows, Cols: cols})
	if err != nil {
		cancel()
		t.Fatalf("start berth %s on a pty: %v", strings.Join(args, " "), err)
	}
	p := &ptyProc{t: t, args: args, cmd: cmd, master: master, cancel: cancel, exited: make(chan struct{})}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			cmd.Process.Kill()
			<-p.exited
		}
		cancel()
		master.Close()
	})
	return p
}

func (p *ptyProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// expect waits until the output after the mark contains s, and moves the
// mark past it.
func (p *ptyProc) expect(s string, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		p.mu.Lock()
		all := p.out.String()
		i := strings.Index(all[p.mark:], s)
		if i >= 0 {
			p.mark += i + len(s)
		}
		p.mu.Unlock()
		if i >= 0 {
			return
		}
		select {
		case <-p.exited:
			time.Sleep(100 * time.Millisecond) // let the reader catch up
			if strings.Contains(p.output()[p.mark:], s) {
				continue
			}
			p.t.Fatalf("berth %s exited (%v) before showing %q; output:\n%q", strings.Join(p.args, " "), p.waitErr, s, clip(p.output()))
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("berth %s: %q did not show within %v; output:\n%q", strings.Join(p.args, " "), s, timeout, clip(p.output()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// send types s on the terminal.
func (p *ptyProc) send(s string) {
	p.t.Helper()
	if _, err := p.master.Write([]byte(s)); err != nil {
		p.t.Fatalf("type %q: %v", s, err)
	}
}

// wait waits for the command to exit and returns its exit code.
func (p *ptyProc) wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(timeout):
		p.t.Fatalf("berth %s did not exit within %v; output:\n%q", strings.Join(p.args, " "), timeout, clip(p.output()))
	}
	var ee *exec.ExitError
	switch {
	case p.waitErr == nil:
		return 0
	case errors.As(p.waitErr, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			p.t.Fatalf("berth %s killed by %v", strings.Join(p.args, " "), ws.Signal())
		}
		return ee.ExitCode()
	}
	p.t.Fatalf("berth %s: %v", strings.Join(p.args, " "), p.waitErr)
	return -1
}

// isRunning reports whether the command has not exited yet.
func (p *ptyProc) isRunning() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

const prompt = "# " // busybox sh's prompt for root

// ptyWait bounds each wait for a terminal's output or exit: long enough for
// a busy machine, failing only a hung command.
const ptyWait = time.Minute

func TestAttachDetach(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := startPty(t, e, 24, 80, "run", "-it", "--name", "px", "busybox", "sh")
	p.expect(prompt, ptyWait)
	p.send("echo hello-$((6*7))\n")
	p.expect("\r\nhello-42\r\n", ptyWait)
	p.send("\x10\x11") // Ctrl-p Ctrl-q
	if code := p.wait(ptyWait); code != 0 {
		t.Errorf("run -it after Ctrl-p Ctrl-q: exit %d, want 0; output %q", code, clip(p.output()))
	}
	if got := e.inspect("{{.State.Running}}", "px"); got != "true" {
		t.Fatalf("after detaching, the container is not running")
	}
	if got := lines(e.ok("ps", "--format", "{{.Names}} {{.State}}")); strings.Join(got, ",") != "px running" {
		t.Errorf("ps after detaching: %v, want px running", got)
	}

	a := startPty(t, e, 24, 80, "attach", "px")
	time.Sleep(300 * time.Millisecond) // nothing to wait for: the shell prints no new prompt
	a.send("echo again\n")
	a.expect("\r\nagain\r\n", ptyWait)
	a.send("exit\n")
	if code := a.wait(ptyWait); code != 0 {
		t.Errorf("attach after exit: exit %d, want 0; output %q", code, clip(a.output()))
	}
	e.waitState("px", "exited", ptyWait)
	if got := e.inspect("{{.State.ExitCode}}", "px"); got != "0" {
		t.Errorf("exit code after exit: %s", got)
	}

	// The shell's exit code comes back through attach too.
	e.ok("start", "px")
	a = startPty(t, e, 24, 80, "attach", "px")
	time.Sleep(300 * time.Millisecond)
	a.send("exit 6\n")
	if code := a.wait(ptyWait); code != 6 {
		t.Errorf("attach, exit 6: exit %d, want 6", code)
	}
}

func TestDetachKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := startPty(t, e, 24, 80, "run", "-it", "--detach-keys", "ctrl-a,x", "--name", "dk", "busybox", "sh")
	p.expect(prompt, ptyWait)
	// The default keys no longer detach: they reach the shell.
	p.send("\x10\x11")
	time.Sleep(500 * time.Millisecond)
	if !p.isRunning() {
		t.Fatalf("Ctrl-p Ctrl-q detached although --detach-keys is ctrl-a,x")
	}
	p.send("\x15echo still-$((2+3))\n") // Ctrl-u clears what the keys left
	p.expect("\r\nstill-5\r\n", ptyWait)
	p.send("\x01x")
	if code := p.wait(ptyWait); code != 0 {
		t.Errorf("run -it after Ctrl-a x: exit %d, want 0", code)
	}
	if got := e.inspect("{{.State.Running}}", "dk"); got != "true" {
		t.Errorf("after Ctrl-a x, the container is not running")
	}
	// attach takes --detach-keys too.
	a := startPty(t, e, 24, 80, "attach", "--detach-keys", "ctrl-e,e", "dk")
	time.Sleep(300 * time.Millisecond)
	a.send("echo back-$((3+4))\n")
	a.expect("\r\nback-7\r\n", ptyWait)
	a.send("\x05e")
	if code := a.wait(ptyWait); code != 0 {
		t.Errorf("attach after Ctrl-e e: exit %d, want 0", code)
	}
	if got := e.inspect("{{.State.Running}}", "dk"); got != "true" {
		t.Errorf("after detaching attach, the container is not running")
	}
}

func TestTerminalResize(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := startPty(t, e, 30, 100, "run", "-it", "--rm", "--name", "rz", "busybox", "sh")
	p.expect(prompt, ptyWait)
	p.send("stty size\n")
	p.expect("\r\n30 100\r\n", ptyWait)

	if err := pty.Setsize(p.master, &pty.Winsize{Rows: 40, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Process.Signal(syscall.SIGWINCH)
	// The new size travels to the container asynchronously: ask until it
	// is there, for as long as a busy machine may take.
	ok := false
	for deadline := time.Now().Add(time.Minute); !ok && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		p.send("stty size\n")
		p.expect("stty size\r\n", ptyWait)
		p.expect("\r\n", ptyWait)
		all := p.output()
		ok = strings.Contains(all[strings.LastIndex(all, "stty size\r\n"):], "40 120")
	}
	if !ok {
		t.Errorf("after resizing the terminal to 40x120, stty size in the container still shows the old size: %q", clip(p.output()))
	}

	// exec -t follows the terminal size too.
	e.ok("run", "-d", "--name", "rz2", "busybox", "sleep", "1000")
	x := startPty(t, e, 33, 99, "exec", "-it", "rz2", "stty", "size")
	x.expect("33 99", ptyWait)
	if code := x.wait(ptyWait); code != 0 {
		t.Errorf("exec -it stty size: exit %d", code)
	}

	p.send("exit 0\n")
	if code := p.wait(ptyWait); code != 0 {
		t.Errorf("run -it --rm after exit: exit %d, want 0", code)
	}
	e.fails(1, "inspect", "rz")
}
