package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// reboot does to the root what a machine's restart does: every monitor
// and container process is killed at once (SIGKILL, no exit recorded),
// and what the kernel keeps only while it runs (their cgroups, mounts)
// is gone.
func (e *env) reboot() {
	e.t.Helper()
	ids := strings.Fields(e.ok("ps", "-aq", "--no-trunc"))
	procs := func() []int {
		var pids []int
		for _, l := range leftovers(e.root) {
			var pid int
			if _, err := fmt.Sscanf(l, "process %d", &pid); err == nil {
				pids = append(pids, pid)
			}
		}
		return pids
	}
	if len(procs()) == 0 {
		e.t.Fatal("reboot: nothing runs")
	}
	if !waitFor(time.Minute, func() bool {
		pids := procs()
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		return len(pids) == 0
	}) {
		e.t.Fatalf("reboot: processes still there: %v", procs())
	}
	for _, l := range leftovers(e.root) {
		if mp, ok := strings.CutPrefix(l, "mount "); ok {
			_ = syscall.Unmount(strings.Fields(mp)[0], syscall.MNT_DETACH)
		}
	}
	for _, id := range ids {
		dirs, _ := filepath.Glob("/sys/fs/cgroup/*/berth/" + id)
		dirs = append(dirs, "/sys/fs/cgroup/berth/"+id)
		for _, d := range dirs {
			removeCgroup(e.t, d)
		}
	}
	if left := append(leftovers(e.root), leftoverCgroups(e.root)...); len(left) > 0 {
		e.t.Fatalf("reboot left: %v", left)
	}
}

// removeCgroup removes an empty cgroup and the ones under it.
func removeCgroup(t testing.TB, dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, ent := range ents {
		if ent.IsDir() {
			removeCgroup(t, filepath.Join(dir, ent.Name()))
		}
	}
	if err := syscall.Rmdir(dir); err != nil {
		t.Fatalf("reboot: rmdir %s: %v", dir, err)
	}
}

// bootTable reads what `system boot` printed: container -> action, and
// the summary line.
func bootTable(t *testing.T, out string) (map[string]string, string) {
	t.Helper()
	ls := lines(out)
	if len(ls) == 0 || !strings.HasPrefix(ls[len(ls)-1], "boot: ") {
		t.Fatalf("system boot printed %q: no summary", out)
	}
	got := map[string]string{}
	for _, l := range ls[:len(ls)-1] {
		f := strings.Fields(l)
		if f[0] == "CONTAINER" {
			continue
		}
		got[f[0]] = f[1]
	}
	return got, ls[len(ls)-1]
}

// monitors counts the monitor processes of container id.
func monitors(id string) int {
	n := 0
	ents, _ := os.ReadDir("/proc")
	for _, ent := range ents {
		b, err := os.ReadFile("/proc/" + ent.Name() + "/cmdline")
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) >= 5 && args[1] == "monitor" && args[len(args)-1] == id {
			n++
		}
	}
	return n
}

