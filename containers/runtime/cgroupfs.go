package runtime

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The container's /sys/fs/cgroup, as Docker shows it: the container's own
// cgroup as the root, read-only (unless privileged), nothing of the host's
// other cgroups, so that programs that size themselves by their limits
// (JVMs, Go's GOMAXPROCS, Node) find them. The spec asks for it with a
// mount of type "cgroup" (Docker's); the monitor decides how to make it
// (CgroupFSFor: a function of the spec's namespaces and the host's cgroup
// version) and tells the init stage (InitConfig.CgroupFS).

// How the init stage makes /sys/fs/cgroup.
const (
	// CgroupFS2: cgroup v2 and a cgroup namespace of the container's own
	// (Docker's default): a cgroup2 file system mounted in that namespace,
	// whose root is the container's cgroup. Made last, once the stage is
	// in its cgroup and has made the namespace.
	CgroupFS2 = "cgroup2"
	// CgroupFSDir: cgroup v2 and the host's cgroup namespace (--cgroupns
	// host): the container's cgroup directory, bound on /sys/fs/cgroup.
	CgroupFSDir = "dir"
	// CgroupFSDirs: cgroup v1: a tmpfs with the container's directory of
	// each hierarchy bound on /sys/fs/cgroup/<hierarchy>, and links for
	// co-mounted controllers (cpu -> cpu,cpuacct), as runc makes it.
	CgroupFSDirs = "dirs"
)

// CgroupFSFor is how the init stage of spec makes /sys/fs/cgroup on a host
// whose cgroups are v2 (unified) or v1: one of the CgroupFS modes, or ""
// when the spec mounts no cgroup file system (a container made before
// berth did). With CgroupFSDir and CgroupFSDirs the stage binds the
// container's cgroup directories, with the root's other mounts (in their
// order, as Docker's), once the monitor has made them and said where they
// are (Process.SendCgroupDirs).
func CgroupFSFor(spec *specs.Spec, unified bool) string {
	switch {
	case cgroupMount(spec) == nil:
		return ""
	case !unified:
		return CgroupFSDirs
	case hasNamespace(spec, specs.CgroupNamespace):
		return CgroupFS2
	}
	return CgroupFSDir
}

// CgroupDir is one of the container's cgroup directories, for the init
// stage to bind under /sys/fs/cgroup.
type CgroupDir struct {
	// Name is its directory under /sys/fs/cgroup: the hierarchy's on v1
	// ("memory", "cpu,cpuacct"), "" on v2 (/sys/fs/cgroup itself).
	Name string `json:"name"`
	// Links are further names that lead to it (v1 co-mounted controllers).
	Links []string `json:"links,omitempty"`
	// Path is the directory on the host. The stage binds it before it
	// leaves the host's file system: a path berth made, on a cgroup file
	// system, where a container has no say.
	Path string `json:"path"`
}

// maxCgroupDirs bounds the description of the directories the stage
// reads.
const maxCgroupDirs = 64 << 10

// SendCgroupDirs tells the stage, started with InitConfig.CgroupFS
// CgroupFSDir or CgroupFSDirs, the container's cgroup directories, once
// they exist: it waits for them to bind them with the root's other
// mounts.
func (p *Process) SendCgroupDirs(dirs []CgroupDir) error {
	if p.join == nil {
		return errors.New("the init stage has no socket for cgroup directories")
	}
	b, err := json.Marshal(dirs)
	if err != nil {
		return err
	}
	if len(b) > maxCgroupDirs {
		return fmt.Errorf("cgroup directories: %d bytes", len(b))
	}
	msg := binary.LittleEndian.AppendUint32([]byte{'c'}, uint32(len(b)))
	_, err = p.join.Write(append(msg, b...))
	return err
}

