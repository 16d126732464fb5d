package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
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
	if err := mountOverlay(root, cfg.Lowers, cfg.Upper, cfg.Work); err != nil {
		return err
	}
	for _, m := range spec.Mounts {
		if err := mountInRoot(root, m); err != nil {
			return fmt.Errorf("mount %s on %s: %w", m.Source, m.Destination, err)
		}
	}
	if err := createDevices(root, spec); err != nil {
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

// mountOverlay mounts the image layers and the container's upper dir on
// root. Lower dirs are named relative to their common parent (we chdir
// there) so that images with many layers fit the one-page mount data limit.
func mountOverlay(root string, lowers []string, upper, work string) error {
	if len(lowers) == 0 {
		return errors.New("mount rootfs: image has no layers")
	}
	base := filepath.Dir(lowers[0])
	names := make([]string, len(lowers))
	for i, l := range lowers {
		// overlayfs takes the uppermost lower dir first.
		j := len(lowers) - 1 - i
		if filepath.Dir(l) == base {
			names[j] = filepath.Base(l)
		} else {
			names[j] = l
		}
	}
	if err := os.Chdir(base); err != nil {
		return fmt.Errorf("mount rootfs: %w", err)
	}
	data := "lowerdir=" + strings.Join(names, ":") + ",upperdir=" + upper + ",workdir=" + work
	if len(data) >= os.Getpagesize() {
		return fmt.Errorf("mount rootfs: %d layers exceed the overlay mount option limit", len(lowers))
	}
	if err := unix.Mount("overlay", root, "overlay", 0, data); err != nil {
		return fmt.Errorf("mount overlay rootfs on %s: %w", root, err)
	}
	return os.Chdir("/")
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

// mountInRoot mounts m at its destination resolved inside root: a symlink
// in the image never sends a mount to a host path.
func mountInRoot(root string, m specs.Mount) error {
	dest, err := securejoin.SecureJoin(root, m.Destination)
	if err != nil {
		return err
	}
	flags, prop, data := parseMountOptions(m.Options)
	bind := flags&unix.MS_BIND != 0
	if bind {
		fi, err := os.Stat(m.Source)
		if err != nil {
			return err
		}
		if err := makeTarget(dest, fi.IsDir()); err != nil {
			return err
		}
		if err := unix.Mount(m.Source, dest, "", flags&(unix.MS_BIND|unix.MS_REC), ""); err != nil {
			return err
		}
		// A bind mount takes its other flags only on a remount.
		if rest := flags &^ (unix.MS_BIND | unix.MS_REC); rest != 0 {
			if err := unix.Mount("", dest, "", rest|unix.MS_BIND|unix.MS_REMOUNT, ""); err != nil {
				return fmt.Errorf("remount: %w", err)
			}
		}
	} else {
		if err := makeTarget(dest, true); err != nil {
			return err
		}
		if err := unix.Mount(m.Source, dest, m.Type, flags, data); err != nil {
			return err
		}
	}
	if prop != 0 {
		if err := unix.Mount("", dest, "", prop, ""); err != nil {
			return fmt.Errorf("set propagation: %w", err)
		}
	}
	return nil
}

func makeTarget(path string, dir bool) error {
	if dir {
		return os.MkdirAll(path, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// createDevices makes the spec's device nodes and the usual /dev links.
func createDevices(root string, spec *specs.Spec) error {
	dev := filepath.Join(root, "dev")
	old := unix.Umask(0)
	defer unix.Umask(old)
	for _, d := range spec.Linux.Devices {
		path, err := securejoin.SecureJoin(root, d.Path)
		if err != nil {
			return err
		}
		mode := uint32(0o666)
		if d.FileMode != nil {
			mode = uint32(*d.FileMode)
		}
		var typ uint32 = unix.S_IFCHR
		if d.Type == "b" {
			typ = unix.S_IFBLK
		}
		_ = os.Remove(path)
		if err := unix.Mknod(path, typ|mode, int(unix.Mkdev(uint32(d.Major), uint32(d.Minor)))); err != nil {
			return fmt.Errorf("create device %s: %w", d.Path, err)
		}
	}
	links := [][2]string{
		{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
		{"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"},
	}
	for _, l := range links {
		p := filepath.Join(dev, l[1])
		_ = os.Remove(p)
		if err := os.Symlink(l[0], p); err != nil {
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
