package runtime

import (
	"errors"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The main goroutine keeps the main thread: the locked threads these
// tests end must never be the main one, which Go cannot end.
func init() { goruntime.LockOSThread() }

func TestCgroupFSFor(t *testing.T) {
	cgroupfs := specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup"}
	ns := []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.MountNamespace}}
	withCgroupNS := append(slices.Clone(ns), specs.LinuxNamespace{Type: specs.CgroupNamespace})
	for _, tc := range []struct {
		name    string
		mounts  []specs.Mount
		nss     []specs.LinuxNamespace
		unified bool
		want    string
	}{
		{"v2, a cgroup namespace: a cgroup2 of it", []specs.Mount{cgroupfs}, withCgroupNS, true, CgroupFS2},
		{"v2, the host's cgroup namespace: the cgroup's dir", []specs.Mount{cgroupfs}, ns, true, CgroupFSTree},
		{"v1: the cgroup's dirs", []specs.Mount{cgroupfs}, ns, false, CgroupFSTrees},
		{"v1, a cgroup namespace: the cgroup's dirs", []specs.Mount{cgroupfs}, withCgroupNS, false, CgroupFSTrees},
		{"a spec without the mount (an older container's)", nil, withCgroupNS, true, ""},
	} {
		spec := &specs.Spec{Mounts: tc.mounts, Linux: &specs.Linux{Namespaces: tc.nss}}
		if got := CgroupFSFor(spec, tc.unified); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestTreesMessage(t *testing.T) {
	// Real descriptors, which the test closes: the join ones itself, the
	// trees' through their files.
	fds := func(n int) []int {
		var out []int
		for range n {
			fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fd)
		}
		return out
	}
	decode := func(msg []byte, fds []int) ([]int, []CgroupTree, error) {
		join, trees, err := decodeTrees(msg, fds)
		if err != nil {
			for _, fd := range fds {
				unix.Close(fd)
			}
			return nil, nil, err
		}
		for _, fd := range join {
			unix.Close(fd)
		}
		for _, tr := range trees {
			defer tr.File.Close()
		}
		return join, trees, nil
	}
	four := fds(4)
	msg := encodeTrees(2, []CgroupTree{{Name: "memory"}, {Name: "cpu,cpuacct", Links: []string{"cpu", "cpuacct"}}})
	join, trees, err := decode(msg, four)
	if err != nil || !slices.Equal(join, four[:2]) || len(trees) != 2 ||
		trees[0].Name != "memory" || trees[1].Name != "cpu,cpuacct" || !slices.Equal(trees[1].Links, []string{"cpu", "cpuacct"}) {
		t.Errorf("round trip: %v %+v %v", join, trees, err)
	}
	if _, trees, err := decode(encodeTrees(0, []CgroupTree{{}}), fds(1)); err != nil || len(trees) != 1 || trees[0].Name != "" {
		t.Errorf("v2's one tree: %+v %v", trees, err)
	}
	for _, bad := range []string{"", "x\n", "3\n", "2\nmemory\n", "0\n../etc\n", "0\ncpu a/b\n", "0\n.\n.\n", "0\nmemory .\n", "0\n\n"} {
		if _, _, err := decode([]byte(bad), fds(2)); err == nil {
			t.Errorf("%q for two files accepted", bad)
		}
	}
}

// onThread runs fn on a locked thread with a private mount namespace (and
// a cgroup namespace of its own, with cgroupNS), which ends with it.
func onThread(t *testing.T, cgroupNS bool, fn func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread() // never unlocked: the thread ends here
		errc <- func() error {
			flags := unix.CLONE_NEWNS | unix.CLONE_FS
			if cgroupNS {
				flags |= unix.CLONE_NEWCGROUP
			}
			if err := unix.Unshare(flags); err != nil {
				return err
			}
			if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
				return err
			}
			return fn()
		}()
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// cgroupRoot makes a container root with /sys/fs/cgroup.
func cgroupRoot(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sys/fs/cgroup"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// mountCgroupIn makes /sys/fs/cgroup in the root dir as the init stage
// does, the tmpfs of CgroupFSTrees first (setupRootfs), the rest once in
// the cgroup, everything looked up in the calling thread's mount
// namespace (where the mounts go).
func mountCgroupIn(dir, mode string, m *specs.Mount, trees []CgroupTree) error {
	root, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer root.Close()
	if mode == CgroupFSTrees {
		if err := mountInRoot(root, cgroupTmpfs(m)); err != nil {
			return err
		}
	}
	return mountCgroupFS(root, mode, m, trees)
}

// tree makes a detached mount of a new directory holding file, as the
// monitor makes one of a cgroup directory.
func tree(t *testing.T, name, file string) CgroupTree {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, file), []byte(name), 0o644); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.OpenTree(unix.AT_FDCWD, dir, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), dir)
	t.Cleanup(func() { f.Close() })
	return CgroupTree{Name: name, File: f}
}

var roCgroup = &specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "ro"}}

