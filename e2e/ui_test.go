package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// tmux drives one berth UI in a tmux server of its own.
type tmux struct {
	t      *testing.T
	socket string
}

var tmuxN atomic.Int64

// startUI opens `berth ui` on e's root in a new tmux session of w×h cells.
// The session outlives berth (the shell prints berth's exit status and
// waits) so a crash stays readable in the pane.
func startUI(t *testing.T, e *env, w, h int, extraEnv ...string) *tmux {
	return startBerth(t, e, w, h, "ui", extraEnv...)
}

// startBerth runs berth with args (one word) in the tmux pane.
func startBerth(t *testing.T, e *env, w, h int, args string, extraEnv ...string) *tmux {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is needed for the UI tests: apt-get install tmux (scripts/test does)")
	}
	tm := &tmux{t: t, socket: fmt.Sprintf("berth-e2e-%d-%d", os.Getpid(), tmuxN.Add(1))}
	shell := fmt.Sprintf("env BERTH_ROOT= %s %s --root %s %s; echo \"[berth exited: $?]\"; sleep 3600",
		strings.Join(extraEnv, " "), berthBin, e.root, args)
	out, err := exec.Command("tmux", "-L", tm.socket, "-f", "/dev/null", "new-session", "-d", "-s", "main",
		"-x", fmt.Sprint(w), "-y", fmt.Sprint(h), shell).CombinedOutput()
	if err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", tm.socket, "kill-server").Run() })
	return tm
}

// screen is the pane's text now.
func (tm *tmux) screen() string {
	out, err := exec.Command("tmux", "-L", tm.socket, "capture-pane", "-p", "-t", "main").Output()
	if err != nil {
		tm.t.Fatalf("tmux capture-pane: %v", err)
	}
	return string(out)
}

// keys sends tmux key names ("Enter", "C-p", "Tab") or literal text with
// literal set.
func (tm *tmux) keys(literal bool, keys ...string) {
	tm.t.Helper()
	args := []string{"-L", tm.socket, "send-keys", "-t", "main"}
	if literal {
		args = append(args, "-l")
	}
	if out, err := exec.Command("tmux", append(args, keys...)...).CombinedOutput(); err != nil {
		tm.t.Fatalf("tmux send-keys %q: %v\n%s", keys, err, out)
	}
}

// resize changes the window's size, as a person dragging it would.
func (tm *tmux) resize(w, h int) {
	tm.t.Helper()
	out, err := exec.Command("tmux", "-L", tm.socket, "resize-window", "-t", "main", "-x", fmt.Sprint(w), "-y", fmt.Sprint(h)).CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux resize-window: %v\n%s", err, out)
	}
}

func (tm *tmux) press(keys ...string) { tm.t.Helper(); tm.keys(false, keys...) }
func (tm *tmux) typeText(s string)    { tm.t.Helper(); tm.keys(true, s) }

// uiWait bounds each wait for the screen: long enough for a starved UI on
// a busy machine to draw; it fails only a UI that never does.
const uiWait = time.Minute

// waitFor waits until the screen shows every one of wants at once, and
// fails with the screen if it doesn't within the timeout.
func (tm *tmux) waitFor(timeout time.Duration, wants ...string) string {
	tm.t.Helper()
	var s string
	if !waitFor(timeout, func() bool {
		s = tm.screen()
		for _, w := range wants {
			if !strings.Contains(s, w) {
				return false
			}
		}
		return true
	}) {
		tm.t.Fatalf("the UI did not show %q within %v; screen:\n%s", wants, timeout, s)
	}
	return s
}

