package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"berth/containers/rootfs"
)

// setupRootfs builds the container's root inside its own mount namespace
// and pivots into it. It runs in the init stage, single-threaded in effect
// (the thread is locked and nothing else runs).
func setupRootfs(cfg *InitConfig) error {
	spec := cfg.Spec
	root := spec.Root.Path
	// Nothing we mount may propagate back to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if err := rootfs.Mount(root, rootfs.Layers{Lowers: cfg.Lowers, Upper: cfg.Upper, Work: cfg.Work, Volatile: cfg.Volatile}); err != nil {
		return err
	}
	// Every path below is looked up through this handle, inside the root:
	// a link of the image's never leads set-up out of it.
	rootDir, err := os.OpenFile(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open rootfs: %w", err)
	}
	defer rootDir.Close()
	for _, m := range spec.Mounts {
		if m.Type == "cgroup" {
			// The cgroup's directories, once the monitor has made them;
			// a cgroup2 of the cgroup namespace last (Init).
			if cfg.CgroupFS == CgroupFSDir || cfg.CgroupFS == CgroupFSDirs {
				dirs, err := readCgroupDirs(initJoinFD)
				if err == nil {
					err = mountCgroupDirs(rootDir, cfg.CgroupFS, m, dirs)
				}
				if err != nil {
					return fmt.Errorf("mount %s: %w", m.Destination, err)
				}
			}
			continue
		}
		if err := mountInRoot(rootDir, m); err != nil {
			return fmt.Errorf("mount %s on %s: %w", m.Source, m.Destination, err)
		}
	}
	if cfg.Shm {
		if err := mountShm(rootDir); err != nil {
			return err
		}
	}
	if err := createDevices(rootDir, spec); err != nil {
		return err
	}
	if spec.Hostname != "" && hasNamespace(spec, specs.UTSNamespace) {
		if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
			return fmt.Errorf("set hostname: %w", err)
		}
	}
	if hasNamespace(spec, specs.NetworkNamespace) {
		if err := loopbackUp(); err != nil {
			return err
		}
	}
	if err := pivotRoot(root); err != nil {
		return err
	}
	if spec.Process.Terminal {
		err := setupConsole(initConsoleFD)
		unix.Close(initConsoleFD)
		if err != nil {
			return err
		}
	}
	// Sysctls go in before /proc/sys turns read-only; the engine allowed
	// only those of the container's own namespaces.
	if err := writeSysctls(spec.Linux.Sysctl); err != nil {
		return err
	}
	for _, p := range spec.Linux.MaskedPaths {
		if err := maskPath(p); err != nil {
			return err
		}
	}
	for _, p := range spec.Linux.ReadonlyPaths {
		if err := readonlyPath(p); err != nil {
			return err
		}
	}
	if spec.Root.Readonly {
		if err := unix.Mount("", "/", "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("make root read-only: %w", err)
		}
	}
	return nil
}

func hasNamespace(spec *specs.Spec, t specs.LinuxNamespaceType) bool {
	if spec.Linux == nil {
		return false
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == t && ns.Path == "" {
			return true
		}
	}
	return false
}

var mountFlags = map[string]struct {
	clear bool
	flag  uintptr
}{
	"ro": {false, unix.MS_RDONLY}, "rw": {true, unix.MS_RDONLY},
	"nosuid": {false, unix.MS_NOSUID}, "suid": {true, unix.MS_NOSUID},
	"nodev": {false, unix.MS_NODEV}, "dev": {true, unix.MS_NODEV},
	"noexec": {false, unix.MS_NOEXEC}, "exec": {true, unix.MS_NOEXEC},
	"bind": {false, unix.MS_BIND}, "rbind": {false, unix.MS_BIND | unix.MS_REC},
	"relatime": {false, unix.MS_RELATIME}, "strictatime": {false, unix.MS_STRICTATIME},
	"noatime": {false, unix.MS_NOATIME},
}

var propagationFlags = map[string]uintptr{
	"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC,
	"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC,
	"shared": unix.MS_SHARED, "rshared": unix.MS_SHARED | unix.MS_REC,
}

func parseMountOptions(opts []string) (flags, prop uintptr, data string) {
	var d []string
	for _, o := range opts {
		if f, ok := mountFlags[o]; ok {
			if f.clear {
				flags &^= f.flag
			} else {
				flags |= f.flag
			}
		} else if p, ok := propagationFlags[o]; ok {
			prop |= p
		} else {
			d = append(d, o)
		}
	}
	return flags, prop, strings.Join(d, ",")
}

