package e2e

import (
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"berth/containers/cgroups"
)

// What a container sees of cgroups: its own, at /sys/fs/cgroup,
// read-only, as Docker shows it. On v1 (this machine) a tmpfs holds the
// container's directory of each hierarchy berth uses; on v2 the cgroup2
// file system of its cgroup namespace.

// limitsScript prints the container's memory limit, its CPU quota and
// period, tries to write the limit and to make a cgroup (printing WROTE,
// MADE if it could), lists the directories under /sys/fs/cgroup's
// hierarchies (none: the container's cgroup has no children, and no other
// cgroup shows), and lists /sys/fs/cgroup.
func limitsScript(v2 bool) string {
	if v2 {
		return `cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max
echo 1 > /sys/fs/cgroup/memory.max && echo WROTE
mkdir /sys/fs/cgroup/sub && echo MADE
find /sys/fs/cgroup -mindepth 1 -type d
echo --; cat /proc/self/cgroup`
	}
	return `cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us
echo 1 > /sys/fs/cgroup/memory/memory.limit_in_bytes && echo WROTE
mkdir /sys/fs/cgroup/memory/sub && echo MADE
find /sys/fs/cgroup -mindepth 2 -type d
echo --; ls /sys/fs/cgroup; echo --; grep ' /sys/fs/cgroup/memory ' /proc/self/mountinfo`
}

// TestCgroupFS: inside a container with --memory 64m --cpus 0.5, the
// limit and the quota are there to read, writes fail (read-only), and no
// cgroup of the host's shows, another container's included; a container
// started again sees its cgroup again.
func TestCgroupFS(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.runD("--name", "other", "busybox", "sleep", "600")
	fs, err := cgroups.Host()
	if err != nil {
		t.Fatal(err)
	}
	v2 := fs.Mode == cgroups.V2
	e.ok("create", "--name", "limited", "--memory", "64m", "--cpus", "0.5", "busybox", "sh", "-c", limitsScript(v2))
	id := e.inspect("{{.Id}}", "limited")
	for run := range 2 { // start, and start again (a new run, a new cgroup)
		out, stderr, code := e.run("start", "-a", "limited")
		if code != 0 {
			t.Fatalf("run %d: exit %d\n%s%s", run, code, out, stderr)
		}
		parts := strings.Split(out, "--\n")
		want := "67108864\n50000\n100000\n"
		if v2 {
			want = "67108864\n50000 100000\n"
		}
		if parts[0] != want {
			t.Errorf("run %d: limits and the cgroups made:\n%s\nwant\n%s", run, parts[0], want)
		}
		if strings.Count(stderr, "Read-only file system") != 2 {
			t.Errorf("run %d: a write and a mkdir in the container's cgroup, want both refused (read-only):\n%s", run, stderr)
		}
		if v2 {
			if len(parts) != 2 || parts[1] != "0::/\n" {
				t.Errorf("run %d: /proc/self/cgroup %q, want 0::/ (a cgroup namespace of its own)", run, parts[1:])
			}
			continue
		}
		// v1: the hierarchies berth uses, and links by the names of
		// co-mounted controllers; nothing else of the host's.
		var want1 []string
		for ctrl, mnt := range fs.Controllers {
			want1 = append(want1, ctrl, filepath.Base(mnt))
		}
		slices.Sort(want1)
		want1 = slices.Compact(want1)
		if len(parts) != 3 || strings.Join(strings.Fields(parts[1]), " ") != strings.Join(want1, " ") {
			t.Errorf("run %d: /sys/fs/cgroup holds %q, want %q", run, parts[1:], want1)
		}
		// The container's own cgroup is the memory hierarchy's root there.
		if len(parts) == 3 && !strings.Contains(parts[2], " /berth/"+id+" /sys/fs/cgroup/memory ro,") {
			t.Errorf("run %d: the memory hierarchy is mounted %q, want the container's cgroup, read-only", run, parts[2])
		}
	}
}

// A privileged container's cgroup is read-write, as Docker's.
func TestCgroupFSPrivileged(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	file := "/sys/fs/cgroup/memory/memory.limit_in_bytes"
	if cgroups.Detect() == cgroups.V2 {
		file = "/sys/fs/cgroup/memory.max"
	}
	out, stderr, code := e.run("run", "--rm", "--privileged", "--memory", "64m", "busybox", "sh", "-c", "echo 100m > "+file+" && cat "+file)
	if code != 0 || out != "104857600\n" {
		t.Errorf("a privileged container raising its memory limit: exit %d, %q\n%s", code, out, stderr)
	}
}

// Go's runtime (1.25 and later) sizes GOMAXPROCS by the container's CPU
// limit, rounded up, at least 2, which it finds through /proc/self/cgroup,
// /proc/self/mountinfo and /sys/fs/cgroup: testdata/gomaxprocs prints
// GOMAXPROCS and the limit found the runtime's way. --cpus 1 and 0.5 are
// found, in a cgroup namespace of the container's own or the host's;
// GOMAXPROCS follows (on a machine of two CPUs it stays 2, the
// runtime's least); with no limit, none is found and GOMAXPROCS is every
// CPU.
func TestGOMAXPROCSFollowsCPULimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	imageWith(t, e, "gomax", map[string]fileSpec{"gomaxprocs": secFile(0o755, testProgram(t, "gomaxprocs"))})
	n := runtime.NumCPU()
	for _, tc := range []struct {
		flags []string
		limit string
		procs int
	}{
		{[]string{"--cpus", "1"}, "1", min(n, 2)},
		{[]string{"--cpus", "0.5"}, "0.5", min(n, 2)},
		// Either cgroup namespace (each host's default is one of them):
		// the runtime's way finds the limit through the mount table.
		{[]string{"--cpus", "0.5", "--cgroupns", "private"}, "0.5", min(n, 2)},
		{[]string{"--cpus", "0.5", "--cgroupns", "host"}, "0.5", min(n, 2)},
		{nil, "none", n},
	} {
		args := append(append([]string{"run", "--rm"}, tc.flags...), "gomax", "/gomaxprocs")
		want := fmt.Sprintf("GOMAXPROCS=%d NumCPU=%d limit=%s\n", tc.procs, n, tc.limit)
		if out := e.ok(args...); out != want {
			t.Errorf("%q: %q, want %q", tc.flags, out, want)
		}
	}
}
