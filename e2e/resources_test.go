package e2e

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A process allocating past --memory is killed by the kernel: exit 137 and
// State.OOMKilled, recorded by the monitor with no client attached.
func TestMemoryLimitOOM(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, _, code := e.run("run", "--name", "hog", "--memory", "32m", "busybox", "sh", "-c",
		`x=$(head -c 100000000 /dev/zero | tr "\0" a); echo survived ${#x}`)
	if code != 137 {
		t.Errorf("exit %d, want 137", code)
	}
	if got := e.inspect("{{.State.ExitCode}} {{.State.OOMKilled}} {{.HostConfig.Memory}}", "hog"); got != "137 true 33554432" {
		t.Errorf("inspect: %q, want 137 true 33554432", got)
	}
	// Detached, with the CLI long gone when the kernel strikes.
	e.runD("--name", "hog2", "--memory", "32m", "busybox", "sh", "-c",
		`sleep 1; x=$(head -c 100000000 /dev/zero | tr "\0" a)`)
	if !waitFor(20*time.Second, func() bool { return e.inspect("{{.State.Status}}", "hog2") == "exited" }) {
		t.Fatal("hog2 did not exit")
	}
	if got := e.inspect("{{.State.ExitCode}} {{.State.OOMKilled}}", "hog2"); got != "137 true" {
		t.Errorf("detached: %q, want 137 true", got)
	}
}

func TestPidsLimitStopsForkLoop(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// The fork loop runs in a child shell, which dies when a fork fails;
	// the outer shell then counts processes without forking.
	out, stderr, code := e.run("run", "--rm", "--pids-limit", "10", "busybox", "sh", "-c",
		`sh -c 'i=0; while [ $i -lt 40 ]; do sleep 5 & i=$((i+1)); done' 2>/dev/null; set -- /proc/[0-9]*; echo $#`)
	n, err := strconv.Atoi(strings.TrimSpace(out))
	if code != 0 || err != nil {
		t.Fatalf("exit %d, output %q, stderr %q", code, out, stderr)
	}
	if n > 10 || n < 5 {
		t.Errorf("%d processes under --pids-limit 10 after a fork loop of 40, want the loop stopped at the limit", n)
	}
}

// --cpus 0.5 holds a busy loop at about half a core, measured from the
// container's own CPU counter (berth stats), not by timing work.
func TestCPUQuotaHalfCore(t *testing.T) {
	// CPU use is measured: no t.Parallel, so no other test competes.
	e := newEnv(t)
	e.runD("--name", "half", "--cpus", "0.5", "busybox", "sh", "-c", "while :; do :; done")
	e.runD("--name", "idle", "busybox", "sleep", "1000")
	time.Sleep(3 * time.Second)
	pct := func(name string) float64 {
		s := strings.TrimSuffix(strings.TrimSpace(e.ok("stats", "--no-stream", "--format", "{{.CPUPerc}}", name)), "%")
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("stats %s: %q", name, s)
		}
		return f
	}
	if half := pct("half"); half < 35 || half > 65 {
		t.Errorf("--cpus 0.5 container used %.1f%% of a core, want about 50%%", half)
	}
	if idle := pct("idle"); idle > 5 {
		t.Errorf("idle container used %.1f%%, want about 0", idle)
	}
	throttled := e.ok("stats", "--no-stream", "--format", "{{.Throttled}}", "half")
	if n, _, _ := strings.Cut(strings.TrimSpace(throttled), "/"); n == "0" || n == "" {
		t.Errorf("the --cpus 0.5 container was never throttled (%q)", throttled)
	}
	e.ok("rm", "-f", "half", "idle")
}

