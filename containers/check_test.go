package containers

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"berth/containers/cgroups"
	"berth/containers/etcfiles"
	"berth/internal/check"
	"berth/internal/check/checktest"
)

func newCheckStore(t *testing.T) *Store {
	t.Helper()
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newRecord stores a container as the engine makes one: its dirs, its
// /etc files bound by its spec, its cgroup path.
func newRecord(t *testing.T, s *Store) *Container {
	t.Helper()
	id := NewID()
	spec := &specs.Spec{Linux: &specs.Linux{CgroupsPath: cgroups.Path(id)}, Mounts: etcfiles.Mounts(s.Dir(id), false)}
	c := &Container{ID: id, Created: time.Now().UTC(), Image: "sha256:" + strings.Repeat("0", 64),
		Config: Config{Hostname: id[:12]}, Spec: spec}
	err := s.Create(t.Context(), c, func(dir string) error {
		for _, d := range []string{"rootfs", "upper", "work"} {
			if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
				return err
			}
		}
		return etcfiles.Write(dir, etcfiles.Options{Hostname: c.Config.Hostname})
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func runCheck(t *testing.T, s *Store, repair bool) *CheckResult {
	t.Helper()
	res, err := s.Check(context.Background(), CheckOptions{Repair: repair})
	if err != nil {
		t.Fatalf("Check(repair=%v): %v", repair, err)
	}
	return res
}

// repairAll repairs, wants every finding repaired and a second check to
// find nothing.
func repairAll(t *testing.T, s *Store) {
	t.Helper()
	for _, f := range runCheck(t, s, true).Findings {
		if f.Repaired == "" {
			t.Errorf("not repaired: %s", f)
		}
	}
	if again := runCheck(t, s, false); len(again.Findings) > 0 {
		t.Errorf("after repair, check finds:\n%s", checktest.Findings(again.Report))
	}
}

func deadPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func TestCheckClean(t *testing.T) {
	s := newCheckStore(t)
	c := newRecord(t, s)
	res := runCheck(t, s, false)
	checktest.Want(t, res.Report)
	if len(res.Records) != 1 || res.Records[0].ID != c.ID || res.Records[0].State.Status != StatusCreated {
		t.Errorf("records %+v, want the one created", res.Records)
	}
}

func TestCheckUnreadableState(t *testing.T) {
	s := newCheckStore(t)
	c := newRecord(t, s)
	p := filepath.Join(s.Dir(c.ID), "state.json")
	if err := os.Truncate(p, 5); err != nil {
		t.Fatal(err)
	}
	checktest.Want(t, runCheck(t, s, false).Report, check.Finding{Severity: check.Problem, Object: ShortID(c.ID), Problem: "its state cannot be read"})
	repairAll(t, s)
	st, err := s.LoadState(c.ID)
	if err != nil || st.Status != StatusExited || !strings.Contains(st.Error, "unreadable") {
		t.Errorf("state after repair: %+v, %v", st, err)
	}
}

func TestCheckOrphanDir(t *testing.T) {
	s := newCheckStore(t)
	for _, name := range []string{NewID(), "junk"} {
		if err := os.MkdirAll(filepath.Join(s.dir, name, "upper"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c := newRecord(t, s)
	if err := os.WriteFile(filepath.Join(s.Dir(c.ID), "config.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	checktest.Want(t, runCheck(t, s, false).Report,
		check.Finding{Severity: check.Problem, Object: "junk", Problem: "without a readable record"},
		check.Finding{Severity: check.Problem, Object: c.ID, Problem: "without a readable record: read"},
		check.Finding{Severity: check.Problem, Object: s.dir, Problem: "config.json: no such file"})
	repairAll(t, s)
	if names, _ := os.ReadDir(s.dir); len(names) != 1 || names[0].Name() != ".lock" {
		t.Errorf("store holds %v after repair, want only .lock", names)
	}
}

func TestCheckMissingFiles(t *testing.T) {
	s := newCheckStore(t)
	c := newRecord(t, s)
	for _, name := range []string{"upper", "work", "hosts", "resolv.conf"} {
		if err := os.RemoveAll(filepath.Join(s.Dir(c.ID), name)); err != nil {
			t.Fatal(err)
		}
	}
	checktest.Want(t, runCheck(t, s, false).Report, check.Finding{Severity: check.Problem, Object: ShortID(c.ID), Problem: "missing from its directory: upper, work, "})
	repairAll(t, s)
	b, err := os.ReadFile(filepath.Join(s.Dir(c.ID), "hosts"))
	if err != nil || !strings.Contains(string(b), c.Config.Hostname) {
		t.Errorf("hosts made again: %q, %v", b, err)
	}
}

func TestCheckLeftovers(t *testing.T) {
	s := newCheckStore(t)
	c := newRecord(t, s)
	pid := deadPid(t)
	create := filepath.Join(s.dir, fmt.Sprintf(".tmp-%d-%s", pid, NewID()))
	write := filepath.Join(s.dir, fmt.Sprintf(".tmp-%d-%s-state.json-123", pid, c.ID))
	removed := filepath.Join(s.dir, ".rm-"+NewID())
	old := filepath.Join(s.Dir(c.ID), fmt.Sprintf("state.json.%d.tmp", pid))
	live := filepath.Join(s.dir, fmt.Sprintf(".tmp-%d-%s", os.Getpid(), NewID()))
	view := filepath.Join(s.Dir(c.ID), fmt.Sprintf("view-work-123.%d.tmp", pid))
	for _, d := range []string{create, filepath.Join(removed, "upper"), live, filepath.Join(view, "work")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{write, old} {
		if err := os.WriteFile(f, []byte("{"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	res := runCheck(t, s, false)
	checktest.Want(t, res.Report,
		check.Finding{Severity: check.Harmless, Object: create, Problem: fmt.Sprintf("a container being created by a process that is gone (pid %d)", pid)},
		check.Finding{Severity: check.Harmless, Object: write, Problem: "a record being written by a process that is gone"},
		check.Finding{Severity: check.Harmless, Object: removed, Problem: "the files of removed container"},
		check.Finding{Severity: check.Harmless, Object: old, Problem: "a record being written by a process that is gone"},
		check.Finding{Severity: check.Harmless, Object: view, Problem: "the work dir of a view of the container's files, by a process that is gone"})
	if !res.Clean() {
		t.Error("leftovers of interrupted operations make the store unclean")
	}
	repairAll(t, s)
	if _, err := os.Stat(view); !os.IsNotExist(err) {
		t.Errorf("a view's work dir after repair: %v", err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("repair removed a live creator's dir: %v", err)
	}
}

// TestWriteJSONLeavesNoTempInRecord: the temp file of a state write is a
// .tmp- item of the store, which OpenStore deletes once its writer is
// gone; it used to stay in the container's directory for good.
func TestWriteJSONLeavesNoTempInRecord(t *testing.T) {
	s := newCheckStore(t)
	c := newRecord(t, s)
	if err := s.SaveState(c.ID, State{Status: StatusExited}); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(s.dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			t.Errorf("temp item %s left after a write", e.Name())
		}
	}
	// What a writer killed before its rename leaves, OpenStore deletes.
	pid := deadPid(t)
	stray := filepath.Join(s.dir, fmt.Sprintf(".tmp-%d-%s-state.json-1", pid, c.ID))
	if err := os.WriteFile(stray, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenStore(s.dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stray); !os.IsNotExist(err) {
		t.Errorf("OpenStore left %s (%v)", stray, err)
	}
}

func TestCheckDeadMonitor(t *testing.T) {
	s := newCheckStore(t)
	c := newRecord(t, s)
	pid := deadPid(t)
	running := State{Status: StatusRunning, Running: true, Pid: pid, MonitorPid: pid, StartedAt: time.Now().UTC()}
	if err := s.SaveState(c.ID, running); err != nil {
		t.Fatal(err)
	}
	// While its monitor lock is held, it runs.
	unlock, ok := lockFile(s.MonitorLockPath(c.ID), true)
	if !ok {
		t.Fatal("lock the monitor lock")
	}
	checktest.Want(t, runCheck(t, s, false).Report)
	unlock()
	checktest.Want(t, runCheck(t, s, false).Report,
		check.Finding{Severity: check.Harmless, Object: ShortID(c.ID), Problem: fmt.Sprintf("recorded as running, but its monitor (pid %d) is gone", pid)})
	repairAll(t, s)
	var st State
	if err := readJSON(filepath.Join(s.Dir(c.ID), "state.json"), &st); err != nil || st.Status != StatusExited || st.ExitCode != 137 {
		t.Errorf("stored state after repair: %+v, %v; want exited (137)", st, err)
	}
}

// needCgroups skips a test that makes real cgroups where it cannot.
func needCgroups(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("cgroups need root")
	}
	if _, err := cgroups.Host(); err != nil {
		t.Skipf("no cgroups: %v", err)
	}
}

func TestCheckCgroups(t *testing.T) {
	needCgroups(t)
	s := newCheckStore(t)
	idle, busy := newRecord(t, s), newRecord(t, s)
	for _, c := range []*Container{idle, busy} {
		cg, err := cgroups.New(c.Spec.Linux.CgroupsPath, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cg.Delete() })
		if c == busy {
			sleep := exec.Command("sleep", "60")
			if err := sleep.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sleep.Process.Kill(); sleep.Wait() })
			if err := cg.Add(sleep.Process.Pid); err != nil {
				t.Fatal(err)
			}
			// Reaped as soon as the repair kills it.
			go sleep.Wait()
		}
	}
	checktest.Want(t, runCheck(t, s, false).Report,
		check.Finding{Severity: check.Harmless, Object: ShortID(idle.ID), Problem: "its cgroup berth/" + idle.ID + " is left over"},
		check.Finding{Severity: check.Problem, Object: ShortID(busy.ID), Problem: "still run in its cgroup"})
	repairAll(t, s)
	for _, c := range []*Container{idle, busy} {
		if _, err := cgroups.Load(c.Spec.Linux.CgroupsPath).Procs(); err == nil {
			t.Errorf("cgroup of %s is still there", ShortID(c.ID))
		}
	}
}

// TestCheckOrphanMonitor: a process that holds the monitor lock of a
// removed container is a monitor nobody can reach; a repair kills it.
func TestCheckOrphanMonitor(t *testing.T) {
	defer func(g time.Duration) { monitorGrace = g }(monitorGrace)
	monitorGrace = 100 * time.Millisecond
	s := newCheckStore(t)
	c := newRecord(t, s)
	// A stand-in monitor: flock(1) holding the lock while its child sleeps.
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("needs flock(1)")
	}
	mon := exec.Command("flock", "-o", s.MonitorLockPath(c.ID), "sleep", "60")
	mon.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := mon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-mon.Process.Pid, syscall.SIGKILL); mon.Wait() })
	waitFor(t, func() bool {
		return holds(mon.Process.Pid, s.MonitorLockPath(c.ID)) && slices.Contains(flockHolders(), mon.Process.Pid)
	})
	checktest.Want(t, runCheck(t, s, false).Report) // its container is there
	if err := s.Remove(t.Context(), c.ID); err != nil {
		t.Fatal(err)
	}
	go mon.Wait()
	checktest.Want(t, runCheck(t, s, false).Report,
		check.Finding{Severity: check.Problem, Object: fmt.Sprintf("monitor pid %d", mon.Process.Pid), Problem: "still runs for container " + ShortID(c.ID)})
	repairAll(t, s)
	if err := unix.Kill(mon.Process.Pid, 0); err == nil {
		if _, ok := s.goneMonitor(mon.Process.Pid); ok {
			t.Error("the orphaned monitor still runs")
		}
	}
}

// holds reports whether process pid has the file p open.
func holds(pid int, p string) bool {
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		if target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); target == p {
			return true
		}
	}
	return false
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCheckDuplicateNames(t *testing.T) {
	s := newCheckStore(t)
	a, b := newRecord(t, s), newRecord(t, s)
	b.Name = a.Name
	if err := writeJSON(filepath.Join(s.Dir(b.ID), "config.json"), b); err != nil {
		t.Fatal(err)
	}
	checktest.Want(t, runCheck(t, s, false).Report, check.Finding{Severity: check.Problem, Object: "name " + a.Name, Problem: "is the name of 2 containers"})
}
