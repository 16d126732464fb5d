package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestPs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	done1 := e.runD("--name", "done1", "busybox", "true")
	e.ok("wait", done1)
	done2 := e.runD("--name", "done2", "busybox", "sh", "-c", "exit 3")
	e.ok("wait", done2)
	created := strings.TrimSpace(e.ok("create", "--name", "fresh", "busybox", "true"))
	up := e.runD("--name", "up", "busybox", "sleep", "1000")

	// Default: running containers only, in a table with Docker's columns.
	out := e.ok("ps")
	rows := lines(out)
	if len(rows) != 2 {
		t.Fatalf("ps: %d lines, want the header and one running container:\n%s", len(rows), out)
	}
	for _, col := range []string{"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"} {
		if !strings.Contains(rows[0], col) {
			t.Errorf("ps header %q lacks %s", rows[0], col)
		}
	}
	if !strings.HasPrefix(rows[1], up[:12]+" ") || !strings.Contains(rows[1], "busybox") || !regexp.MustCompile(`\bUp\b`).MatchString(rows[1]) || !strings.HasSuffix(rows[1], "up") {
		t.Errorf("ps row %q: want %s, busybox, Up ..., name up", rows[1], up[:12])
	}

	// -a -q: every container, short IDs, newest first.
	want := []string{up[:12], created[:12], done2[:12], done1[:12]}
	if got := lines(e.ok("ps", "-a", "-q")); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("ps -a -q: %v, want %v (newest first)", got, want)
	}
	if got := lines(e.ok("ps", "-q")); strings.Join(got, " ") != up[:12] {
		t.Errorf("ps -q: %v, want only the running %s", got, up[:12])
	}
	if got := lines(e.ok("ps", "-l", "-q")); strings.Join(got, " ") != up[:12] {
		t.Errorf("ps -l -q: %v, want the latest %s", got, up[:12])
	}
	if got := lines(e.ok("ps", "-n", "2", "-q")); strings.Join(got, " ") != strings.Join(want[:2], " ") {
		t.Errorf("ps -n 2 -q: %v, want %v", got, want[:2])
	}
	if got := lines(e.ok("ps", "-a", "-q", "--no-trunc")); strings.Join(got, " ") != strings.Join([]string{up, created, done2, done1}, " ") {
		t.Errorf("ps -a -q --no-trunc: %v, want the full IDs", got)
	}
	if out := e.ok("ps", "--no-trunc"); !strings.Contains(out, up) {
		t.Errorf("ps --no-trunc does not show the full ID %s:\n%s", up, out)
	}
	if got := lines(e.ok("ps", "--filter", "status=exited", "--format", "{{.Names}}")); strings.Join(got, " ") != "done2 done1" {
		t.Errorf("ps --filter status=exited: %v, want done2 done1", got)
	}
	if got := lines(e.ok("ps", "--filter", "status=created", "-q")); strings.Join(got, " ") != created[:12] {
		t.Errorf("ps --filter status=created: %v, want %s", got, created[:12])
	}
	if got := lines(e.ok("ps", "-a", "--filter", "name=done", "--format", "{{.Names}}")); strings.Join(got, " ") != "done2 done1" {
		t.Errorf("ps -a --filter name=done: %v, want done2 done1", got)
	}
	if got := lines(e.ok("ps", "-a", "--filter", "exited=3", "--format", "{{.Names}}")); strings.Join(got, " ") != "done2" {
		t.Errorf("ps -a --filter exited=3: %v, want done2", got)
	}
	if got := lines(e.ok("ps", "-a", "--format", "{{.Names}}")); strings.Join(got, " ") != "up fresh done2 done1" {
		t.Errorf("ps -a --format {{.Names}}: %v", got)
	}
	if got := lines(e.ok("ps", "-a", "--filter", "status=exited", "--format", "{{.Names}} {{.Status}}")); len(got) != 2 || !strings.HasPrefix(got[0], "done2 Exited (3) ") || !strings.HasPrefix(got[1], "done1 Exited (0) ") {
		t.Errorf("ps status column: %v, want Exited (3) ... and Exited (0) ...", got)
	}

	// --format json: one object per line with Docker's fields.
	var states []string
	for _, l := range lines(e.ok("ps", "-a", "--format", "json")) {
		var row map[string]any
		if err := json.Unmarshal([]byte(l), &row); err != nil {
			t.Fatalf("ps --format json line %q: %v", l, err)
		}
		for _, k := range []string{"ID", "Image", "Command", "Names", "State", "Status", "CreatedAt"} {
			if _, ok := row[k]; !ok {
				t.Errorf("ps --format json: row lacks %s: %s", k, l)
			}
		}
		states = append(states, row["Names"].(string)+"="+row["State"].(string))
	}
	if strings.Join(states, " ") != "up=running fresh=created done2=exited done1=exited" {
		t.Errorf("ps --format json names/states: %v", states)
	}
	_, stderr, _ := e.failsAny("ps", "--filter", "nosuchfilter=1")
	if !strings.Contains(stderr, "nosuchfilter") {
		t.Errorf("ps --filter nosuchfilter=1: stderr %q does not name it", stderr)
	}
}