// The whole round trip a person makes: run a container from the form,
// work in its shell, detach and find the UI as it was, then stop and
// remove the container from the UI.
func TestUIRunAttachDetach(t *testing.T) {
	e := newEnv(t)
	tm := startUI(t, e, 120, 32)
	tm.waitFor(uiWait, "Containers (0)")
	tm.press("2")
	tm.waitFor(uiWait, "busybox")
	tm.press("r")
	tm.waitFor(uiWait, "Run a container")
	tm.typeText("uitest")
	tm.waitFor(uiWait, "berth run --name uitest -it busybox:latest")
	tm.press("Enter")
	tm.waitFor(uiWait, "[berth] attached to uitest")
	tm.typeText("echo hello-$((6*7))")
	tm.press("Enter")
	tm.waitFor(uiWait, "hello-42")
	// The container's terminal follows the window's size.
	tm.typeText("stty size")
	tm.press("Enter")
	tm.waitFor(uiWait, "32 120")
	// The new size travels from the UI to the container's pty apart from
	// the keys typed next, and may land after them: the shell waits for
	// it, and says so with a line that the typed command does not contain.
	tm.resize(100, 28)
	tm.typeText(`clear; until [ "$(stty size)" = "28 100" ]; do sleep 0.1; done; echo size-$(stty size | tr " " x)`)
	tm.press("Enter")
	tm.waitFor(uiWait, "size-28x100")
	tm.press("C-p", "C-q")
	// Back as it was: the list (redrawn once the UI has the terminal
	// again) and the status line, on one screen.
	tm.waitFor(uiWait, "detached from uitest", "Containers (1)", "berth attach uitest")
	if got := e.inspect("{{.State.Status}}", "uitest"); got != "running" {
		t.Fatalf("after detaching the container is %s", got)
	}
	tm.press("s")
	tm.waitFor(uiWait, "Stop container uitest?")
	tm.press("y")
	tm.waitFor(uiWait, "stopped uitest")
	if got := e.inspect("{{.State.Status}}", "uitest"); got != "exited" {
		t.Fatalf("after stop the container is %s", got)
	}
	tm.press("d")
	tm.waitFor(uiWait, "Remove container uitest?")
	tm.press("y")
	tm.waitFor(uiWait, "removed uitest")
	if _, _, code := e.run("inspect", "uitest"); code == 0 {
		t.Error("the container is still there after removing it in the UI")
	}
	tm.press("q")
	tm.waitFor(uiWait, "[berth exited: 0]")
}

// A container started by a script in another terminal shows up at once,
// and one removed there goes, without a reload. (berth alone on a
// terminal opens the UI.) The UI never reloads the list on a timer (its
// 30 s tick only redraws), so only the event can bring either change: the
// waits are bounded for a busy machine, and the time taken is logged.
func TestUIFollowsOtherProcesses(t *testing.T) {
	e := newEnv(t)
	tm := startBerth(t, e, 100, 30, "")
	tm.waitFor(uiWait, "Containers (0)")
	start := time.Now()
	e.runD("--name", "fromscript", "busybox", "sleep", "60")
	shownRunning := func() bool {
		for _, l := range lines(tm.screen()) {
			if strings.Contains(l, "fromscript") && strings.Contains(l, "running") {
				return true
			}
		}
		return false
	}
	if !waitFor(uiWait, shownRunning) {
		t.Fatalf("the container started by a script is not listed running:\n%s", tm.screen())
	}
	t.Logf("listed running after %v", time.Since(start))
	e.ok("rm", "-f", "fromscript")
	if !waitFor(uiWait, func() bool { return !strings.Contains(tm.screen(), "fromscript") }) {
		t.Errorf("the removed container is still listed:\n%s", tm.screen())
	}
	tm.press("q")
	tm.waitFor(uiWait, "[berth exited: 0]")
}

// uiShellInSvc opens the UI beside a running container "svc", execs the
// image's shell in it with x, and waits until a command typed there runs.
func uiShellInSvc(t *testing.T) (*env, *tmux) {
	t.Helper()
	e := newEnv(t)
	e.runD("--name", "svc", "busybox", "sleep", "60")
	tm := startUI(t, e, 100, 30)
	tm.waitFor(uiWait, "svc")
	tm.press("x")
	tm.waitFor(uiWait, "[berth] /bin/sh in svc")
	tm.typeText("echo in-$((40+2))")
	tm.press("Enter")
	tm.waitFor(uiWait, "in-42")
	return e, tm
}

// Exec finds the image's shell; the person works in it and exits back.
func TestUIExecShell(t *testing.T) {
	_, tm := uiShellInSvc(t)
	tm.typeText("exit 3")
	tm.press("Enter")
	tm.waitFor(uiWait, "shell in svc exited with code 3")
	tm.press("q")
	tm.waitFor(uiWait, "[berth exited: 0]")
}