// After a reboot, `system boot` brings back what Docker's daemon brings
// back when it starts, and nothing else, once: "always" (even stopped by
// a user) and "unless-stopped" (unless stopped by a user) run again with
// RestartCount 0; "on-failure" and "no" stay exited; a --rm container is
// removed; one never started stays created. Run again, or twice at once,
// it starts nothing twice. A container that cannot start makes it exit 1,
// the others start all the same.
func TestSystemBoot(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Fails once, is restarted by its policy, then runs: RestartCount 1.
	e.runD("--name", "alw", "--restart", "always", "busybox", "sh", "-c", "[ -e /ran ] && exec sleep 1000; touch /ran; exit 1")
	if !waitFor(time.Minute, func() bool { return e.inspect("{{.State.Status}} {{.RestartCount}}", "alw") == "running 1" }) {
		t.Fatalf("alw: %s, want running after one restart", e.inspect("{{.State.Status}} {{.RestartCount}}", "alw"))
	}
	e.runD("--name", "uls", "--restart", "unless-stopped", "busybox", "sleep", "1000")
	e.runD("--name", "uls-stopped", "--restart", "unless-stopped", "busybox", "sleep", "1000")
	e.ok("stop", "-t", "0", "uls-stopped")
	e.runD("--name", "alw-stopped", "--restart", "always", "busybox", "sleep", "1000")
	e.ok("stop", "-t", "0", "alw-stopped")
	e.runD("--name", "onf", "--restart", "on-failure", "busybox", "sleep", "1000")
	e.runD("--name", "none", "busybox", "sleep", "1000")
	e.runD("--name", "rmme", "--rm", "busybox", "sleep", "1000")
	e.ok("create", "--name", "fresh", "--restart", "always", "busybox", "sleep", "1000")
	// Its program is in its own layer, and will be gone at the next boot.
	brk := strings.TrimSpace(e.ok("create", "--name", "broken", "--restart", "always", "busybox", "/prog"))
	prog := filepath.Join(e.root, "containers", brk, "upper", "prog")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\nexec sleep 1000\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	e.ok("start", "broken")

	e.reboot()
	if ps := e.ok("ps", "-q"); ps != "" {
		t.Fatalf("after the reboot, ps shows %q running", ps)
	}
	out, stderr, code := e.run("system", "boot")
	if code != 0 || stderr != "" {
		t.Fatalf("system boot: exit %d, stderr %q\n%s", code, stderr, out)
	}
	got, summary := bootTable(t, out)
	want := map[string]string{
		"alw": "started", "uls": "started", "alw-stopped": "started", "broken": "started",
		"uls-stopped": "down", "onf": "down", "none": "down", "fresh": "down", "rmme": "removed",
	}
	for name, action := range want {
		if got[name] != action {
			t.Errorf("system boot: %s %q, want %q\n%s", name, got[name], action, out)
		}
	}
	if summary != "boot: 4 started, 0 running already, 4 down, 1 removed, 0 failed" {
		t.Errorf("summary %q", summary)
	}
	for name, st := range map[string]string{
		"alw": "running 0 false", "uls": "running 0 false", "alw-stopped": "running 0 false", "broken": "running 0 false",
		"uls-stopped": "exited 0 false", "onf": "exited 0 false", "none": "exited 0 false", "fresh": "created 0 false",
	} {
		if s := e.inspect("{{.State.Status}} {{.RestartCount}} {{.State.Restarting}}", name); s != st {
			t.Errorf("%s: %q, want %q", name, s, st)
		}
	}
	// Those that died with the machine say so, as after a kill -9 of their monitor.
	for _, name := range []string{"onf", "none"} {
		if s := e.inspect("{{.State.ExitCode}}", name); s != "137" {
			t.Errorf("%s: exit code %s, want 137", name, s)
		}
	}
	if _, stderr, code := e.run("inspect", "rmme"); code == 0 || !strings.Contains(stderr, "rmme") {
		t.Errorf("--rm container still there after boot (exit %d, %q)", code, stderr)
	}
	if n := len(lines(e.ok("ps", "-q"))); n != 4 {
		t.Errorf("ps shows %d running, want 4", n)
	}
	if ps := e.ok("ps", "--filter", "name=alw-stopped", "--format", "{{.Status}}"); !strings.HasPrefix(ps, "Up ") {
		t.Errorf("ps says alw-stopped is %q", ps)
	}

	// Again, with everything running: nothing starts twice.
	pids := map[string]string{}
	for _, name := range []string{"alw", "uls", "alw-stopped", "broken"} {
		pids[name] = e.inspect("{{.State.Pid}}", name)
	}
	out = e.ok("system", "boot")
	got, summary = bootTable(t, out)
	if summary != "boot: 0 started, 4 running already, 3 down, 0 removed, 0 failed" {
		t.Errorf("second boot: %q\n%s", summary, out)
	}
	for name, pid := range pids {
		if got[name] != "running" || e.inspect("{{.State.Pid}}", name) != pid {
			t.Errorf("second boot: %s %s, pid %s (was %s)", name, got[name], e.inspect("{{.State.Pid}}", name), pid)
		}
	}

	// Another reboot, with broken's program gone, and two boots at once:
	// each container starts once; broken fails, and says so.
	e.reboot()
	if err := os.Remove(prog); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	var wg sync.WaitGroup
	outs := make([]bytes.Buffer, 2)
	errs := make([]bytes.Buffer, 2)
	codes := make([]int, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := e.command(ctx, "system", "boot")
			cmd.Stdout, cmd.Stderr = &outs[i], &errs[i]
			cmd.WaitDelay = 10 * time.Second
			_ = cmd.Run()
			codes[i] = cmd.ProcessState.ExitCode()
		}()
	}
	wg.Wait()
	started := map[string]int{}
	actions := map[string][]string{}
	for i := range 2 {
		got, _ := bootTable(t, outs[i].String())
		for name, action := range got {
			if action == "started" {
				started[name]++
			}
			actions[name] = append(actions[name], action)
		}
	}
	for _, name := range []string{"alw", "uls", "alw-stopped"} {
		// One boot started it; the other, after or beside it, found it
		// running.
		if a := actions[name]; len(a) != 2 || started[name] != 1 || !slices.Contains(a, "running") {
			t.Errorf("two boots at once: %s %v, want started once and found running once\n%s%s\n%s%s",
				name, a, outs[0].String(), errs[0].String(), outs[1].String(), errs[1].String())
		}
		id := e.inspect("{{.Id}}", name)
		if n := monitors(id); n != 1 || e.inspect("{{.State.Status}}", name) != "running" {
			t.Errorf("%s: %d monitors, %s", name, n, e.inspect("{{.State.Status}}", name))
		}
	}
	// broken failed in whichever boot tried it (the other found it down
	// by then, and tried too: a failed start is tried again).
	failedIn := 0
	for i := range 2 {
		if strings.Contains(outs[i].String(), "broken") && codes[i] == 1 && strings.Contains(errs[i].String(), "broken") {
			failedIn++
		}
		if codes[i] != 0 && codes[i] != 1 {
			t.Errorf("boot %d: exit %d", i, codes[i])
		}
	}
	if failedIn == 0 || started["broken"] != 0 {
		t.Errorf("broken: failed in %d boots, started %d times\nboot 0 (exit %d): %s%s\nboot 1 (exit %d): %s%s",
			failedIn, started["broken"], codes[0], outs[0].String(), errs[0].String(), codes[1], outs[1].String(), errs[1].String())
	}
	if n := len(lines(e.ok("ps", "-q"))); n != 3 {
		t.Errorf("ps shows %d running, want 3", n)
	}
}