// mountInRoot mounts m at its destination inside root. The destination
// is resolved with openat2 RESOLVE_IN_ROOT and mounted through its
// descriptor: no link in the image sends a mount, a directory or a file to
// a host path. A kernel file system (proc, sysfs, tmpfs, devpts, mqueue)
// must land on a directory of the image, never on a link (as runc): an
// image whose /proc, /sys or /dev is a link is refused. A bind mount of a
// file (the etcfiles: /etc/hosts, ...) follows the image's links inside the
// root, as Docker's.
func mountInRoot(root *os.File, m specs.Mount) error {
	flags, prop, data := parseMountOptions(m.Options)
	bind := flags&unix.MS_BIND != 0
	dir := true
	if bind {
		fi, err := os.Stat(m.Source)
		if err != nil {
			return err
		}
		dir = fi.IsDir()
	} else if err := refuseLink(root, m.Destination); err != nil {
		return err
	}
	target, err := makeTarget(root, m.Destination, dir)
	if err != nil {
		return err
	}
	mflags := flags
	if bind {
		mflags &= unix.MS_BIND | unix.MS_REC
	}
	err = unix.Mount(m.Source, fdPath(target), m.Type, mflags, data)
	target.Close()
	if err != nil {
		return err
	}
	// A bind mount takes its other flags only on a remount, and the
	// propagation is set apart: both on the new mount, looked up anew.
	rest := flags &^ (unix.MS_BIND | unix.MS_REC)
	if !bind {
		rest = 0
	}
	if rest == 0 && prop == 0 {
		return nil
	}
	top, err := openInRoot(root, m.Destination, unix.O_PATH)
	if err != nil {
		return err
	}
	defer top.Close()
	if rest != 0 {
		if err := unix.Mount("", fdPath(top), "", rest|unix.MS_BIND|unix.MS_REMOUNT, ""); err != nil {
			return fmt.Errorf("remount: %w", err)
		}
	}
	if prop != 0 {
		if err := unix.Mount("", fdPath(top), "", prop, ""); err != nil {
			return fmt.Errorf("set propagation: %w", err)
		}
	}
	return nil
}

