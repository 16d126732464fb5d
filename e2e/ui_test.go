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

// waitFor waits until the screen shows want, and fails with the screen
// if it doesn't within the timeout.
func (tm *tmux) waitFor(want string, timeout time.Duration) string {
	tm.t.Helper()
	var s string
	if !waitFor(timeout, func() bool { s = tm.screen(); return strings.Contains(s, want) }) {
		tm.t.Fatalf("the UI did not show %q within %v; screen:\n%s", want, timeout, s)
	}
	return s
}

// The whole round trip a person makes: run a container from the form,
// work in its shell, detach and find the UI as it was, then stop and
// remove the container from the UI.
func TestUIRunAttachDetach(t *testing.T) {
	e := newEnv(t)
	tm := startUI(t, e, 120, 32)
	tm.waitFor("Containers (0)", 10*time.Second)
	tm.press("2")
	tm.waitFor("busybox", 5*time.Second)
	tm.press("r")
	tm.waitFor("Run a container", 5*time.Second)
	tm.typeText("uitest")
	tm.waitFor("berth run --name uitest -it busybox:latest", 5*time.Second)
	tm.press("Enter")
	tm.waitFor("[berth] attached to uitest", 10*time.Second)
	tm.typeText("echo hello-$((6*7))")
	tm.press("Enter")
	tm.waitFor("hello-42", 5*time.Second)
	// The container's terminal follows the window's size.
	tm.typeText("stty size")
	tm.press("Enter")
	tm.waitFor("32 120", 5*time.Second)
	tm.resize(100, 28)
	tm.typeText("clear; stty size")
	tm.press("Enter")
	tm.waitFor("28 100", 5*time.Second)
	tm.press("C-p", "C-q")
	s := tm.waitFor("detached from uitest", 5*time.Second)
	if !strings.Contains(s, "Containers (1)") || !strings.Contains(s, "berth attach uitest") {
		t.Errorf("after detaching, the UI is not back as it was:\n%s", s)
	}
	if got := e.inspect("{{.State.Status}}", "uitest"); got != "running" {
		t.Fatalf("after detaching the container is %s", got)
	}
	tm.press("s")
	tm.waitFor("stopped uitest", 20*time.Second)
	if got := e.inspect("{{.State.Status}}", "uitest"); got != "exited" {
		t.Fatalf("after stop the container is %s", got)
	}
	tm.press("d")
	tm.waitFor("Remove container uitest?", 5*time.Second)
	tm.press("y")
	tm.waitFor("removed uitest", 10*time.Second)
	if _, _, code := e.run("inspect", "uitest"); code == 0 {
		t.Error("the container is still there after removing it in the UI")
	}
	tm.press("q")
	tm.waitFor("[berth exited: 0]", 5*time.Second)
}

// A container started by a script in another terminal shows up at once,
// and one removed there goes, without a reload. (berth alone on a
// terminal opens the UI.)
func TestUIFollowsOtherProcesses(t *testing.T) {
	e := newEnv(t)
	tm := startBerth(t, e, 100, 30, "")
	tm.waitFor("Containers (0)", 10*time.Second)
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
	if !waitFor(3*time.Second, shownRunning) {
		t.Fatalf("the container started by a script is not listed running:\n%s", tm.screen())
	}
	t.Logf("listed running after %v", time.Since(start))
	e.ok("rm", "-f", "fromscript")
	if !waitFor(3*time.Second, func() bool { return !strings.Contains(tm.screen(), "fromscript") }) {
		t.Errorf("the removed container is still listed:\n%s", tm.screen())
	}
	tm.press("q")
	tm.waitFor("[berth exited: 0]", 5*time.Second)
}

// Exec finds the image's shell; the person works in it and exits back.
func TestUIExecShell(t *testing.T) {
	e := newEnv(t)
	e.runD("--name", "svc", "busybox", "sleep", "60")
	tm := startUI(t, e, 100, 30)
	tm.waitFor("svc", 10*time.Second)
	tm.press("x")
	tm.waitFor("[berth] /bin/sh in svc", 10*time.Second)
	tm.typeText("echo in-$((40+2))")
	tm.press("Enter")
	tm.waitFor("in-42", 5*time.Second)
	tm.typeText("exit 3")
	tm.press("Enter")
	tm.waitFor("shell in svc exited with code 3", 10*time.Second)
	tm.press("q")
	tm.waitFor("[berth exited: 0]", 5*time.Second)
}

// Detaching from an exec'd shell gives the UI back at once, although the
// shell prints nothing more (issue 12: the UI froze until it did), and
// the shell, hung up, is gone.
func TestUIExecShellDetach(t *testing.T) {
	e := newEnv(t)
	e.runD("--name", "svc", "busybox", "sleep", "60")
	tm := startUI(t, e, 100, 30)
	tm.waitFor("svc", 10*time.Second)
	tm.press("x")
	tm.waitFor("[berth] /bin/sh in svc", 10*time.Second)
	tm.typeText("echo in-$((40+2))")
	tm.press("Enter")
	tm.waitFor("in-42", 5*time.Second)
	if top := e.ok("top", "svc"); !strings.Contains(top, "/bin/sh") {
		t.Fatalf("top does not show the shell:\n%s", top)
	}
	tm.press("C-p", "C-q")
	tm.waitFor("left the shell in svc", 10*time.Second)
	var top string
	if !waitFor(10*time.Second, func() bool { top = e.ok("top", "svc"); return !strings.Contains(top, "/bin/sh") }) {
		t.Errorf("the shell still runs after detaching:\n%s", top)
	}
	tm.press("q")
	tm.waitFor("[berth exited: 0]", 5*time.Second)
}