// Detaching from an exec'd shell gives the UI back at once, although the
// shell prints nothing more (issue 12: the UI froze until it did), and
// the shell, hung up, is gone.
func TestUIExecShellDetach(t *testing.T) {
	e, tm := uiShellInSvc(t)
	if top := e.ok("top", "svc"); !strings.Contains(top, "/bin/sh") {
		t.Fatalf("top does not show the shell:\n%s", top)
	}
	tm.press("C-p", "C-q")
	tm.waitFor(uiWait, "left the shell in svc")
	var top string
	if !waitFor(uiWait, func() bool { top = e.ok("top", "svc"); return !strings.Contains(top, "/bin/sh") }) {
		t.Errorf("the shell still runs after detaching:\n%s", top)
	}
	tm.press("q")
	tm.waitFor(uiWait, "[berth exited: 0]")
}

// Keys typed with the detach keys, in the same burst, are the UI's: they
// are not swallowed by the session nor sent to the shell (issue 12).
func TestUIExecShellDetachTypeAhead(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 35}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			e := newEnv(t)
			e.runD("--name", "svc", "busybox", "sleep", "60")
			tm := startUI(t, e, size[0], size[1])
			tm.waitFor(uiWait, "Containers (1)")
			tm.press("x")
			tm.waitFor(uiWait, "[berth] /bin/sh in svc")
			tm.typeText("echo in-$((40+2))")
			tm.press("Enter")
			tm.waitFor(uiWait, "in-42")
			// One write: the detach keys and then "2" (the Images tab).
			tm.press("C-p", "C-q", "2")
			tm.waitFor(uiWait, "left the shell in svc", "Images (1)")
			tm.press("1")
			tm.waitFor(uiWait, "Containers (1)")
			tm.press("q")
			tm.waitFor(uiWait, "[berth exited: 0]")
		})
	}
}

// A container without a terminal writes "\n" alone: attached from the UI
// its lines start at the left edge (no staircase), and a second session
// starts on a clear screen, without the first one's lines (issue 12).
func TestUIAttachNoTerminal(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 35}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			e := newEnv(t)
			e.runD("--name", "plain", "busybox", "sh", "-c", "i=0; while :; do i=$((i+1)); echo line-$i; sleep 0.2; done")
			tm := startUI(t, e, size[0], size[1])
			tm.waitFor(uiWait, "Containers (1)")
			tm.press("a")
			tm.waitFor(uiWait, "[berth] attached to plain")
			var s string
			ok := waitFor(uiWait, func() bool {
				s = tm.screen()
				return strings.Count(s, "line-") >= 3
			})
			if !ok {
				t.Fatalf("no output from the container:\n%s", s)
			}
			for _, l := range lines(s) {
				if i := strings.Index(l, "line-"); i > 0 {
					t.Fatalf("output does not start at the left edge (staircase):\n%s", s)
				}
			}
			tm.press("C-p", "C-q")
			tm.waitFor(uiWait, "detached from plain")
			tm.press("a")
			s = tm.waitFor(uiWait, "[berth] attached to plain")
			if strings.Count(s, "[berth] attached to plain") > 1 {
				t.Fatalf("the second session shows the first one's screen:\n%s", s)
			}
			tm.press("C-p", "C-q")
			tm.waitFor(uiWait, "detached from plain")
			tm.press("q")
			tm.waitFor(uiWait, "[berth exited: 0]")
		})
	}
}

// A container without a terminal that takes input (-i) reads lines from
// the UI: Enter ends a line (no raw CR), what is typed shows, and the
// replies start at the left edge.
func TestUIAttachNoTerminalInput(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 35}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			e := newEnv(t)
			e.runD("-i", "--name", "reader", "busybox", "sh", "-c", "while read l; do echo got-$l; done")
			tm := startUI(t, e, size[0], size[1])
			tm.waitFor(uiWait, "Containers (1)")
			tm.press("a")
			tm.waitFor(uiWait, "[berth] attached to reader")
			tm.typeText("abc")
			tm.press("Enter")
			tm.typeText("def")
			tm.press("Enter")
			s := tm.waitFor(uiWait, "got-abc", "got-def")
			for _, l := range lines(s) {
				if strings.Contains(l, "got-") && !strings.HasPrefix(l, "got-") {
					t.Fatalf("a reply does not start at the left edge:\n%s", s)
				}
			}
			if !strings.Contains(s, "abc\n") {
				t.Fatalf("the typed line is not shown:\n%s", s)
			}
			tm.press("C-p", "C-q")
			tm.waitFor(uiWait, "detached from reader")
			tm.press("q")
			tm.waitFor(uiWait, "[berth exited: 0]")
		})
	}
}
