package cgroups

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// These tests run on the machine's own cgroup hierarchy, as root, in
// cgroups "berth-test/<random>" that they remove again.

func ptr[T any](v T) *T { return &v }

func needRoot(t *testing.T) *FS {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create cgroups")
	}
	fs, err := Host()
	if err != nil {
		t.Skipf("no cgroup file system: %v", err)
	}
	return fs
}

func needV1(t *testing.T) *FS {
	t.Helper()
	fs := needRoot(t)
	if fs.Mode != V1 {
		t.Skip("this test reads cgroup v1 files; the host is cgroup v2")
	}
	return fs
}

func testPath(t *testing.T) string {
	b := make([]byte, 6)
	rand.Read(b)
	return "berth-test/" + hex.EncodeToString(b)
}

// newTest creates a cgroup that is removed when the test ends, whatever
// happens: its processes are killed and it is thawed first.
func newTest(t *testing.T, fs *FS, r *specs.LinuxResources) *Cgroup {
	t.Helper()
	path := testPath(t)
	t.Cleanup(func() {
		c := fs.Load(path)
		_ = c.Thaw()
		if pids, err := c.Procs(); err == nil {
			for _, p := range pids {
				_ = unix.Kill(p, unix.SIGKILL)
			}
		}
		if err := c.Delete(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	c, err := fs.New(path, r)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// child starts a busybox shell command and kills it when the test ends.
func child(t *testing.T, script string) *exec.Cmd {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("busybox not installed")
	}
	cmd := exec.Command(bb, "sh", "-c", script)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestRealNewWritesLimits(t *testing.T) {
	fs := needV1(t)
	r := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr(int64(32 << 20)), Swap: ptr(int64(64 << 20)), Reservation: ptr(int64(16 << 20))},
		CPU:    &specs.LinuxCPU{Shares: ptr(uint64(512)), Quota: ptr(int64(50000)), Period: ptr(uint64(100000)), Cpus: "0"},
		Pids:   &specs.LinuxPids{Limit: ptr(int64(10))},
	}
	c0 := newTest(t, fs, nil)
	blkioWeight := c0.Dir("blkio") != "" &&
		(fileExists(c0.Dir("blkio"), "blkio.weight") || fileExists(c0.Dir("blkio"), "blkio.bfq.weight"))
	if blkioWeight {
		r.BlockIO = &specs.LinuxBlockIO{Weight: ptr(uint16(300))}
	}
	c := newTest(t, fs, r)

	want := []struct{ ctrl, file, value string }{
		{"memory", "memory.limit_in_bytes", "33554432"},
		{"memory", "memory.soft_limit_in_bytes", "16777216"},
		{"cpu", "cpu.shares", "512"},
		{"cpu", "cpu.cfs_quota_us", "50000"},
		{"cpu", "cpu.cfs_period_us", "100000"},
		{"cpuset", "cpuset.cpus", "0"},
		{"pids", "pids.max", "10"},
	}
	if fileExists(c.Dir("memory"), "memory.memsw.limit_in_bytes") {
		want = append(want, struct{ ctrl, file, value string }{"memory", "memory.memsw.limit_in_bytes", "67108864"})
	}
	for _, w := range want {
		if got := readFile(t, c.Dir(w.ctrl), w.file); got != w.value {
			t.Errorf("%s = %q, want %q", w.file, got, w.value)
		}
	}
	if blkioWeight {
		f := "blkio.weight"
		if !fileExists(c.Dir("blkio"), f) {
			f = "blkio.bfq.weight"
		}
		// blkio.bfq.weight reads "default 300" on some kernels.
		if got := readFile(t, c.Dir("blkio"), f); !strings.HasSuffix(got, "300") {
			t.Errorf("%s = %q, want 300", f, got)
		}
	} else {
		t.Log("no blkio weight file on this kernel: blkio weight not tested")
	}
	// cpuset.mems was copied down into the parent and the leaf.
	for _, d := range []string{filepath.Dir(c.Dir("cpuset")), c.Dir("cpuset")} {
		if readFile(t, d, "cpuset.mems") == "" || readFile(t, d, "cpuset.cpus") == "" {
			t.Errorf("%s: empty cpuset.cpus or cpuset.mems", d)
		}
	}
}

func fileExists(dir, name string) bool {
	_, err := os.Stat(filepath.Join(dir, name))
	return err == nil
}

func TestRealAddProcs(t *testing.T) {
	fs := needRoot(t)
	c := newTest(t, fs, &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr(int64(10))}})
	cmd := child(t, "sleep 10")
	pid := cmd.Process.Pid
	if err := c.Add(pid); err != nil {
		t.Fatal(err)
	}
	pids, err := c.Procs()
	if err != nil {
		t.Fatal(err)
	}
	if len(pids) != 1 || pids[0] != pid {
		t.Fatalf("Procs = %v, want [%d]", pids, pid)
	}
	data, err := os.ReadFile("/proc/" + itoa(int64(pid)) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	// v1: "4:memory:/berth-test/x"; v2: "0::/berth-test/x".
	n := strings.Count(string(data), ":/"+c.Path()+"\n")
	wantN := 1
	if fs.Mode == V1 {
		wantN = len(c.uniqueDirs())
	}
	if n != wantN {
		t.Errorf("/proc/%d/cgroup names %s %d times, want %d:\n%s", pid, c.Path(), n, wantN, data)
	}
	// A pid that does not exist is refused.
	if err := c.Add(1 << 22); err == nil {
		t.Error("Add of a missing pid succeeded")
	}
}

func TestRealStats(t *testing.T) {
	fs := needRoot(t)
	c := newTest(t, fs, &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr(int64(64 << 20))},
		Pids:   &specs.LinuxPids{Limit: ptr(int64(20))},
	})
	startInside(t, c, "while :; do :; done")
	before, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	// The busy loop's CPU time shows, however loaded the machine.
	after := cpuGrows(t, c, before.CPUUsageNanos, 50*time.Millisecond)
	if after.CPUUser+after.CPUSystem == 0 {
		t.Errorf("no user or system time: %+v", after)
	}
	if after.MemoryUsage == 0 {
		t.Errorf("memory usage 0")
	}
	if after.MemoryLimit != 64<<20 {
		t.Errorf("memory limit %d, want %d", after.MemoryLimit, 64<<20)
	}
	if after.Pids != 1 || after.PidsLimit != 20 {
		t.Errorf("pids %d of %d, want 1 of 20", after.Pids, after.PidsLimit)
	}
	if fs.Mode == V1 && after.PSI != nil {
		t.Errorf("PSI on v1: %+v", after.PSI)
	}
	t.Logf("%+v", after)

	// Unlimited memory reads as 0.
	u := newTest(t, fs, nil)
	s, err := u.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.MemoryLimit != 0 || s.PidsLimit != 0 {
		t.Errorf("unlimited cgroup: memory limit %d, pids limit %d, want 0 and 0", s.MemoryLimit, s.PidsLimit)
	}
}