func TestLogs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.runD("--name", "lg", "busybox", "sh", "-c", "echo one; echo two; echo three >&2; echo four")
	e.ok("wait", "lg")
	out, stderr, code := e.run("logs", "lg")
	if code != 0 || out != "one\ntwo\nfour\n" || stderr != "three\n" {
		t.Errorf("logs lg: exit %d, stdout %q, stderr %q; want one two four / three", code, out, stderr)
	}
	if out, _, _ := e.run("logs", id[:8]); out != "one\ntwo\nfour\n" {
		t.Errorf("logs by ID prefix: %q", out)
	}

	e.runD("--name", "seq", "busybox", "seq", "1", "5")
	e.ok("wait", "seq")
	if out := e.ok("logs", "--tail", "2", "seq"); out != "4\n5\n" {
		t.Errorf("logs --tail 2: %q, want 4 5", out)
	}
	if out := e.ok("logs", "-n", "0", "seq"); out != "" {
		t.Errorf("logs -n 0: %q, want nothing", out)
	}
	if out := e.ok("logs", "--tail", "all", "seq"); out != "1\n2\n3\n4\n5\n" {
		t.Errorf("logs --tail all: %q", out)
	}

	// -t: an RFC 3339 timestamp with nanoseconds, then the line.
	stamps := map[string]time.Time{}
	for _, l := range lines(e.ok("logs", "-t", "seq")) {
		ts, text, ok := strings.Cut(l, " ")
		tm, err := time.Parse(time.RFC3339Nano, ts)
		if !ok || err != nil {
			t.Errorf("logs -t line %q: no timestamp (%v)", l, err)
			continue
		}
		if d := time.Since(tm); d < 0 || d > time.Minute {
			t.Errorf("logs -t: timestamp %v is not from now", tm)
		}
		stamps[text] = tm
	}
	if len(stamps) != 5 {
		t.Errorf("logs -t: %d lines, want 5", len(stamps))
	}

	// --since: only what came after the given time.
	e.runD("--name", "slow", "busybox", "sh", "-c", "echo early; sleep 1.2; echo late")
	e.ok("wait", "slow")
	times := map[string]time.Time{}
	for _, l := range lines(e.ok("logs", "-t", "slow")) {
		ts, text, _ := strings.Cut(l, " ")
		tm, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			t.Fatalf("logs -t line %q: %v", l, err)
		}
		times[text] = tm
	}
	early, late := times["early"], times["late"]
	if early.IsZero() || late.IsZero() || late.Sub(early) < time.Second {
		t.Fatalf("logs -t slow: early %v, late %v: want both, a second apart", early, late)
	}
	mid := early.Add(late.Sub(early) / 2)
	if out := e.ok("logs", "--since", mid.Format(time.RFC3339Nano), "slow"); out != "late\n" {
		t.Errorf("logs --since %s: %q, want only late", mid.Format(time.RFC3339Nano), out)
	}
	unix := strconv.FormatFloat(float64(mid.UnixNano())/1e9, 'f', 6, 64)
	if out := e.ok("logs", "--since", unix, "slow"); out != "late\n" {
		t.Errorf("logs --since %s (Unix time): %q, want only late", unix, out)
	}
	if out := e.ok("logs", "--since", "10m", "slow"); out != "early\nlate\n" {
		t.Errorf("logs --since 10m: %q, want both lines", out)
	}
	if out := e.ok("logs", "--until", mid.Format(time.RFC3339Nano), "slow"); out != "early\n" {
		t.Errorf("logs --until: %q, want only early", out)
	}
	_, stderr, _ = e.failsAny("logs", "nosuchcontainer")
	if !strings.Contains(stderr, "nosuchcontainer") {
		t.Errorf("logs of a missing container: %q does not name it", stderr)
	}
}

