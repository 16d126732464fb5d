package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestCrash kills berth with SIGKILL at random moments of import, load,
// build, commit, rm and run, and after every kill requires `berth system
// check` to find the state root consistent.
//
// "Consistent" is what the check's exit status 0 says: no finding is a
// problem. Harmless findings are allowed: they are what an interrupted
// operation is entitled to leave (a half-written blob in ingest/, a blob or
// snapshot committed but not yet recorded, a container being created, the
// files of a removal, a killed build's step container and temp dirs), and
// the next berth command or `system check --repair` removes them. So after
// each kill the check must exit 0; every other kill is followed by a
// repair, which must exit 0 too (the others leave their leftovers to the
// next command's clean-up, the path a real crash takes). At the end of
// each command's batch, every container removed, a repair and a check must
// find nothing at all.
//
// Each kill falls after a delay drawn uniformly from the command's own
// duration: the median of its runs that were not killed (three measured
// first, then those that finished before their kill), so the kills spread
// over the whole command on any machine. The seed is logged, and
// BERTH_CRASH_SEED=N replays the same draws; BERTH_CRASH_KILLS=N changes
// the number of kills per command (100). Each command has a state root of
// its own, and two run at a time.
func TestCrash(t *testing.T) {
	seed := time.Now().UnixNano()
	if s := os.Getenv("BERTH_CRASH_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseInt(s, 10, 64); err != nil {
			t.Fatalf("BERTH_CRASH_SEED=%q: %v", s, err)
		}
	}
	kills := 100
	if s := os.Getenv("BERTH_CRASH_KILLS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("BERTH_CRASH_KILLS=%q: want a positive number", s)
		}
		kills = n
	}
	t.Logf("seed %d: BERTH_CRASH_SEED=%d replays these kills", seed, seed)
	for i, name := range []string{"import", "load", "build", "commit", "rm", "run"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			op := e.crashOp(name)
			rng := rand.New(rand.NewPCG(uint64(seed), uint64(i)))
			e.crashKills(op, kills, rng, seed)
		})
	}
}