// cpuGrows waits until the cgroup has used want more CPU time than from,
// polling for at most a minute (a condition, not a time: a loaded machine
// only makes it slower), and returns the stats that showed it.
func cpuGrows(t *testing.T, c *Cgroup, from uint64, want time.Duration) Stats {
	t.Helper()
	var s Stats
	var err error
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if s, err = c.Stats(); err != nil {
			t.Fatal(err)
		}
		if s.CPUUsageNanos >= from+uint64(want) {
			return s
		}
	}
	t.Fatalf("CPU time went from %d to only %d in a minute of a busy loop", from, s.CPUUsageNanos)
	return s
}

func procState(t *testing.T, pid int) string {
	data, err := os.ReadFile("/proc/" + itoa(int64(pid)) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])[0]
}

func TestRealFreezeThaw(t *testing.T) {
	fs := needRoot(t)
	c := newTest(t, fs, nil)
	sleeper := child(t, "sleep 10")
	busy := child(t, "while :; do :; done")
	for _, p := range []int{sleeper.Process.Pid, busy.Process.Pid} {
		if err := c.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Freeze(); err != nil {
		t.Fatal(err)
	}
	if frozen, err := c.Frozen(); err != nil || !frozen {
		t.Fatalf("Frozen = %v, %v after Freeze", frozen, err)
	}
	if fs.Mode == V1 {
		if s := readFile(t, c.Dir("freezer"), "freezer.state"); s != "FROZEN" {
			t.Errorf("freezer.state %q", s)
		}
	}
	t.Logf("frozen sleeper state %s, busy %s", procState(t, sleeper.Process.Pid), procState(t, busy.Process.Pid))
	if s := procState(t, busy.Process.Pid); s == "R" {
		t.Errorf("frozen busy loop is in state R")
	}
	s1, _ := c.Stats()
	time.Sleep(200 * time.Millisecond)
	s2, _ := c.Stats()
	if d := s2.CPUUsageNanos - s1.CPUUsageNanos; d > uint64(20*time.Millisecond) {
		t.Errorf("a frozen cgroup used %v of CPU in 200ms", time.Duration(d))
	}

	if err := c.Thaw(); err != nil {
		t.Fatal(err)
	}
	if frozen, err := c.Frozen(); err != nil || frozen {
		t.Fatalf("Frozen = %v, %v after Thaw", frozen, err)
	}
	cpuGrows(t, c, s2.CPUUsageNanos, 50*time.Millisecond)
	if s := procState(t, sleeper.Process.Pid); s != "S" {
		t.Errorf("thawed sleeper in state %s, want S", s)
	}
}

// startInside starts a busybox shell command inside c from its first
// instruction: through JoinThread on v1, CLONE_INTO_CGROUP on v2.
func startInside(t *testing.T, c *Cgroup, script string) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("busybox not installed")
	}
	cmd := exec.Command(bb, "sh", "-c", "read _; "+script)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	err = c.StartInside(func(fd int) error {
		if fd >= 0 {
			cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
		}
		return cmd.Start()
	})
	if err != nil {
		t.Fatal(err)
	}
	// The test's own thread has left the cgroup: now the script may run
	// (the OOM killer must not pick the test binary).
	if _, err := in.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd, bufio.NewReader(out)
}