func TestLogsFollow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// The container prints l1, then waits for the test to read it from
	// logs -f (and say so with a file) before it prints the rest: lines
	// must arrive while the container runs, not only at its end.
	e.runD("--name", "fol", "busybox", "sh", "-c", "echo l1; while [ ! -e /tmp/go ]; do sleep 0.05; done; for i in 2 3 4 5 6; do echo l$i; done")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := e.command(ctx, "logs", "-f", "fol")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(stdout)
	first, err := r.ReadString('\n')
	if err != nil || first != "l1\n" {
		t.Fatalf("logs -f: first line %q, %v", first, err)
	}
	e.ok("exec", "fol", "touch", "/tmp/go")
	rest, _ := io.ReadAll(r)
	err = cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("logs -f did not return when the container exited")
	}
	if err != nil {
		t.Errorf("logs -f: %v: %s", err, stderr.String())
	}
	if got := first + string(rest); got != "l1\nl2\nl3\nl4\nl5\nl6\n" {
		t.Errorf("logs -f printed %q, want l1..l6", got)
	}
	if st := e.inspect("{{.State.Status}}", "fol"); st != "exited" {
		t.Errorf("logs -f returned while the container is %s", st)
	}
	// On an exited container, -f prints everything and returns at once.
	if out := e.ok("logs", "-f", "fol"); out != "l1\nl2\nl3\nl4\nl5\nl6\n" {
		t.Errorf("logs -f of an exited container: %q", out)
	}
}

func TestStopKillRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	// PID 1 ignores SIGTERM (no handler): stop waits -t, then kills.
	e.runD("--name", "sl", "busybox", "sleep", "100")
	start := time.Now()
	if out := e.ok("stop", "-t", "1", "sl"); out != "sl\n" {
		t.Errorf("stop printed %q, want the name", out)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("stop -t 1 of a container that ignores SIGTERM took %v, less than the 1s it must wait", d)
	}
	if got := e.inspect("{{.State.Status}} {{.State.ExitCode}} {{.State.Running}} {{.State.Pid}}", "sl"); got != "exited 137 false 0" {
		t.Errorf("after stop -t 1: %q, want exited 137 false 0", got)
	}

	// A trap on TERM: the container exits with its own code, at once.
	e.runD("--name", "tr", "busybox", "sh", "-c", `trap "exit 3" TERM; echo ready; while :; do sleep 0.1; done`)
	waitLog(t, e, "tr", "ready")
	e.ok("stop", "-t", "10", "tr")
	// 3, not 137: it ended on SIGTERM, not on the kill after -t.
	if got := e.inspect("{{.State.ExitCode}}", "tr"); got != "3" {
		t.Errorf("exit code after stop with a TERM trap: %s, want 3", got)
	}

	// kill -s USR1 reaches a trap; the container keeps running.
	e.runD("--name", "us", "busybox", "sh", "-c", `trap "echo got-usr1" USR1; echo ready; while :; do sleep 0.1; done`)
	waitLog(t, e, "us", "ready")
	if out := e.ok("kill", "-s", "USR1", "us"); out != "us\n" {
		t.Errorf("kill printed %q, want the name", out)
	}
	waitLog(t, e, "us", "got-usr1")
	if got := e.inspect("{{.State.Running}}", "us"); got != "true" {
		t.Errorf("after kill -s USR1: running %s, want true", got)
	}
	e.ok("kill", "us")
	if got := strings.TrimSpace(e.ok("wait", "us")); got != "137" {
		t.Errorf("wait after kill: %s, want 137", got)
	}
	_, stderr := e.fails(1, "kill", "us")
	if !strings.Contains(stderr, "us") || !strings.Contains(strings.ToLower(stderr), "not running") {
		t.Errorf("kill of a stopped container: %q, want an error that it is not running", stderr)
	}

	// restart: a new process, the old output kept.
	e.runD("--name", "rs", "busybox", "sh", "-c", "echo start; exec sleep 100")
	waitLog(t, e, "rs", "start")
	pid1 := e.inspect("{{.State.Pid}}", "rs")
	startedAt := e.inspect("{{.State.StartedAt}}", "rs")
	e.ok("restart", "-t", "1", "rs")
	if got := e.inspect("{{.State.Running}}", "rs"); got != "true" {
		t.Errorf("after restart: running %s", got)
	}
	if pid2 := e.inspect("{{.State.Pid}}", "rs"); pid2 == pid1 || pid2 == "0" {
		t.Errorf("after restart: pid %s (was %s), want a new process", pid2, pid1)
	}
	if s := e.inspect("{{.State.StartedAt}}", "rs"); s == startedAt {
		t.Errorf("after restart: StartedAt unchanged (%s)", s)
	}
	waitLog(t, e, "rs", "start\nstart\n")
	e.ok("rm", "-f", "rs")

	// wait prints the exit code.
	e.runD("--name", "wt", "busybox", "sh", "-c", "sleep 0.5; exit 42")
	if got := e.ok("wait", "wt"); got != "42\n" {
		t.Errorf("wait: %q, want 42", got)
	}
	if got := e.ok("wait", "wt"); got != "42\n" {
		t.Errorf("wait on an exited container: %q, want 42", got)
	}
}

// waitLog waits until a container's logs contain want.
func waitLog(t *testing.T, e *env, name, want string) {
	t.Helper()
	var out string
	if !waitFor(time.Minute, func() bool {
		out, _, _ = e.run("logs", name)
		return strings.Contains(out, want)
	}) {
		t.Fatalf("logs of %s never showed %q: %q", name, want, out)
	}
}

func TestRmRenamePrune(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.runD("--name", "busy", "busybox", "sleep", "1000")
	_, stderr := e.fails(1, "rm", "busy")
	if low := strings.ToLower(stderr); !strings.Contains(low, "running") || !strings.Contains(low, "stop") && !strings.Contains(low, "force") {
		t.Errorf("rm of a running container: %q, want an error telling to stop it or use force", stderr)
	}
	if got := e.inspect("{{.State.Running}}", "busy"); got != "true" {
		t.Errorf("a failed rm stopped the container: running %s", got)
	}
	if out := e.ok("rm", "-f", "busy"); out != "busy\n" {
		t.Errorf("rm -f printed %q, want the name", out)
	}
	if _, err := os.Stat(e.root + "/containers/" + id); err == nil {
		t.Errorf("rm -f left the container's directory")
	}
	e.fails(1, "inspect", "busy")

	e.ok("create", "--name", "old", "busybox", "true")
	if out, stderr, code := e.run("rename", "old", "new"); code != 0 || out != "" {
		t.Errorf("rename: exit %d, %q %q", code, out, stderr)
	}
	if got := e.inspect("{{.Name}}", "new"); got != "/new" {
		t.Errorf("after rename, inspect new: Name %q", got)
	}
	e.fails(1, "inspect", "old")
	e.ok("create", "--name", "other", "busybox", "true")
	_, stderr = e.fails(1, "rename", "new", "other")
	if !strings.Contains(stderr, "other") {
		t.Errorf("rename to a taken name: %q, want a conflict naming it", stderr)
	}
	e.ok("create", "--name", "old", "busybox", "true") // the old name is free again

	// prune removes stopped containers only.
	e.runD("--name", "keep", "busybox", "sleep", "1000")
	ex := e.runD("--name", "gone", "busybox", "true")
	e.ok("wait", ex)
	out := e.ok("container", "prune", "-f")
	if !strings.Contains(out, ex) || !strings.Contains(out, "Total reclaimed space") {
		t.Errorf("container prune -f printed %q, want the pruned ID %s", out, ex)
	}
	if got := lines(e.ok("ps", "-a", "--format", "{{.Names}}")); strings.Join(got, " ") != "keep" {
		t.Errorf("after prune: %v, want only the running keep", got)
	}
}