// crashKills kills op n times, checking the root after each kill.
func (e *env) crashKills(op crashOp, n int, rng *rand.Rand, seed int64) {
	t := e.t
	start := time.Now()
	durations := e.crashDurations(op)
	killed := 0
	var checking time.Duration
	left := map[string]int{} // what the kills left, by kind
	for i := range n {
		args := op.args()
		d := median(durations)
		delay := time.Duration(rng.Float64() * float64(d))
		t0 := time.Now()
		if e.crashRun(op, args, delay) == -1 {
			killed++
		} else {
			durations = append(durations, time.Since(t0))
		}
		where := fmt.Sprintf("after killing berth %s after %v (kill %d of %d; BERTH_CRASH_SEED=%d)",
			strings.Join(args, " "), delay, i+1, n, seed)
		t1 := time.Now()
		for _, kind := range e.checkConsistent(where) {
			left[kind]++
		}
		if i%2 == 1 {
			e.checkRepair(where)
		}
		checking += time.Since(t1)
	}
	e.crashSettle(op.name)
	t.Logf("%s: takes %v; %d of %d runs killed before they finished; %v in all, %v of it checking",
		op.name, median(durations).Round(time.Millisecond), killed, n, time.Since(start).Round(time.Millisecond), checking.Round(time.Millisecond))
	kinds := make([]string, 0, len(left))
	for k := range left {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		t.Logf("  left %d times (harmless): %s", left[k], k)
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// crashOp makes the command the subtest name stands for, with what it
// needs in e's root.
func (e *env) crashOp(name string) crashOp {
	t := e.t
	in := t.TempDir()
	var n int
	next := func() int { n++; return n }
	switch name {
	case "import":
		return crashOp{name: name, stdin: busyboxTarPath, args: func() []string {
			return []string{"import", "-c", `CMD ["sh"]`, "-", fmt.Sprintf("crash/import:%d", next()%4)}
		}}
	case "load":
		saved := filepath.Join(in, "busybox.tar")
		e.ok("save", "-o", saved, "busybox")
		return crashOp{name: name, args: func() []string { return []string{"load", "-q", "-i", saved} }}
	case "build":
		if err := os.WriteFile(filepath.Join(in, "Dockerfile"), []byte("FROM busybox\nRUN echo step > /step\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return crashOp{name: name, args: func() []string { return []string{"build", "-q", "--no-cache", "-t", "crash/build", in} }}
	case "commit":
		e.ok("run", "--name", "crash-src", "busybox", "sh", "-c", "echo changed > /changed")
		return crashOp{name: name, args: func() []string {
			return []string{"commit", "-m", "crash", "crash-src", fmt.Sprintf("crash/commit:%d", next()%4)}
		}}
	case "rm":
		return crashOp{name: name, args: func() []string {
			// Running or not, alternately: rm -f of a running one kills it.
			id := strings.TrimSpace(e.ok("create", "busybox", "sleep", "60"))
			if next()%2 == 0 {
				e.ok("start", id)
			}
			return []string{"rm", "-f", id}
		}}
	case "run":
		return crashOp{name: name, args: func() []string {
			if next()%2 == 0 {
				return []string{"run", "--rm", "busybox", "sh", "-c", "echo hi > /hi"}
			}
			return []string{"run", "busybox", "true"}
		}}
	}
	t.Fatalf("no crash op %q", name)
	return crashOp{}
}

// crashOp is one berth command TestCrash kills; args makes its arguments
// for one run (and whatever that run needs, unkilled).
type crashOp struct {
	name  string
	stdin string // a file for its standard input
	args  func() []string
}

// crashDurations are the durations of three unkilled runs of op.
func (e *env) crashDurations(op crashOp) []time.Duration {
	e.t.Helper()
	var ds []time.Duration
	for range 3 {
		args := op.args()
		t0 := time.Now()
		e.crashRun(op, args, -1)
		ds = append(ds, time.Since(t0))
	}
	return ds
}

// crashRun runs berth with args and returns its exit code, or -1 when
// it was killed; a negative delay runs it to its end.
func (e *env) crashRun(op crashOp, args []string, delay time.Duration) int {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := e.command(ctx, args...)
	if op.stdin != "" {
		f, err := os.Open(op.stdin)
		if err != nil {
			e.t.Fatal(err)
		}
		defer f.Close()
		cmd.Stdin = f
	}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	// A monitor started by a killed run keeps stderr open: do not wait
	// for it.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	var once sync.Once
	if delay >= 0 {
		timer := time.AfterFunc(delay, func() { once.Do(func() { _ = cmd.Process.Kill() }) })
		defer timer.Stop()
	}
	err := cmd.Wait()
	if ctx.Err() != nil {
		e.t.Fatalf("berth %v: no exit after %v", args, cmdTimeout)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		if ws.Signal() != syscall.SIGKILL || delay < 0 {
			e.t.Fatalf("berth %v: killed by %v", args, ws.Signal())
		}
		return -1
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 || (err != nil && !isExitError(err)) {
		e.t.Fatalf("berth %v: exit %d (%v)\nstderr: %s", args, code, err, clip(errb.String()))
	}
	return 0
}

func isExitError(err error) bool {
	_, ok := err.(*exec.ExitError)
	return ok || err == exec.ErrWaitDelay
}

// checkConsistent requires `system check` to exit 0, and returns the
// kinds of the harmless findings it lists.
func (e *env) checkConsistent(where string) []string {
	e.t.Helper()
	out, stderr, code := e.run("system", "check")
	if code != 0 {
		e.t.Fatalf("%s: system check: exit %d, want 0 (consistent)\n%s%s", where, code, out, stderr)
	}
	var kinds []string
	for _, l := range lines(out) {
		if rest, ok := strings.CutPrefix(l, "harmless"); ok {
			_, problem, _ := strings.Cut(rest, ": ")
			kinds = append(kinds, findingKind(problem))
		}
	}
	return kinds
}

// findingKind is a finding's problem without what varies (pids, IDs,
// notes in parentheses).
func findingKind(problem string) string {
	problem, _, _ = strings.Cut(problem, " (")
	words := strings.Fields(problem)
	for i, w := range words {
		if strings.ContainsAny(w, "0123456789") {
			words[i] = "N"
		}
	}
	return strings.Join(words, " ")
}

// checkRepair requires `system check --repair` to exit 0.
func (e *env) checkRepair(where string) {
	e.t.Helper()
	out, stderr, code := e.run("system", "check", "--repair")
	if code != 0 {
		e.t.Fatalf("%s: system check --repair: exit %d, want 0\n%s%s", where, code, out, stderr)
	}
}

// crashSettle removes every container but crash-src (a build's step
// containers included: the repair removes those of killed builds), then
// requires a repair and a check to leave nothing at all.
func (e *env) crashSettle(name string) {
	e.t.Helper()
	ids := strings.Fields(e.ok("ps", "-a", "-q", "--no-trunc", "--filter", "name=^/?crash-src$"))
	ids = slices.DeleteFunc(strings.Fields(e.ok("ps", "-a", "-q", "--no-trunc")), func(id string) bool { return slices.Contains(ids, id) })
	if len(ids) > 0 {
		e.ok(append([]string{"rm", "-f"}, ids...)...)
	}
	e.checkRepair("after the " + name + " kills")
	out, stderr, code := e.run("system", "check")
	if code != 0 || len(lines(out)) != 1 || !strings.Contains(out, "0 problems, 0 harmless findings") {
		e.t.Fatalf("after the %s kills and a repair: system check: exit %d, want 0 and no findings\n%s%s", name, code, out, stderr)
	}
}

// TestCrashCheckBesideWriters: `system check --repair` takes the stores'
// own locks, so it is safe while other berth processes work: imports,
// builds, runs and removals beside a loop of repairs and checks all
// succeed, and every check finds the root consistent.
func TestCrashCheckBesideWriters(t *testing.T) {
	e := newEnv(t)
	ctxDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte("FROM busybox\nRUN echo step > /step\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	writers := [][][]string{
		{{"import", "-", "beside/import"}},
		{{"run", "--rm", "busybox", "true"}, {"run", "-d", "--name", "beside-d", "busybox", "sleep", "60"}, {"rm", "-f", "beside-d"}},
		{{"build", "-q", "--no-cache", "-t", "beside/build", ctxDir}, {"rmi", "beside/build"}},
	}
	const rounds = 6
	var wg sync.WaitGroup
	failures := make(chan string, len(writers)*rounds*3)
	for _, cmds := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				for _, args := range cmds {
					ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
					cmd := e.command(ctx, args...)
					if args[0] == "import" {
						cmd.Stdin = bytes.NewReader(busyboxTar)
					}
					cmd.WaitDelay = 10 * time.Second
					out, err := cmd.CombinedOutput()
					cancel()
					if err != nil {
						failures <- fmt.Sprintf("berth %s: %v\n%s", strings.Join(args, " "), err, clip(string(out)))
					}
				}
			}
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	checks := 0
	for running := true; running; {
		select {
		case <-finished:
			running = false
		default:
		}
		args := []string{"system", "check"}
		if checks%2 == 0 {
			args = append(args, "--repair")
		}
		if out, stderr, code := e.run(args...); code != 0 {
			t.Errorf("berth %s beside writers: exit %d\n%s%s", strings.Join(args, " "), code, out, stderr)
			<-finished
			break
		}
		checks++
	}
	close(failures)
	for f := range failures {
		t.Error(f)
	}
	t.Logf("%d checks and repairs beside %d writers", checks, len(writers))
}