// --restart is checked as docker checks it (the CLI's format, then the
// daemon's rules): exit 125, Docker's message, nothing created.
func TestRestartPolicyChecked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for v, msg := range map[string]string{
		"sometimes":     "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'",
		"on-failure:-1": "invalid restart policy: maximum retry count cannot be negative",
		"always:2":      "invalid restart policy: maximum retry count can only be used with 'on-failure'",
		"no:-1":         "invalid restart policy: maximum retry count can only be used with 'on-failure' and cannot be negative",
		":3":            "invalid restart policy format: no policy provided before colon",
		"on-failure:x":  "invalid restart policy format: maximum retry count must be an integer",
		"always:1:2":    "invalid restart policy format: maximum retry count must be an integer",
	} {
		_, stderr := e.fails(125, "run", "-d", "--restart", v, "busybox", "true")
		if !strings.Contains(stderr, msg) {
			t.Errorf("--restart %s: %q, want %q", v, stderr, msg)
		}
	}
	if _, stderr := e.fails(125, "run", "--rm", "--restart", "always", "busybox", "true"); !strings.Contains(stderr, "conflicting options: cannot specify both --restart and --rm") {
		t.Errorf("--rm --restart always: %q", stderr)
	}
	if ps := e.ok("ps", "-aq"); ps != "" {
		t.Fatalf("bad policies created %q", ps)
	}
	for v, want := range map[string]string{"on-failure:2": "on-failure 2", "on-failure": "on-failure 0", "always:0": "always 0", "unless-stopped": "unless-stopped 0"} {
		name := strings.NewReplacer(":", "-").Replace(v)
		e.ok("create", "--name", name, "--restart", v, "busybox", "true")
		if got := e.inspect("{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}", name); got != want {
			t.Errorf("--restart %s: %q, want %q", v, got, want)
		}
	}
	if _, stderr, code := e.run("update", "--restart", "always:3", "on-failure-2"); code == 0 || !strings.Contains(stderr, "can only be used with 'on-failure'") {
		t.Errorf("update --restart always:3: exit %d, %q", code, stderr)
	}
}