func TestRealOOMKills(t *testing.T) {
	fs := needRoot(t)
	c := newTest(t, fs, &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr(int64(8 << 20)), Swap: ptr(int64(8 << 20))},
	})
	n0, err := c.OOMKills()
	if err != nil {
		t.Fatal(err)
	}
	if n0 != 0 {
		t.Fatalf("new cgroup has %d OOM kills", n0)
	}
	cmd, out := startInside(t, c, `x=$(head -c 64000000 /dev/zero | tr "\0" a); echo ${#x}`)
	line, _ := out.ReadString('\n')
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("the child was not killed: %v (it printed %q)", err, line)
	}
	n, err := c.OOMKills()
	if err != nil {
		t.Fatal(err)
	}
	if n < 1 {
		t.Fatalf("OOMKills = %d after the child exited with %v", n, ee)
	}
	t.Logf("child: %v; OOM kills %d", ee, n)
}

// TestRealUpdateBusy: a limit below what the cgroup uses and cannot give
// back (no swap) is refused with EBUSY, and the error says so.
func TestRealUpdateBusy(t *testing.T) {
	fs := needV1(t)
	if b, _ := os.ReadFile("/proc/swaps"); strings.Count(string(b), "\n") > 1 {
		t.Skip("the host has swap: lowering the limit would swap out instead of failing")
	}
	c := newTest(t, fs, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(64 << 20))}})
	_, out := startInside(t, c, `x=$(head -c 20000000 /dev/zero | tr "\0" a); echo ready; sleep 10`)
	if line, err := out.ReadString('\n'); line != "ready\n" {
		t.Fatalf("child: %q, %v", line, err)
	}
	err := c.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(4096))}})
	want := "set memory limit 4096: write memory.limit_in_bytes: device or resource busy"
	if err == nil || err.Error() != want || !errors.Is(err, unix.EBUSY) {
		t.Errorf("Update below usage: %v, want %q", err, want)
	}
}

