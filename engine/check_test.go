package engine_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"berth/containers"
	"berth/containers/cgroups"
	"berth/engine"
)

func checkEngine(t *testing.T, e *engine.Engine, repair bool) *engine.CheckReport {
	t.Helper()
	rep, err := e.Check(context.Background(), engine.CheckOptions{Repair: repair})
	if err != nil {
		t.Fatalf("Check(repair=%v): %v", repair, err)
	}
	return rep
}

func reportText(rep *engine.CheckReport) string {
	var b strings.Builder
	for _, f := range rep.Findings {
		fmt.Fprintf(&b, "  %s\n", f)
	}
	return b.String()
}

// hasFinding reports whether rep has a finding of sev whose object and
// problem contain these substrings.
func hasFinding(rep *engine.CheckReport, sev engine.Severity, object, problem string) bool {
	for _, f := range rep.Findings {
		if f.Severity == sev && strings.Contains(f.Object, object) && strings.Contains(f.Problem, problem) {
			return true
		}
	}
	return false
}

// repairClean repairs and wants a second check to find nothing.
func repairClean(t *testing.T, e *engine.Engine) {
	t.Helper()
	rep := checkEngine(t, e, true)
	for _, f := range rep.Findings {
		if f.Repaired == "" {
			t.Errorf("not repaired: %s", f)
		}
	}
	if again := checkEngine(t, e, false); len(again.Findings) > 0 {
		t.Errorf("after repair:\n%s", reportText(again))
	}
}

func exitedPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func TestCheckCleanRoot(t *testing.T) {
	e := newEngine(t)
	create(t, e, "true")
	rep := checkEngine(t, e, false)
	if len(rep.Findings) > 0 || !rep.Clean() {
		t.Errorf("fresh root:\n%s", reportText(rep))
	}
}

// TestCheckMonitorKilled: a container whose monitor was killed is still
// recorded as running, with its cgroup left: harmless, and a repair
// records its exit and removes the cgroup.
func TestCheckMonitorKilled(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	c := create(t, e, "sleep", "60")
	if _, err := e.Start(ctx, c.ID, nil); err != nil {
		t.Fatal(err)
	}
	got, _ := e.Get(ctx, c.ID)
	syscall.Kill(got.State.MonitorPid, syscall.SIGKILL)
	deadline := time.Now().Add(time.Minute)
	for syscall.Kill(got.State.Pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatal("container process outlived its monitor")
		}
		time.Sleep(10 * time.Millisecond)
	}
	rep := checkEngine(t, e, false)
	if !rep.Clean() || !hasFinding(rep, engine.Harmless, containers.ShortID(c.ID), "its monitor (pid") {
		t.Errorf("after the monitor's death:\n%s", reportText(rep))
	}
	repairClean(t, e)
	if _, err := cgroups.Load(cgroups.Path(c.ID)).Procs(); err == nil {
		t.Error("the cgroup is still there")
	}
}

// TestCheckSnapshotsOfContainer: a container's lower dirs gone is a
// problem (it cannot start); a repair unpacks them again from the blobs.
func TestCheckSnapshotsOfContainer(t *testing.T) {
	e := newEngine(t)
	c := create(t, e, "true")
	for _, d := range c.LowerDirs {
		if err := os.RemoveAll(d); err != nil {
			t.Fatal(err)
		}
	}
	rep := checkEngine(t, e, false)
	if rep.Clean() || !hasFinding(rep, engine.Problem, containers.ShortID(c.ID), "the snapshots of its image's layers are missing") {
		t.Errorf("lower dirs removed:\n%s", reportText(rep))
	}
	repairClean(t, e)
	if _, stderr, code := runAttached(t, e, c); code != 0 {
		t.Errorf("after repair the container does not run: %d %s", code, stderr)
	}
}

// TestCheckImageGone: a container whose image is gone is a problem a
// repair cannot fix.
func TestCheckImageGone(t *testing.T) {
	e := newEngine(t)
	c := create(t, e, "true")
	// Behind the engine's back: the image store alone does not know it
	// is used.
	if _, err := engine.ImageStore(e).Remove(context.Background(), "busybox", true, nil); err != nil {
		t.Fatal(err)
	}
	rep := checkEngine(t, e, true)
	if rep.Clean() || !hasFinding(rep, engine.Problem, containers.ShortID(c.ID), "is not in the image store") {
		t.Errorf("image gone:\n%s", reportText(rep))
	}
}

// TestCheckBuildLeftovers: a killed build leaves its step's container
// (hidden from ps) and temp dirs; both name the build's pid, so that the
// check tells them from those of a build that runs.
func TestCheckBuildLeftovers(t *testing.T) {
	e := newEngine(t)
	rt := engine.BuildRuntime{Engine: e}
	ctx := context.Background()
	mine, err := rt.TempDir("inline-")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(filepath.Base(mine), "-"+strconv.Itoa(os.Getpid())+"-") {
		t.Errorf("TempDir %s does not name its owner", mine)
	}
	dead := exitedPid(t)
	theirs := filepath.Join(filepath.Dir(mine), fmt.Sprintf("download-%d-123", dead))
	if err := os.MkdirAll(filepath.Join(theirs, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	step := func(pid int) *containers.Container {
		c, err := e.Create(ctx, engine.CreateOptions{Image: "busybox", Config: containers.Config{Cmd: []string{"true"},
			Labels: map[string]string{containers.BuildStepLabel: strconv.Itoa(pid)}}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	orphan, running := step(dead), step(os.Getpid())
	rep := checkEngine(t, e, false)
	if len(rep.Findings) != 2 || !hasFinding(rep, engine.Harmless, theirs, "a build's temporary dir") ||
		!hasFinding(rep, engine.Harmless, containers.ShortID(orphan.ID), fmt.Sprintf("a build that is gone (pid %d)", dead)) {
		t.Errorf("build leftovers:\n%s", reportText(rep))
	}
	repairClean(t, e)
	if _, err := e.Get(ctx, orphan.ID); err == nil {
		t.Error("the orphaned step container is still there")
	}
	if _, err := e.Get(ctx, running.ID); err != nil {
		t.Errorf("the step container of a live build went: %v", err)
	}
	if _, err := os.Stat(mine); err != nil {
		t.Errorf("a live build's temp dir went: %v", err)
	}
	// Opening the root removes a killed build's temp dirs, as the stores
	// remove their leftovers.
	if err := os.MkdirAll(theirs, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.New(e.Root(), engine.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(theirs); !os.IsNotExist(err) {
		t.Errorf("New left %s (%v)", theirs, err)
	}
	if _, err := os.Stat(mine); err != nil {
		t.Errorf("New removed a live build's temp dir: %v", err)
	}
}

// TestCheckGoneCgroup: the cgroup of a removed container (the event log
// remembers it) is found and removed.
func TestCheckGoneCgroup(t *testing.T) {
	if _, err := cgroups.Host(); err != nil {
		t.Skipf("no cgroups: %v", err)
	}
	e := newEngine(t)
	c := create(t, e, "true")
	if err := e.Remove(context.Background(), c.ID, false); err != nil {
		t.Fatal(err)
	}
	cg, err := cgroups.New(cgroups.Path(c.ID), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cg.Delete() })
	rep := checkEngine(t, e, false)
	if !hasFinding(rep, engine.Harmless, "removed container "+containers.ShortID(c.ID), "left over") {
		t.Errorf("cgroup of a removed container:\n%s", reportText(rep))
	}
	repairClean(t, e)
}