// readCgroupDirs reads what SendCgroupDirs sent on the socket fd,
// exactly: the tasks files the monitor sends later on it are left there
// (joinCgroup).
func readCgroupDirs(fd int) ([]CgroupDir, error) {
	sock := fdReader(fd)
	var head [5]byte
	if _, err := io.ReadFull(sock, head[:]); err != nil {
		return nil, fmt.Errorf("read the cgroup directories: %w", err)
	}
	n := binary.LittleEndian.Uint32(head[1:])
	if head[0] != 'c' || n > maxCgroupDirs {
		return nil, fmt.Errorf("bad cgroup directories message %q", head)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(sock, b); err != nil {
		return nil, fmt.Errorf("read the cgroup directories: %w", err)
	}
	var dirs []CgroupDir
	if err := json.Unmarshal(b, &dirs); err != nil {
		return nil, fmt.Errorf("read the cgroup directories: %w", err)
	}
	return dirs, nil
}

// fdReader reads a descriptor that it does not own (an *os.File would
// close it when collected).
type fdReader int

func (r fdReader) Read(b []byte) (int, error) {
	for {
		n, err := unix.Read(int(r), b)
		if err == unix.EINTR {
			continue
		}
		if n == 0 && err == nil && len(b) > 0 {
			return 0, io.EOF
		}
		return max(n, 0), err
	}
}

// cgroupMount is the spec's mount of the cgroup file system, or nil.
func cgroupMount(spec *specs.Spec) *specs.Mount {
	for i, m := range spec.Mounts {
		if m.Type == "cgroup" {
			return &spec.Mounts[i]
		}
	}
	return nil
}

// mountCgroupDirs makes m (a mount of type "cgroup") inside root as mode
// (CgroupFSDir or CgroupFSDirs) says, from dirs.
func mountCgroupDirs(root *os.File, mode string, m specs.Mount, dirs []CgroupDir) error {
	flags, _, _ := parseMountOptions(m.Options)
	flags &= unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	bind := func(dest, src string) error {
		opts := []string{"bind", "nosuid", "nodev", "noexec"}
		if flags&unix.MS_RDONLY != 0 {
			opts = append(opts, "ro")
		}
		return mountInRoot(root, specs.Mount{Destination: dest, Type: "bind", Source: src, Options: opts})
	}
	valid := func(name string) bool {
		return name != "" && name != "." && name != ".." && !strings.Contains(name, "/")
	}
	switch mode {
	case CgroupFSDir:
		if len(dirs) != 1 || dirs[0].Name != "" {
			return fmt.Errorf("%d cgroup directories, want the one", len(dirs))
		}
		return bind(m.Destination, dirs[0].Path)
	case CgroupFSDirs:
	default:
		return fmt.Errorf("unknown way %q", mode)
	}
	if len(dirs) == 0 {
		return errors.New("no cgroup directory to mount")
	}
	tmpfs := specs.Mount{Destination: m.Destination, Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "noexec", "mode=755", "size=64k"}}
	if err := mountInRoot(root, tmpfs); err != nil {
		return err
	}
	dir, err := openInRoot(root, m.Destination, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer dir.Close()
	for _, d := range dirs {
		if !valid(d.Name) || slices.ContainsFunc(d.Links, func(l string) bool { return !valid(l) }) {
			return fmt.Errorf("bad cgroup directory name %q %q", d.Name, d.Links)
		}
		if err := unix.Mkdirat(int(dir.Fd()), d.Name, 0o755); err != nil {
			return fmt.Errorf("mkdir %s: %w", d.Name, err)
		}
		if err := bind(filepath.Join(m.Destination, d.Name), d.Path); err != nil {
			return fmt.Errorf("bind %s: %w", d.Path, err)
		}
		for _, l := range d.Links {
			if l != d.Name {
				if err := unix.Symlinkat(d.Name, int(dir.Fd()), l); err != nil {
					return fmt.Errorf("link %s: %w", l, err)
				}
			}
		}
	}
	// The tmpfs, read-only once its directories are in.
	top, err := openInRoot(root, m.Destination, unix.O_PATH)
	if err != nil {
		return err
	}
	defer top.Close()
	if err := unix.Mount("", fdPath(top), "", unix.MS_REMOUNT|unix.MS_BIND|flags, ""); err != nil {
		return fmt.Errorf("remount %s: %w", m.Destination, err)
	}
	return nil
}

// mountCgroup2 mounts, last, the cgroup2 file system of the process's
// cgroup namespace on m's destination in the container's root, the
// process's root by now (after pivot_root).
func mountCgroup2(m *specs.Mount) error {
	root, err := os.OpenFile("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer root.Close()
	return mountInRoot(root, cgroup2Mount(m))
}

// cgroup2Mount is m as a mount of the cgroup2 file system.
func cgroup2Mount(m *specs.Mount) specs.Mount {
	return specs.Mount{Destination: m.Destination, Type: "cgroup2", Source: "cgroup2", Options: m.Options}
}