func TestStatsIdleVersusBusy(t *testing.T) {
	// CPU use is measured: no t.Parallel, so no other test competes.
	e := newEnv(t)
	e.runD("--name", "quiet", "busybox", "sleep", "1000")
	e.runD("--name", "worker", "busybox", "sh", "-c",
		`x=$(head -c 20000000 /dev/zero | tr "\0" a); while :; do :; done`)
	time.Sleep(2 * time.Second)
	out := e.ok("stats", "--no-stream", "--format", "{{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}")
	rows := map[string][]string{}
	for _, l := range lines(out) {
		f := strings.Fields(l)
		rows[f[0]] = f
	}
	q, w := rows["quiet"], rows["worker"]
	if q == nil || w == nil {
		t.Fatalf("stats rows %q", out)
	}
	cpu := func(s string) float64 { f, _ := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64); return f }
	if cpu(q[1]) > 5 || cpu(w[1]) < 40 {
		t.Errorf("cpu: quiet %s worker %s", q[1], w[1])
	}
	if !strings.HasSuffix(w[2], "MiB") {
		t.Errorf("worker memory %s, want MiB of use after a 20 MB allocation", w[2])
	}
	if q[len(q)-1] != "1" {
		t.Errorf("quiet pids %s, want 1", q[len(q)-1])
	}
	// Default table and -a.
	e.ok("run", "--name", "gone", "busybox", "true")
	if tbl := e.ok("stats", "--no-stream", "-a"); !strings.Contains(tbl, "CPU %") || !strings.Contains(tbl, "gone") {
		t.Errorf("stats -a table %q", tbl)
	}
	e.ok("rm", "-f", "quiet", "worker", "gone")
}

// on-failure:N restarts a failing container N times with back-off, then
// leaves it exited; stop ends an always loop.
func TestRestartPolicy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.runD("--name", "flaky", "--restart", "on-failure:3", "busybox", "sh", "-c", "echo run; exit 3")
	if !waitFor(20*time.Second, func() bool {
		return e.inspect("{{.State.Status}} {{.State.RestartCount}}", "flaky") == "exited 3"
	}) {
		t.Fatalf("flaky: %s, want exited after 3 restarts", e.inspect("{{.State.Status}} {{.State.RestartCount}}", "flaky"))
	}
	if runs := strings.Count(e.ok("logs", "flaky"), "run"); runs != 4 {
		t.Errorf("flaky ran %d times, want 4 (the first and 3 restarts)", runs)
	}
	if code := e.inspect("{{.State.ExitCode}} {{.HostConfig.RestartPolicy.Name}} {{.RestartCount}}", "flaky"); code != "3 on-failure 3" {
		t.Errorf("flaky: %q", code)
	}
	e.runD("--name", "forever", "--restart", "always", "busybox", "sh", "-c", "sleep 0.2; exit 0")
	// Between runs, ps says it is restarting, with the last exit code.
	if !waitFor(10*time.Second, func() bool {
		return strings.Contains(e.ok("ps", "-a", "--format", "{{.Names}} {{.Status}}"), "forever Restarting (0)")
	}) {
		t.Error("ps never showed the always container as Restarting (0)")
	}
	if !waitFor(10*time.Second, func() bool {
		n, _ := strconv.Atoi(e.inspect("{{.State.RestartCount}}", "forever"))
		return n >= 2
	}) {
		t.Fatal("always: no restarts seen")
	}
	e.ok("stop", "forever")
	before := e.inspect("{{.State.RestartCount}}", "forever")
	time.Sleep(1500 * time.Millisecond)
	if got := e.inspect("{{.State.Status}} {{.State.RestartCount}}", "forever"); got != "exited "+before {
		t.Errorf("after stop: %q, want exited with count %s", got, before)
	}
	if ps := e.ok("ps", "-a", "--format", "{{.Names}} {{.Status}}"); !strings.Contains(ps, "forever Exited") {
		t.Errorf("ps -a: %q", ps)
	}
}

func TestUpdatePauseUnpause(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.runD("--name", "upd", "--memory", "64m", "busybox", "sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done")
	e.ok("update", "--memory", "128m", "--memory-swap", "256m", "--pids-limit", "50", "upd")
	if got := e.inspect("{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}", "upd"); got != "134217728 50" {
		t.Errorf("after update: %q", got)
	}
	// The kernel has it too: from inside, the cgroup's own files say so.
	id := e.inspect("{{.Id}}", "upd")
	if lim := cgroupFile(t, "memory", id, "memory.limit_in_bytes", "memory.max"); lim != "134217728" {
		t.Errorf("memory limit in the cgroup: %q", lim)
	}
	e.ok("pause", "upd")
	if st := e.inspect("{{.State.Status}} {{.State.Paused}}", "upd"); st != "paused true" {
		t.Errorf("paused state %q", st)
	}
	e.fails(1, "exec", "upd", "true")
	a := e.ok("cp", "upd:/tmp/n", "-")
	time.Sleep(400 * time.Millisecond)
	b := e.ok("cp", "upd:/tmp/n", "-")
	if a != b {
		t.Error("a paused container kept counting")
	}
	e.ok("unpause", "upd")
	time.Sleep(400 * time.Millisecond)
	if c := e.ok("cp", "upd:/tmp/n", "-"); c == b {
		t.Error("the container did not resume after unpause")
	}
	_, stderr, _ := e.failsAny("update", "--memory", "1x", "upd")
	if !strings.Contains(stderr, "--memory") {
		t.Errorf("bad update value: %q", stderr)
	}
	e.ok("rm", "-f", "upd")
}

