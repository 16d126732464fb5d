package e2e

import (
	"bufio"
	"context"
	"fmt"
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
	if !waitFor(time.Minute, func() bool { return e.inspect("{{.State.Status}}", "hog2") == "exited" }) {
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

// --cpus 0.5 holds a container to half a core, whatever else the machine
// runs. The proof is the kernel's own account, which holds at any load: the
// container's cgroup is throttled (cpu.stat nr_throttled and the throttled
// time grow), and over the whole window its CPU time stays within half the
// wall time (plus slack for period edges and tick granularity). "Usage
// reaches about 50%" would not hold: on a busy machine the container gets
// less than its quota. So that it meets the quota even there, it runs four
// busy loops (the quota caps them together) at the highest --cpu-shares
// (other containers do not starve it); without the quota those loops use
// more than half a core, and no period is ever throttled. berth stats must
// report the throttling and, reading after reading, a CPU % within the quota.
func TestCPUQuotaHalfCore(t *testing.T) {
	// CPU use is measured: no t.Parallel, so no other test competes.
	e := newEnv(t)
	id := e.runD("--name", "half", "--cpus", "0.5", "--cpu-shares", "262144", "busybox", "sh", "-c",
		"for i in 1 2 3 4; do (while :; do :; done) & done; wait")
	idle := e.runD("--name", "idle", "busybox", "sleep", "1000")
	if q := cgroupFile(t, "cpu", id, "cpu.cfs_quota_us", "cpu.max"); q != "50000" && q != "50000 100000" {
		t.Errorf("the cgroup's quota is %q, want 50000 (µs per 100000)", q)
	}
	// At most 50 ms per 100 ms period; a window touches two partial
	// periods, and each CPU can overrun its last slice by a tick.
	limit := func(wall time.Duration) time.Duration { return wall/2 + wall/10 + 100*time.Millisecond }
	t0, u0, idle0 := time.Now(), cpuUsage(t, id), cpuUsage(t, idle)
	var st map[string]uint64
	var used, wall time.Duration
	waitFor(time.Minute, func() bool {
		st = cpuStat(t, id)
		used, wall = cpuUsage(t, id)-u0, time.Since(t0)
		return used > limit(wall) || st["nr_throttled"] >= 5 && wall >= 2*time.Second
	})
	t.Logf("--cpus 0.5: %v of CPU in %v, throttled in %d of %d periods", used, wall, st["nr_throttled"], st["nr_periods"])
	if used > limit(wall) {
		t.Fatalf("the --cpus 0.5 container used %v of CPU in %v, more than half a core allows (%v)", used, wall, limit(wall))
	}
	if st["nr_throttled"] < 5 {
		t.Fatalf("the --cpus 0.5 container running four busy loops was throttled in %d periods in %v, want 5 or more: cpu.stat %v",
			st["nr_throttled"], wall, st)
	}
	if st["throttled_time"]+st["throttled_usec"] == 0 {
		t.Errorf("throttled in %d periods but for no time: cpu.stat %v", st["nr_throttled"], st)
	}
	if d := cpuUsage(t, idle) - idle0; d > 50*time.Millisecond {
		t.Errorf("the idle container used %v of CPU in %v, want about none", d, wall)
	}

	// berth stats: the throttled periods, and a CPU % within the quota in
	// each reading after the first (the first covers the whole life).
	throttled := strings.TrimSpace(e.ok("stats", "--no-stream", "--format", "{{.Throttled}}", "half"))
	if n, _, _ := strings.Cut(throttled, "/"); n == "" || n == "0" {
		t.Errorf("berth stats shows the --cpus 0.5 container never throttled (%q); its cpu.stat says %d periods", throttled, st["nr_throttled"])
	}
	pcts := streamCPUPercent(t, e, "half", 3)
	t.Logf("berth stats readings: %v", pcts)
	for i, p := range pcts[1:] {
		if p > 60 {
			t.Errorf("berth stats reading %d: the --cpus 0.5 container at %.1f%%, more than half a core", i+2, p)
		}
	}
	e.ok("rm", "-f", "half", "idle")
}

// streamCPUPercent reads n readings of the CPU % of one container from a
// running `berth stats`.
func streamCPUPercent(t *testing.T, e *env, name string, n int) []float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := e.command(ctx, "stats", "--format", "{{.CPUPerc}}", name)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); cmd.Wait() }()
	var got []float64
	sc := bufio.NewScanner(out)
	for len(got) < n && sc.Scan() {
		f, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(sc.Text()), "%"), 64)
		if err != nil {
			t.Fatalf("berth stats %s: reading %q", name, sc.Text())
		}
		got = append(got, f)
	}
	if len(got) < n {
		t.Fatalf("berth stats %s: %d readings (%v), want %d", name, len(got), sc.Err(), n)
	}
	return got
}

