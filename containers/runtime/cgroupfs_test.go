package runtime

import (
	"errors"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"syscall"
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
		{"v2, the host's cgroup namespace: the cgroup's dir", []specs.Mount{cgroupfs}, ns, true, CgroupFSDir},
		{"v1: the cgroup's dirs", []specs.Mount{cgroupfs}, ns, false, CgroupFSDirs},
		{"v1, a cgroup namespace: the cgroup's dirs", []specs.Mount{cgroupfs}, withCgroupNS, false, CgroupFSDirs},
		{"a spec without the mount (an older container's)", nil, withCgroupNS, true, ""},
	} {
		spec := &specs.Spec{Mounts: tc.mounts, Linux: &specs.Linux{Namespaces: tc.nss}}
		if got := CgroupFSFor(spec, tc.unified); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// The directories reach the stage on its join socket, read exactly: the
// tasks files the monitor sends after them on the same socket are still
// there for joinCgroup. A message that is not one is refused.
func TestCgroupDirsMessage(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "ours"), os.NewFile(uintptr(fds[1]), "theirs")
	defer ours.Close()
	defer theirs.Close()
	p := &Process{join: ours}
	dirs := []CgroupDir{{Name: "memory", Links: []string{"memory"}, Path: "/sys/fs/cgroup/memory/berth/x"}, {Name: "cpu,cpuacct", Links: []string{"cpu", "cpuacct"}, Path: "/a b/c"}}
	if err := p.SendCgroupDirs(dirs); err != nil {
		t.Fatal(err)
	}
	// Then the tasks files, as Go sends them, before the stage reads.
	tasks, err := os.CreateTemp(t.TempDir(), "tasks")
	if err != nil {
		t.Fatal(err)
	}
	defer tasks.Close()
	if err := unix.Sendmsg(int(ours.Fd()), []byte{'j'}, unix.UnixRights(int(tasks.Fd())), nil, 0); err != nil {
		t.Fatal(err)
	}
	got, err := readCgroupDirs(int(theirs.Fd()))
	if err != nil || len(got) != 2 || got[1].Path != "/a b/c" || !slices.Equal(got[1].Links, []string{"cpu", "cpuacct"}) {
		t.Fatalf("read %+v, %v", got, err)
	}
	if err := joinCgroup(int(theirs.Fd()), 1, thisThread); err != nil {
		t.Errorf("the tasks file after the directories: %v", err)
	}
	if b, _ := os.ReadFile(tasks.Name()); string(b) != "0" {
		t.Errorf("the tasks file got %q, want the join's 0", b)
	}
	for _, bad := range []string{"x\x02\x00\x00\x00[]", "c\xff\xff\xff\xff", "c\x03\x00\x00\x00{}}", "c\x04\x00"} {
		if _, err := ours.Write([]byte(bad)); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(bad, "c\x04") {
			ours.Close() // cut short
		}
		if got, err := readCgroupDirs(int(theirs.Fd())); err == nil {
			t.Errorf("%q read as %+v", bad, got)
		}
		// Drain what is left of a refused message.
		unix.SetNonblock(int(theirs.Fd()), true)
		buf := make([]byte, 64)
		for {
			if n, _ := unix.Read(int(theirs.Fd()), buf); n <= 0 {
				break
			}
		}
		unix.SetNonblock(int(theirs.Fd()), false)
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

// inRoot runs fn with a handle on the root dir, looked up in the calling
// thread's mount namespace (where the mounts go).
func inRoot(dir string, fn func(root *os.File) error) error {
	root, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer root.Close()
	return fn(root)
}

// cgroupDir makes a directory standing for a cgroup's, holding file.
func cgroupDir(t *testing.T, name, file string) CgroupDir {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, file), []byte(name), 0o644); err != nil {
		t.Fatal(err)
	}
	return CgroupDir{Name: name, Path: dir}
}

var roCgroup = specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "ro"}}

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
	memory, cpu := cgroupDir(t, "memory", "memory.limit_in_bytes"), cgroupDir(t, "cpu,cpuacct", "cpu.cfs_quota_us")
	memory.Links, cpu.Links = []string{"memory"}, []string{"cpu", "cpuacct"}
	onThread(t, false, func() error {
		if err := inRoot(dir, func(root *os.File) error {
			return mountCgroupDirs(root, CgroupFSDirs, roCgroup, []CgroupDir{memory, cpu})
		}); err != nil {
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
func TestMountCgroupV2Dir(t *testing.T) {
	for _, privileged := range []bool{false, true} {
		dir := cgroupRoot(t)
		m := roCgroup
		if privileged {
			m.Options = []string{"nosuid", "noexec", "nodev"}
		}
		d := cgroupDir(t, "", "memory.max")
		onThread(t, false, func() error {
			if err := inRoot(dir, func(root *os.File) error {
				return mountCgroupDirs(root, CgroupFSDir, m, []CgroupDir{d})
			}); err != nil {
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
		if err := inRoot(dir, func(root *os.File) error { return mountInRoot(root, cgroup2Mount(&roCgroup)) }); err != nil {
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
		return nil
	})
}

// A way the stage does not know, directories that do not fit it, or names
// that would leave /sys/fs/cgroup are refused.
func TestMountCgroupRefuses(t *testing.T) {
	dir := cgroupRoot(t)
	memory := cgroupDir(t, "memory", "x")
	onThread(t, false, func() error {
		for _, tc := range []struct {
			mode string
			dirs []CgroupDir
		}{
			{"cgroup3", []CgroupDir{memory}},
			{CgroupFSDir, nil},
			{CgroupFSDir, []CgroupDir{memory}},
			{CgroupFSDirs, nil},
			{CgroupFSDirs, []CgroupDir{{Name: "..", Path: memory.Path}}},
			{CgroupFSDirs, []CgroupDir{{Name: "ok", Links: []string{"../../etc"}, Path: memory.Path}}},
		} {
			err := inRoot(dir, func(root *os.File) error { return mountCgroupDirs(root, tc.mode, roCgroup, tc.dirs) })
			if err == nil {
				t.Errorf("%s with %+v: mounted", tc.mode, tc.dirs)
			}
		}
		return nil
	})
	if _, err := os.Lstat(filepath.Join(dir, "etc")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a link's name left /sys/fs/cgroup: %v", err)
	}
}