// cgroupFile reads a container's cgroup file (v1 name or v2 name).
func cgroupFile(t *testing.T, controller, id, v1, v2 string) string {
	t.Helper()
	for _, p := range []string{
		filepath.Join("/sys/fs/cgroup", controller, "berth", id, v1),
		filepath.Join("/sys/fs/cgroup/berth", id, v2),
	} {
		if b, err := os.ReadFile(p); err == nil {
			return strings.TrimSpace(string(b))
		}
	}
	t.Fatalf("no %s/%s for %s", v1, v2, id)
	return ""
}

// Bad values fail before anything is created.
func TestBadLimitsCreateNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, args := range [][]string{
		{"--memory", "1x"}, {"--cpus", "-1"}, {"--memory", "4m"}, {"--cpu-shares", "1"},
		{"--cpuset-cpus", "99"}, {"--cpu-period", "10"}, {"--memory", "64m", "--memory-swap", "32m"},
		{"--blkio-weight", "5"}, {"--ulimit", "nofile=10:5"}, {"--ulimit", "bogus=1"},
		{"--ulimit", "nofile=1000000:1000000"}, {"--restart", "sometimes"}, {"--cpus", "0.5", "--cpu-quota", "1000"},
	} {
		_, stderr, code := e.failsAny(append(append([]string{"run", "--rm"}, args...), "busybox", "true")...)
		if code != 125 || strings.TrimSpace(stderr) == "" {
			t.Errorf("run %v: exit %d, stderr %q; want 125 with a reason", args, code, stderr)
		}
	}
	if ps := strings.TrimSpace(e.ok("ps", "-aq")); ps != "" {
		t.Errorf("bad limits left containers: %q", ps)
	}
}

func TestUlimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if out := e.ok("run", "--rm", "--ulimit", "nofile=100:200", "busybox", "sh", "-c", "ulimit -n; ulimit -Hn"); out != "100\n200\n" {
		t.Errorf("ulimits %q", out)
	}
}

func TestSystemDfAndPrune(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ok("run", "--name", "wr", "busybox", "sh", "-c", "head -c 300000 /dev/zero > /big")
	out := e.ok("system", "df")
	if !strings.Contains(out, "Images") || !strings.Contains(out, "Containers") {
		t.Fatalf("system df %q", out)
	}
	row := ""
	for _, l := range lines(out) {
		if strings.HasPrefix(l, "Containers") {
			row = l
		}
	}
	if f := strings.Fields(row); len(f) < 4 || f[1] != "1" || f[2] != "0" || !strings.HasSuffix(f[3], "kB") {
		t.Errorf("containers row %q, want 1 total, 0 active, ~300kB", row)
	}
	pr := e.ok("system", "prune", "-f")
	if !strings.Contains(pr, "Deleted Containers:") || !strings.Contains(pr, "Total reclaimed space:") {
		t.Errorf("system prune output %q", pr)
	}
	if ps := strings.TrimSpace(e.ok("ps", "-aq")); ps != "" {
		t.Errorf("containers left after prune: %q", ps)
	}
}

// events shows what other berth processes do, live, and replays the past.
func TestEventsAcrossProcesses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := e.command(ctx, "events", "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); cmd.Wait() }()
	time.Sleep(300 * time.Millisecond)
	if _, _, code := e.run("run", "--rm", "--name", "ev", "busybox", "sh", "-c", "exit 4"); code != 4 {
		t.Errorf("run: exit %d, want 4", code)
	}
	e.ok("tag", "busybox", "evtag:1")
	want := []string{"container create ev", "container start ev", "container die ev", "container destroy ev", "image tag evtag:1"}
	sc := bufio.NewScanner(out)
	var got []string
	for len(got) < len(want) && sc.Scan() {
		got = append(got, sc.Text())
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("events %q, want %q", got, want)
	}
	// Replay with a filter: only the die, with its exit code.
	past := e.ok("events", "--since", "1m", "--until", "0s", "--filter", "event=die", "--format", "{{.Actor.Attributes.exitCode}}")
	if strings.TrimSpace(past) != "4" {
		t.Errorf("replayed die events %q, want the exit code 4", past)
	}
}