func TestRealUpdate(t *testing.T) {
	fs := needV1(t)
	c := newTest(t, fs, &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr(int64(32 << 20)), Swap: ptr(int64(64 << 20))},
		CPU:    &specs.LinuxCPU{Quota: ptr(int64(50000)), Period: ptr(uint64(100000))},
	})
	mem := c.Dir("memory")
	memsw := fileExists(mem, "memory.memsw.limit_in_bytes")
	check := func(limit, swap string) {
		t.Helper()
		if got := readFile(t, mem, "memory.limit_in_bytes"); got != limit {
			t.Errorf("memory.limit_in_bytes = %s, want %s", got, limit)
		}
		if got := readFile(t, mem, "memory.memsw.limit_in_bytes"); memsw && got != swap {
			t.Errorf("memory.memsw.limit_in_bytes = %s, want %s", got, swap)
		}
	}
	// Raising both above the current memsw needs memsw written first.
	if err := c.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(128 << 20)), Swap: ptr(int64(256 << 20))}}); err != nil {
		t.Fatal(err)
	}
	check("134217728", "268435456")
	// Lowering both below the current memory limit needs memory first.
	if err := c.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(16 << 20)), Swap: ptr(int64(20 << 20))}}); err != nil {
		t.Fatal(err)
	}
	check("16777216", "20971520")
	// Unlimited.
	if err := c.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(-1)), Swap: ptr(int64(-1))}}); err != nil {
		t.Fatal(err)
	}
	if got := num(readFile(t, mem, "memory.limit_in_bytes")); got < unlimitedFrom {
		t.Errorf("memory.limit_in_bytes = %d after -1", got)
	}
	// A shorter period with the quota: period, quota.
	if err := c.Update(&specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr(int64(5000)), Period: ptr(uint64(10000))}}); err != nil {
		t.Fatal(err)
	}
	if q, p := readFile(t, c.Dir("cpu"), "cpu.cfs_quota_us"), readFile(t, c.Dir("cpu"), "cpu.cfs_period_us"); q != "5000" || p != "10000" {
		t.Errorf("quota %s period %s, want 5000 10000", q, p)
	}
	// Values the kernel refuses come back naming the setting and value.
	err := c.Update(&specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "63"}})
	if err == nil || !strings.Contains(err.Error(), "set cpuset cpus 63: write cpuset.cpus: ") {
		t.Errorf("cpuset outside the host: %v", err)
	}
	if memsw {
		err = c.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(32 << 20)), Swap: ptr(int64(16 << 20))}})
		if err == nil || !strings.Contains(err.Error(), "set memory+swap limit 16777216: write memory.memsw.limit_in_bytes:") {
			t.Errorf("memsw below memory: %v", err)
		}
	}
}

func TestRealDelete(t *testing.T) {
	fs := needRoot(t)
	path := testPath(t)
	c, err := fs.New(path, &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr(int64(5))}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete() })
	dirs := c.uniqueDirs()
	if len(dirs) == 0 {
		t.Fatal("no directories")
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); err != nil {
			t.Fatalf("after New: %v", err)
		}
	}
	// A child cgroup the container made itself goes too.
	if err := os.Mkdir(filepath.Join(c.Dir("pids"), "inner"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A process that is just exiting: Delete waits for it.
	cmd := child(t, "exec sleep 10")
	if err := c.Add(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := c.Delete(); err == nil || !errors.Is(err, unix.EBUSY) {
		t.Errorf("Delete with a live process: %v, want EBUSY", err)
	}
	// Delete gives up after its own 2 s; well before the sleep would end
	// (10 s) even on a busy machine, so it did not wait for the process.
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("Delete of a busy cgroup took %v", d)
	}
	// Killed but not reaped yet: Delete waits for it to leave.
	_ = cmd.Process.Kill()
	if err := c.Delete(); err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there: %v", d, err)
		}
	}
	if err := c.Delete(); err != nil {
		t.Errorf("second Delete: %v", err)
	}
}