func TestTopInspect(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.runD("--name", "tp", "busybox", "sh", "-c", "sleep 1001 & exec sleep 1002")
	pid := e.inspect("{{.State.Pid}}", "tp")
	// Wait for the shell to have forked and exec'd: until then its own
	// command line (which names both sleeps) is PID 1's.
	var out string
	waitFor(time.Minute, func() bool {
		out = e.ok("top", "tp")
		rows := lines(out)
		return len(rows) == 3 && strings.HasSuffix(rows[1], " sleep 1001") != strings.HasSuffix(rows[1], " sleep 1002") &&
			strings.HasSuffix(rows[2], " sleep 1001") != strings.HasSuffix(rows[2], " sleep 1002") && !strings.Contains(out, "exec")
	})
	rows := lines(out)
	if len(rows) != 3 || !strings.Contains(rows[0], "PID") || !strings.Contains(rows[0], "CMD") {
		t.Fatalf("top: want a header and the two sleeps:\n%s", out)
	}
	var pids []string
	for _, r := range rows[1:] {
		pids = append(pids, strings.Fields(r)[1])
	}
	if !strings.Contains(out, "sleep 1002") || !strings.Contains(out, "sleep 1001") || !strings.Contains(strings.Join(pids, " "), pid) {
		t.Errorf("top: want sleep 1001 and sleep 1002, the latter with the host PID %s:\n%s", pid, out)
	}

	// inspect: Docker's shape.
	var views []map[string]any
	if err := json.Unmarshal([]byte(e.ok("inspect", "tp")), &views); err != nil || len(views) != 1 {
		t.Fatalf("inspect tp: not a JSON array of one object: %v", err)
	}
	v := views[0]
	st, _ := v["State"].(map[string]any)
	if v["Id"] != id || v["Name"] != "/tp" || st["Running"] != true || st["Status"] != "running" || st["ExitCode"] != float64(0) {
		t.Errorf("inspect: Id %v Name %v State %v", v["Id"], v["Name"], st)
	}
	if p, _ := st["Pid"].(float64); strconv.Itoa(int(p)) != pid || p <= 0 {
		t.Errorf("inspect State.Pid %v, want %s", st["Pid"], pid)
	}
	if _, err := os.Stat("/proc/" + pid); err != nil {
		t.Errorf("State.Pid %s is not a process on the host", pid)
	}
	if cmdline, _ := os.ReadFile("/proc/" + pid + "/cmdline"); !strings.HasPrefix(string(cmdline), "sleep\x001002") {
		t.Errorf("State.Pid %s runs %q, want sleep 1002", pid, cmdline)
	}
	if got := e.inspect("{{.State.Status}}", "tp"); got != "running" {
		t.Errorf("inspect --format {{.State.Status}}: %q", got)
	}
	if got := e.inspect("{{.Config.Image}} {{.HostConfig.NetworkMode}}", "tp"); got != "busybox none" {
		t.Errorf("inspect Config.Image/HostConfig.NetworkMode: %q", got)
	}
	e.ok("kill", "tp")
	e.ok("wait", "tp")
	if got := e.inspect("{{.State.Status}} {{.State.Running}} {{.State.ExitCode}} {{.State.Pid}}", "tp"); got != "exited false 137 0" {
		t.Errorf("after kill: %q, want exited false 137 0", got)
	}
	_, stderr, _ := e.failsAny("top", "tp")
	if !strings.Contains(stderr, "tp") {
		t.Errorf("top of a stopped container: %q does not name it", stderr)
	}
	_, stderr, _ = e.failsAny("inspect", "nosuchthing")
	if !strings.Contains(stderr, "nosuchthing") {
		t.Errorf("inspect nosuchthing: %q does not name it", stderr)
	}
}

