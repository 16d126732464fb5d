package e2e

import (
	"strings"
	"testing"
	"time"
)

func TestExec(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.runD("--name", "ex", "-e", "FROMRUN=yes", "busybox", "sleep", "1000")

	if out := e.ok("exec", "ex", "cat", "/etc/hostname"); out != id[:12]+"\n" {
		t.Errorf("exec cat /etc/hostname: %q, want %s", out, id[:12])
	}
	e.fails(4, "exec", "ex", "sh", "-c", "exit 4")
	out, stderr, code := e.run("exec", "ex", "sh", "-c", "echo out; echo err >&2")
	if code != 0 || out != "out\n" || stderr != "err\n" {
		t.Errorf("exec streams: exit %d, %q, %q", code, out, stderr)
	}
	if out := e.ok("exec", "-e", "A=b", "ex", "sh", "-c", "echo $A $FROMRUN"); out != "b yes\n" {
		t.Errorf("exec -e A=b: %q, want \"b yes\" (its own and the container's env)", out)
	}
	if out := e.ok("exec", "-w", "/etc", "ex", "pwd"); out != "/etc\n" {
		t.Errorf("exec -w /etc pwd: %q", out)
	}
	if out := e.ok("exec", "-u", "alice", "ex", "id"); !strings.HasPrefix(out, "uid=1000(alice) gid=1000(alice)") {
		t.Errorf("exec -u alice id: %q", out)
	}
	if out := e.ok("exec", "-u", "1000:100", "ex", "id", "-g"); out != "100\n" {
		t.Errorf("exec -u 1000:100 id -g: %q", out)
	}
	// It runs in the container's namespaces: it sees PID 1 = sleep.
	if out := e.ok("exec", "ex", "cat", "/proc/1/cmdline"); out != "sleep\x001000\x00" {
		t.Errorf("exec: /proc/1/cmdline is %q, want the container's sleep 1000", out)
	}
	// Same default capabilities as the container.
	if out := e.ok("exec", "ex", "grep", "^CapEff:", "/proc/self/status"); !strings.Contains(out, "00000000a80425fb") {
		t.Errorf("exec CapEff: %q, want Docker's default set", out)
	}
	if out := e.ok("exec", "-i", "ex", "cat"); out != "" {
		t.Errorf("exec -i with empty stdin: %q", out)
	}

	// -d: returns at once; the command's effect shows later. The command
	// waits for a file made only after exec -d returned: an exec -d that
	// waited for it would never return.
	if out := e.ok("exec", "-d", "ex", "sh", "-c", "while [ ! -e /tmp/exec-d-go ]; do sleep 0.05; done; touch /tmp/exec-d-done"); out != "" {
		t.Errorf("exec -d printed %q, want nothing", out)
	}
	e.fails(1, "exec", "ex", "test", "-e", "/tmp/exec-d-done")
	e.ok("exec", "ex", "touch", "/tmp/exec-d-go")
	if !waitFor(time.Minute, func() bool {
		_, _, code := e.run("exec", "ex", "test", "-e", "/tmp/exec-d-done")
		return code == 0
	}) {
		t.Errorf("exec -d: /tmp/exec-d-done never appeared")
	}

	_, stderr = e.fails(127, "exec", "ex", "nosuchcmd-xyz")
	if !strings.Contains(stderr, "nosuchcmd-xyz") {
		t.Errorf("exec of a missing command: %q does not name it", stderr)
	}
	e.fails(126, "exec", "ex", "/etc/passwd")

	// A stopped container: an error naming it.
	e.ok("kill", "ex")
	e.ok("wait", "ex")
	_, stderr, code = e.failsAny("exec", "ex", "true")
	if !strings.Contains(stderr, "ex") && !strings.Contains(stderr, id[:12]) {
		t.Errorf("exec into a stopped container: %q does not name it", stderr)
	}
	if !strings.Contains(strings.ToLower(stderr), "not running") {
		t.Errorf("exec into a stopped container: %q, want \"is not running\"", stderr)
	}
	if code != 1 {
		t.Errorf("exec into a stopped container: exit %d, want 1 (Docker's)", code)
	}
	e.ok("create", "--name", "never", "busybox", "sleep", "1000")
	_, stderr, _ = e.failsAny("exec", "never", "true")
	if !strings.Contains(strings.ToLower(stderr), "not running") {
		t.Errorf("exec into a created container: %q, want \"is not running\"", stderr)
	}
	_, stderr, _ = e.failsAny("exec", "nosuchcontainer", "true")
	if !strings.Contains(stderr, "nosuchcontainer") {
		t.Errorf("exec into a missing container: %q does not name it", stderr)
	}
}