// Containers start and stop at once: one's Delete removing the shared
// parent must never make another's New fail.
func TestConcurrentNewDelete(t *testing.T) {
	parent := testPath(t)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				c, err := New(fmt.Sprintf("%s/%d-%d", parent, g, i), &specs.LinuxResources{})
				if err != nil {
					errs <- err
					return
				}
				if err := c.Delete(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A thread joins a cgroup through its tasks files alone, as the init stage
// does with the files the monitor passes it: that thread, and not the
// process's others, is then in the cgroup in every hierarchy.
func TestRealJoinThreadFiles(t *testing.T) {
	fs := needV1(t)
	c := newTest(t, fs, nil)
	files, err := c.ThreadFiles()
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		in  map[string]string // the joined thread's cgroups
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		tid := unix.Gettid()
		home, err := threadCgroups(tid)
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: err}
			return
		}
		err = JoinThreadFiles(files)
		in, _ := threadCgroups(tid)
		// Home again before the cgroup is removed, or the thread stays
		// locked and ends with the goroutine.
		if fs.rejoin(home) == nil {
			runtime.UnlockOSThread()
		}
		done <- result{in, err}
	}()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	joined := 0
	for ctrl, dir := range c.dirs {
		if mnt, ok := fs.Controllers[ctrl]; ok {
			if got := filepath.Join(mnt, r.in[ctrl]); got != dir {
				t.Errorf("%s: the thread is in %s, want %s", ctrl, got, dir)
			}
			joined++
		}
	}
	if joined == 0 {
		t.Fatal("the cgroup has no hierarchy to join")
	}
	mine, err := threadCgroups(unix.Gettid())
	if err != nil {
		t.Fatal(err)
	}
	for ctrl, dir := range c.dirs {
		if mnt, ok := fs.Controllers[ctrl]; ok && filepath.Join(mnt, mine[ctrl]) == dir {
			t.Errorf("%s: the test's own thread moved too", ctrl)
		}
	}
}

// Hierarchies are the cgroup's directories: on v1 one per hierarchy,
// named as its mount point and listing its controllers, each the cgroup's
// own (here: its memory limit shows there).
func TestRealHierarchies(t *testing.T) {
	fs := needRoot(t)
	c := newTest(t, fs, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(64 << 20))}})
	hs := c.Hierarchies()
	if fs.Mode == V2 {
		if len(hs) != 1 || hs[0].Name != "" || readFile(t, hs[0].Dir, "memory.max") != "67108864" {
			t.Fatalf("v2 hierarchies: %+v", hs)
		}
		return
	}
	var ctrls []string
	for _, h := range hs {
		if h.Name != filepath.Base(fs.Controllers[h.Controllers[0]]) || h.Dir != c.Dir(h.Controllers[0]) {
			t.Errorf("hierarchy %+v", h)
		}
		ctrls = append(ctrls, h.Controllers...)
		if slices.Contains(h.Controllers, "memory") && readFile(t, h.Dir, "memory.limit_in_bytes") != "67108864" {
			t.Errorf("memory.limit_in_bytes in %s", h.Dir)
		}
	}
	if len(ctrls) != len(fs.Controllers) {
		t.Errorf("hierarchies hold controllers %q, the host has %d of berth's", ctrls, len(fs.Controllers))
	}
}