func TestCreateStart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := strings.TrimSpace(e.ok("create", "--name", "cs", "busybox", "sh", "-c", "echo created-out; echo err-out >&2; exit 4"))
	if !fullID.MatchString(id) {
		t.Fatalf("create printed %q, want a 64-hex ID", id)
	}
	if got := e.inspect("{{.State.Status}}", "cs"); got != "created" {
		t.Errorf("after create: %s, want created", got)
	}
	out, stderr, code := e.run("start", "-a", "cs")
	if code != 4 || out != "created-out\n" || stderr != "err-out\n" {
		t.Errorf("start -a: exit %d, stdout %q, stderr %q; want 4, created-out, err-out", code, out, stderr)
	}
	// start of an exited container runs it again.
	if out := e.ok("start", "cs"); out != "cs\n" {
		t.Errorf("start printed %q, want the name", out)
	}
	if got := e.ok("wait", "cs"); got != "4\n" {
		t.Errorf("wait after the second start: %q", got)
	}
	if out := e.ok("logs", "cs"); out != "created-out\ncreated-out\n" {
		t.Errorf("logs after two runs: %q, want created-out twice", out)
	}
	e.fails(1, "start", "nosuchcontainer")

	// Starting again right after an exit works every time (the previous
	// run's monitor may still be finishing).
	e.ok("create", "--name", "again", "busybox", "echo", "again")
	for i := 0; i < 15; i++ {
		out, stderr, code := e.run("start", "-a", "again")
		if code != 0 || out != "again\n" {
			t.Errorf("start -a number %d right after the previous run: exit %d, %q, %q", i+1, code, out, strings.TrimSpace(stderr))
			break
		}
	}
}

// TestOutlivesCLI: containers belong to their monitors, not to the command
// that started them.
func TestOutlivesCLI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.runD("--name", "bg", "busybox", "sh", "-c", "echo bg-ready; exec sleep 1000")
	// That berth process is gone; another one sees the container running.
	if got := e.inspect("{{.State.Running}}", "bg"); got != "true" {
		t.Fatalf("after run -d returned, running %s", got)
	}
	if got := lines(e.ok("ps", "-q")); strings.Join(got, " ") != id[:12] {
		t.Errorf("ps -q: %v, want %s", got, id[:12])
	}
	if out := e.ok("exec", "bg", "echo", "inside"); out != "inside\n" {
		t.Errorf("exec: %q", out)
	}
	waitLog(t, e, "bg", "bg-ready")

	// A foreground run killed with SIGKILL: the container keeps running.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fg := e.command(ctx, "run", "--name", "fg", "busybox", "sh", "-c", "echo fg-ready; exec sleep 1000")
	stdout, err := fg.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := fg.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if line != "fg-ready\n" {
		t.Fatalf("foreground run printed %q", line)
	}
	fg.Process.Kill()
	fg.Wait()
	time.Sleep(300 * time.Millisecond)
	if got := e.inspect("{{.State.Running}}", "fg"); got != "true" {
		t.Errorf("after the foreground CLI was killed, the container is not running")
	}
	if out := e.ok("logs", "fg"); out != "fg-ready\n" {
		t.Errorf("logs fg: %q", out)
	}
	if out := e.ok("exec", "fg", "echo", "still-here"); out != "still-here\n" {
		t.Errorf("exec fg: %q", out)
	}
	e.ok("stop", "-t", "1", "bg", "fg")
	if got := e.inspect("{{.State.Status}}", "bg"); got != "exited" {
		t.Errorf("after stop: %s", got)
	}
}