// mountFlags are the flags of the mount on top of p.
func statfs(t *testing.T, p string) unix.Statfs_t {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func wantReadOnly(t *testing.T, p string) {
	t.Helper()
	if st := statfs(t, p); st.Flags&unix.ST_RDONLY == 0 || st.Flags&unix.ST_NOSUID == 0 || st.Flags&unix.ST_NOEXEC == 0 || st.Flags&unix.ST_NODEV == 0 {
		t.Errorf("%s: flags %#x, want ro, nosuid, noexec, nodev", p, st.Flags)
	}
	if err := os.WriteFile(filepath.Join(p, "new"), nil, 0o644); !errors.Is(err, unix.EROFS) {
		t.Errorf("a write under %s: %v, want EROFS", p, err)
	}
}

// cgroup v1: a tmpfs holds the container's directory of each hierarchy,
// bound read-only, and links by the names of co-mounted controllers.
func TestMountCgroupV1(t *testing.T) {
	dir := cgroupRoot(t)
	memory, cpu := tree(t, "memory", "memory.limit_in_bytes"), tree(t, "cpu,cpuacct", "cpu.cfs_quota_us")
	cpu.Links = []string{"cpu", "cpuacct"}
	onThread(t, false, func() error {
		if err := mountCgroupIn(dir, CgroupFSTrees, roCgroup, []CgroupTree{memory, cpu}); err != nil {
			return err
		}
		fs := filepath.Join(dir, "sys/fs/cgroup")
		ents, _ := os.ReadDir(fs)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		if !slices.Equal(names, []string{"cpu", "cpu,cpuacct", "cpuacct", "memory"}) {
			t.Errorf("/sys/fs/cgroup holds %q", names)
		}
		for file, want := range map[string]string{"memory/memory.limit_in_bytes": "memory", "cpu/cpu.cfs_quota_us": "cpu,cpuacct", "cpuacct/cpu.cfs_quota_us": "cpu,cpuacct"} {
			if b, err := os.ReadFile(filepath.Join(fs, file)); err != nil || string(b) != want {
				t.Errorf("%s: %q %v", file, b, err)
			}
		}
		if statfs(t, fs).Type != unix.TMPFS_MAGIC {
			t.Errorf("/sys/fs/cgroup is no tmpfs")
		}
		wantReadOnly(t, fs)
		wantReadOnly(t, filepath.Join(fs, "memory"))
		wantReadOnly(t, filepath.Join(fs, "cpu,cpuacct"))
		return nil
	})
}

// cgroup v2 in the host's cgroup namespace: the container's directory on
// /sys/fs/cgroup itself, read-only; privileged: read-write.
func TestMountCgroupV2HostNamespace(t *testing.T) {
	for _, privileged := range []bool{false, true} {
		dir := cgroupRoot(t)
		m := roCgroup
		if privileged {
			m = &specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev"}}
		}
		onThread(t, false, func() error {
			if err := mountCgroupIn(dir, CgroupFSTree, m, []CgroupTree{tree(t, "", "memory.max")}); err != nil {
				return err
			}
			fs := filepath.Join(dir, "sys/fs/cgroup")
			if _, err := os.Stat(filepath.Join(fs, "memory.max")); err != nil {
				t.Errorf("the cgroup's file: %v", err)
			}
			if privileged {
				return os.WriteFile(filepath.Join(fs, "memory.max"), []byte("1"), 0o644)
			}
			wantReadOnly(t, fs)
			return nil
		})
	}
}

// cgroup v2 with a cgroup namespace of its own: a cgroup2 file system of
// that namespace, read-only.
func TestMountCgroupV2Namespace(t *testing.T) {
	dir := cgroupRoot(t)
	onThread(t, true, func() error {
		if err := mountCgroupIn(dir, CgroupFS2, roCgroup, nil); err != nil {
			return err
		}
		fs := filepath.Join(dir, "sys/fs/cgroup")
		if statfs(t, fs).Type != unix.CGROUP2_SUPER_MAGIC {
			t.Errorf("/sys/fs/cgroup is no cgroup2")
		}
		if _, err := os.Stat(filepath.Join(fs, "cgroup.procs")); err != nil {
			t.Errorf("cgroup.procs: %v", err)
		}
		wantReadOnly(t, fs)
		// The namespace's root is the thread's cgroup.
		b, err := os.ReadFile("/proc/thread-self/cgroup")
		if err != nil || !strings.Contains(string(b), "0::/\n") {
			t.Errorf("/proc/thread-self/cgroup: %q %v", b, err)
		}
		return nil
	})
}

// A mode the stage does not know, or trees that do not fit it, are
// refused, nothing mounted in their place.
func TestMountCgroupRefuses(t *testing.T) {
	dir := cgroupRoot(t)
	onThread(t, false, func() error {
		for _, tc := range []struct {
			mode  string
			trees []CgroupTree
		}{
			{"cgroup3", nil},
			{CgroupFSTree, nil},
			{CgroupFSTree, []CgroupTree{tree(t, "memory", "x")}},
		} {
			if err := mountCgroupIn(dir, tc.mode, roCgroup, tc.trees); err == nil {
				t.Errorf("%s with %d trees: mounted", tc.mode, len(tc.trees))
			}
		}
		if statfs(t, filepath.Join(dir, "sys/fs/cgroup")).Type == unix.CGROUP2_SUPER_MAGIC {
			t.Error("a cgroup file system was mounted")
		}
		return nil
	})
}