// cpuUsage is a container's total CPU time, from its cgroup: v1
// cpuacct.usage, v2 cpu.stat usage_usec.
func cpuUsage(t *testing.T, id string) time.Duration {
	t.Helper()
	s := cgroupFile(t, "cpuacct", id, "cpuacct.usage", "cpu.stat")
	if ns, err := strconv.ParseUint(s, 10, 64); err == nil {
		return time.Duration(ns)
	}
	if us, ok := keyedNumbers(s)["usage_usec"]; ok {
		return time.Duration(us) * time.Microsecond
	}
	t.Fatalf("no CPU usage in the cgroup of %s: %q", id, s)
	return 0
}

// cpuStat is a container's cgroup cpu.stat: nr_periods, nr_throttled and
// throttled_time (ns, v1) or throttled_usec (v2).
func cpuStat(t *testing.T, id string) map[string]uint64 {
	t.Helper()
	return keyedNumbers(cgroupFile(t, "cpu", id, "cpu.stat", "cpu.stat"))
}

// keyedNumbers parses "key value" lines.
func keyedNumbers(s string) map[string]uint64 {
	m := map[string]uint64{}
	for _, l := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), " "); ok {
			if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
				m[k] = n
			}
		}
	}
	return m
}

// berth stats tells a busy container from an idle one. What holds at any
// load is the counters: the busy one's CPU time grows (by half a second,
// waited for as long as a starved container needs) while the idle one's
// stays near nothing; berth stats must then rank them so (both percentages
// are over their whole lives, the idle one's the longer). A fixed "the busy
// one is over 40%" would not hold: a loaded machine gives it less.
func TestStatsIdleVersusBusy(t *testing.T) {
	// CPU use is measured: no t.Parallel, so no other test competes.
	e := newEnv(t)
	quiet := e.runD("--name", "quiet", "busybox", "sleep", "1000")
	worker := e.runD("--name", "worker", "busybox", "sh", "-c",
		`x=$(head -c 20000000 /dev/zero | tr "\0" a); echo allocated; while :; do :; done`)
	waitLog(t, e, "worker", "allocated")
	q0, w0 := cpuUsage(t, quiet), cpuUsage(t, worker)
	var busy time.Duration
	if !waitFor(time.Minute, func() bool { busy = cpuUsage(t, worker) - w0; return busy >= 500*time.Millisecond }) {
		t.Fatalf("the busy container's CPU time grew by %v in a minute, want 500ms or more", busy)
	}
	if idle := cpuUsage(t, quiet) - q0; idle > 50*time.Millisecond {
		t.Errorf("the idle container's CPU time grew by %v while the busy one's grew by %v, want about none", idle, busy)
	}
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
	if cpu(q[1]) > 5 || cpu(w[1]) <= cpu(q[1]) {
		t.Errorf("cpu: quiet %s worker %s, want the worker above the quiet one, and the quiet one near 0", q[1], w[1])
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
	if !waitFor(time.Minute, func() bool {
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
	if !waitFor(time.Minute, func() bool {
		return strings.Contains(e.ok("ps", "-a", "--format", "{{.Names}} {{.Status}}"), "forever Restarting (0)")
	}) {
		t.Error("ps never showed the always container as Restarting (0)")
	}
	if !waitFor(time.Minute, func() bool {
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
	// A counter in /tmp/n, replaced whole (a copy never reads it half written).
	counter := "i=0; while :; do i=$((i+1)); echo $i > /tmp/m; mv /tmp/m /tmp/n; sleep 0.05; done"
	id := e.runD("--name", "upd", "--memory", "64m", "busybox", "sh", "-c", counter)
	e.ok("update", "--memory", "128m", "--memory-swap", "256m", "--pids-limit", "50", "upd")
	if got := e.inspect("{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}", "upd"); got != "134217728 50" {
		t.Errorf("after update: %q", got)
	}
	// The kernel has it too: from inside, the cgroup's own files say so.
	if lim := cgroupFile(t, "memory", id, "memory.limit_in_bytes", "memory.max"); lim != "134217728" {
		t.Errorf("memory limit in the cgroup: %q", lim)
	}
	// count reads the container's counter; advanced waits until a
	// container's counter passes from.
	count := func(name string) int {
		out, _, code := e.run("cp", name+":/tmp/n", "-")
		if code != 0 {
			return 0 // not written yet
		}
		_, files := tarHeaders(t, []byte(out))
		n, err := strconv.Atoi(strings.TrimSpace(files["n"]))
		if err != nil {
			t.Fatalf("the counter of %s: %q", name, files["n"])
		}
		return n
	}
	advanced := func(name string, from int) bool {
		return waitFor(time.Minute, func() bool { return count(name) > from })
	}
	if !advanced("upd", 0) {
		t.Fatal("the container never counted")
	}
	e.ok("pause", "upd")
	if st := e.inspect("{{.State.Status}} {{.State.Paused}}", "upd"); st != "paused true" {
		t.Errorf("paused state %q", st)
	}
	// The kernel's word: every task of the cgroup is frozen.
	if fr := cgroupFile(t, "freezer", id, "freezer.state", "cgroup.freeze"); fr != "FROZEN" && fr != "1" {
		t.Errorf("the paused container's cgroup freezer is %q, want FROZEN", fr)
	}
	e.fails(1, "exec", "upd", "true")
	// While paused it does not count, for as long as the same loop in a
	// running container takes to count three times more, however slow the
	// machine: a window measured by work, not by the clock.
	a := count("upd")
	e.runD("--name", "ctl", "busybox", "sh", "-c", counter)
	for n := 0; n < 3; n++ {
		if !advanced("ctl", count("ctl")) {
			t.Fatal("the running control container stopped counting")
		}
	}
	if b := count("upd"); b != a {
		t.Errorf("a paused container kept counting: %d, then %d", a, b)
	}
	e.ok("unpause", "upd")
	if !advanced("upd", a) {
		t.Error("the container did not resume after unpause")
	}
	_, stderr, _ := e.failsAny("update", "--memory", "1x", "upd")
	if !strings.Contains(stderr, "--memory") {
		t.Errorf("bad update value: %q", stderr)
	}
	e.ok("rm", "-f", "upd", "ctl")
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
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
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
	evs := make(chan string)
	go func() {
		defer close(evs)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case evs <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	// Without --since, events shows only what happens after it started:
	// tag the image until events prints the tag, so it is known to listen.
	ready := func() bool {
		for i := 0; ; i++ {
			e.ok("tag", "busybox", fmt.Sprintf("evready:%d", i))
			select {
			case l, ok := <-evs:
				if !ok {
					return false
				}
				if strings.HasPrefix(l, "image tag evready:") {
					return true
				}
				t.Errorf("before anything else, events printed %q", l)
			case <-time.After(time.Second):
			case <-ctx.Done():
				return false
			}
		}
	}
	if !ready() {
		t.Fatal("berth events never showed an image tagged after it started")
	}
	if _, _, code := e.run("run", "--rm", "--name", "ev", "busybox", "sh", "-c", "exit 4"); code != 4 {
		t.Errorf("run: exit %d, want 4", code)
	}
	e.ok("tag", "busybox", "evtag:1")
	want := []string{"container create ev", "container start ev", "container die ev", "container destroy ev", "image tag evtag:1"}
	var got []string
	for len(got) < len(want) {
		l, ok := <-evs
		if !ok {
			break
		}
		if !strings.HasPrefix(l, "image tag evready:") { // a tag made while the first was on its way
			got = append(got, l)
		}
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
