package e2e

import (
	"strings"
	"testing"
	"time"
)

func TestVersionInfo(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	out := e.ok("version")
	if !strings.Contains(out, "Client:") || !strings.Contains(out, "Version:") {
		t.Errorf("version output %q", out)
	}
	if v := strings.TrimSpace(e.ok("version", "--format", "{{.Client.Version}}")); v == "" || strings.Contains(v, "{{") {
		t.Errorf("version --format gave %q", v)
	}
	if n := strings.TrimSpace(e.ok("info", "--format", "{{.Images}}")); n != "1" {
		t.Errorf("info --format {{.Images}} = %q, want 1", n)
	}
}

func TestImagesDigestsAndNoTrunc(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	out := e.ok("images", "--digests")
	if head := lines(out)[0]; !strings.Contains(head, "DIGEST") {
		t.Errorf("images --digests header %q has no DIGEST column", head)
	}
	full := strings.TrimSpace(e.ok("images", "-q", "--no-trunc"))
	if !strings.HasPrefix(full, "sha256:") || len(full) != len("sha256:")+64 {
		t.Errorf("images -q --no-trunc = %q, want a full ID", full)
	}
}

// -dit: detached, with a terminal and stdin kept open, so a shell waits.
func TestRunDetachedInteractiveTty(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.runD("-dit", "--name", "dit", "busybox", "sh")
	time.Sleep(300 * time.Millisecond)
	if st := e.inspect("{{.State.Status}} {{.Config.Tty}} {{.Config.OpenStdin}}", "dit"); st != "running true true" {
		t.Fatalf("state %q, want a running shell with tty and open stdin", st)
	}
	if tty := strings.TrimSpace(e.ok("exec", id, "readlink", "/proc/1/fd/0")); !strings.HasPrefix(tty, "/dev/pts/") {
		t.Errorf("PID 1's stdin is %q, want a pty of the container", tty)
	}
	e.ok("rm", "-f", "dit")
}

// --stop-signal replaces SIGTERM for stop.
func TestStopSignal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.runD("--name", "sig", "--stop-signal", "USR1", "busybox", "sh", "-c", "trap 'exit 9' USR1; echo ready; while :; do sleep 0.1; done")
	waitLog(t, e, "sig", "ready") // the trap is set: PID 1 ignores a signal it has no handler for
	e.ok("stop", "-t", "5", "sig")
	if code := e.inspect("{{.State.ExitCode}}", "sig"); code != "9" {
		t.Errorf("exit code after stop with --stop-signal USR1: %s, want 9 (the trap's)", code)
	}
	_, stderr, code := e.failsAny("run", "--rm", "--stop-signal", "NOPE", "busybox", "true")
	if code != 125 || !strings.Contains(stderr, "NOPE") {
		t.Errorf("--stop-signal NOPE: exit %d %q, want 125 naming it", code, stderr)
	}
}