// mountShm attaches the /dev/shm mount the monitor passed as fd 7 (another
// container's, see CloneShm) on /dev/shm inside root.
func mountShm(root *os.File) error {
	target, err := mkdirAllInRoot(root, "/dev/shm", 0o755)
	if err != nil {
		return fmt.Errorf("mount the shared /dev/shm: %w", err)
	}
	defer target.Close()
	err = unix.MoveMount(initShmFD, "", int(target.Fd()), "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
	unix.Close(initShmFD)
	if err != nil {
		return fmt.Errorf("mount the shared /dev/shm: %w", err)
	}
	return nil
}

// fdPath names the file f holds, for calls that take a path (mount): the
// magic link leads to exactly that file, whatever its name now resolves to.
func fdPath(f *os.File) string { return "/proc/self/fd/" + strconv.Itoa(int(f.Fd())) }

// openInRoot opens path inside root, with the image's links resolved inside
// it and no magic links (/proc/self/fd) followed.
func openInRoot(root *os.File, path string, flags int) (*os.File, error) {
	how := &unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	if flags&unix.O_CREAT != 0 {
		how.Mode = 0o644
	}
	fd, err := unix.Openat2(int(root.Fd()), path, how)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// mkdirAllInRoot makes path and its missing parents inside root, each
// step resolved inside it, and returns a handle on the directory. (The
// container has no process yet: nothing races the steps. pathrs-lite's
// MkdirAllHandle guards against that too, at the cost of a private procfs
// per call, which made every start some milliseconds slower.)
func mkdirAllInRoot(root *os.File, path string, mode uint32) (*os.File, error) {
	if f, err := openInRoot(root, path, unix.O_PATH|unix.O_DIRECTORY); err == nil {
		return f, nil
	}
	cur := "/"
	for _, elem := range strings.Split(filepath.Clean("/"+path), "/")[1:] {
		parent, err := openInRoot(root, cur, unix.O_PATH|unix.O_DIRECTORY)
		if err != nil {
			return nil, err
		}
		err = unix.Mkdirat(int(parent.Fd()), elem, mode)
		parent.Close()
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, &os.PathError{Op: "mkdir", Path: filepath.Join(cur, elem), Err: err}
		}
		cur = filepath.Join(cur, elem)
	}
	return openInRoot(root, path, unix.O_PATH|unix.O_DIRECTORY)
}

// refuseLink fails when path's last element is a link in the image.
func refuseLink(root *os.File, path string) error {
	f, err := openInRoot(root, path, unix.O_PATH|unix.O_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return nil
	case unix.S_IFLNK:
		return fmt.Errorf("the image's %s is a symbolic link: it must be a directory", path)
	}
	return fmt.Errorf("the image's %s is not a directory", path)
}

// makeTarget makes the mount point path inside root (a directory, or an
// empty file and its parents) unless it exists, and returns a handle on it.
func makeTarget(root *os.File, path string, dir bool) (*os.File, error) {
	if dir {
		return mkdirAllInRoot(root, path, 0o755)
	}
	if f, err := openInRoot(root, path, unix.O_PATH); err == nil {
		return f, nil
	}
	parent, err := mkdirAllInRoot(root, filepath.Dir(path), 0o755)
	if err != nil {
		return nil, err
	}
	parent.Close()
	f, err := openInRoot(root, path, unix.O_CREAT|unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// createDevices makes the spec's device nodes and the usual /dev links,
// each through a handle on its directory inside the root.
func createDevices(root *os.File, spec *specs.Spec) error {
	old := unix.Umask(0)
	defer unix.Umask(old)
	for _, d := range spec.Linux.Devices {
		dir, err := mkdirAllInRoot(root, filepath.Dir(d.Path), 0o755)
		if err != nil {
			return fmt.Errorf("create device %s: %w", d.Path, err)
		}
		mode := uint32(0o666)
		if d.FileMode != nil {
			mode = uint32(*d.FileMode)
		}
		var typ uint32 = unix.S_IFCHR
		if d.Type == "b" {
			typ = unix.S_IFBLK
		}
		name := filepath.Base(d.Path)
		_ = unix.Unlinkat(int(dir.Fd()), name, 0)
		err = unix.Mknodat(int(dir.Fd()), name, typ|mode, int(unix.Mkdev(uint32(d.Major), uint32(d.Minor))))
		if err == nil && (d.UID != nil || d.GID != nil) {
			uid, gid := -1, -1
			if d.UID != nil {
				uid = int(*d.UID)
			}
			if d.GID != nil {
				gid = int(*d.GID)
			}
			err = unix.Fchownat(int(dir.Fd()), name, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
		}
		dir.Close()
		if err != nil {
			return fmt.Errorf("create device %s: %w", d.Path, err)
		}
	}
	dev, err := openInRoot(root, "/dev", unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return fmt.Errorf("open /dev: %w", err)
	}
	defer dev.Close()
	links := [][2]string{
		{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
		{"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"},
	}
	for _, l := range links {
		_ = unix.Unlinkat(int(dev.Fd()), l[1], 0)
		if err := unix.Symlinkat(l[0], int(dev.Fd()), l[1]); err != nil {
			return fmt.Errorf("create /dev/%s: %w", l[1], err)
		}
	}
	return nil
}

// pivotRoot makes root the process's root and detaches the old one.
func pivotRoot(root string) error {
	if err := os.Chdir(root); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	// pivot_root(".", ".") stacks the old root under the new one; unmounting
	// "." then removes the old root without needing a directory for it.
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root %s: %w", root, err)
	}
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("pivot_root: make old root slave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("pivot_root: detach old root: %w", err)
	}
	return os.Chdir("/")
}

func maskPath(p string) error {
	fi, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mask %s: %w", p, err)
	}
	if fi.IsDir() {
		err = unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY, "size=0")
	} else {
		err = unix.Mount("/dev/null", p, "", unix.MS_BIND, "")
	}
	if err != nil {
		return fmt.Errorf("mask %s: %w", p, err)
	}
	return nil
}

func readonlyPath(p string) error {
	if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("read-only %s: %w", p, err)
	}
	if err := unix.Mount("", p, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("read-only %s: %w", p, err)
	}
	return nil
}

func writeSysctls(sysctls map[string]string) error {
	keys := make([]string, 0, len(sysctls))
	for k := range sysctls {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.Contains(k, "/") || strings.Contains(k, "..") {
			return fmt.Errorf("sysctl %q: invalid name", k)
		}
		p := "/proc/sys/" + strings.ReplaceAll(k, ".", "/")
		if err := os.WriteFile(p, []byte(sysctls[k]), 0); err != nil {
			return fmt.Errorf("sysctl %s=%s: %w", k, sysctls[k], err)
		}
	}
	return nil
}

// loopbackUp brings up lo in the container's new network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback: get flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback: bring up: %w", err)
	}
	return nil
}
