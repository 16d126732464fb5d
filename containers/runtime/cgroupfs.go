package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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
// version) and tells the init stage (InitConfig.CgroupFS), which makes it
// last, once in its cgroup and, when the spec gives it one, in its cgroup
// namespace. Made in the order Docker's mounts are, as the container's
// mount table lists them: the root, ..., the tmpfs on /sys/fs/cgroup, its
// hierarchies.

// How the init stage makes /sys/fs/cgroup.
const (
	// CgroupFS2: cgroup v2 and a cgroup namespace of the container's own
	// (Docker's default): a cgroup2 file system mounted in that namespace,
	// whose root is the container's cgroup.
	CgroupFS2 = "cgroup2"
	// CgroupFSTree: cgroup v2 and the host's cgroup namespace (--cgroupns
	// host): the container's cgroup directory, bound on /sys/fs/cgroup.
	CgroupFSTree = "tree"
	// CgroupFSTrees: cgroup v1: a tmpfs with the container's directory of
	// each hierarchy bound on /sys/fs/cgroup/<hierarchy>, and links for
	// co-mounted controllers (cpu -> cpu,cpuacct), as runc makes it.
	CgroupFSTrees = "trees"
)

// CgroupFSFor is how the init stage of spec makes /sys/fs/cgroup on a host
// whose cgroups are v2 (unified) or v1: one of the CgroupFS modes, or ""
// when the spec mounts no cgroup file system (a container made before
// berth did). With CgroupFSTree and CgroupFSTrees the stage needs the
// container's cgroup directories (Process.Go's trees): the monitor cuts
// them as detached mounts (CgroupTree, cgroups.Tree) in the host's mount
// namespace, once the stage has mounted the root (Process.RootMounted):
// nothing of the host's cgroup file systems is reachable by path from the
// stage.
func CgroupFSFor(spec *specs.Spec, unified bool) string {
	switch {
	case cgroupMount(spec) == nil:
		return ""
	case !unified:
		return CgroupFSTrees
	case hasNamespace(spec, specs.CgroupNamespace):
		return CgroupFS2
	}
	return CgroupFSTree
}

// CgroupTree is one of the container's cgroup directories as a detached
// mount (cgroups.Tree), which the init stage attaches under /sys/fs/cgroup.
type CgroupTree struct {
	Name  string   // its directory under /sys/fs/cgroup; "" for /sys/fs/cgroup itself
	Links []string // further names that lead to it (v1 co-mounted controllers)
	File  *os.File
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

// cgroupTmpfs is the tmpfs that holds the hierarchies on v1, made with
// the root's other mounts (setupRootfs), read-write until they are in.
func cgroupTmpfs(m *specs.Mount) specs.Mount {
	return specs.Mount{Destination: m.Destination, Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "noexec", "mode=755", "size=64k"}}
}

// mountCgroupRoot finishes m in the container's root, the process's root
// by now (after pivot_root).
func mountCgroupRoot(mode string, m *specs.Mount, trees []CgroupTree) error {
	root, err := os.OpenFile("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer root.Close()
	return mountCgroupFS(root, mode, m, trees)
}

// mountCgroupFS finishes m (a mount of type "cgroup") inside root as mode
// says, from trees (as the monitor sent them). With CgroupFSTrees, the
// tmpfs is there already (cgroupTmpfs).
func mountCgroupFS(root *os.File, mode string, m *specs.Mount, trees []CgroupTree) error {
	flags, _, _ := parseMountOptions(m.Options)
	flags &= unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	switch mode {
	case CgroupFS2:
		return mountInRoot(root, specs.Mount{Destination: m.Destination, Type: "cgroup2", Source: "cgroup2", Options: m.Options})
	case CgroupFSTree:
		if len(trees) != 1 || trees[0].Name != "" {
			return fmt.Errorf("%d cgroup directories, want the one", len(trees))
		}
		return attachTree(root, m.Destination, trees[0].File, flags)
	case CgroupFSTrees:
	default:
		return fmt.Errorf("unknown way %q", mode)
	}
	if len(trees) == 0 {
		return errors.New("no cgroup directory to mount")
	}
	dir, err := openInRoot(root, m.Destination, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer dir.Close()
	for _, t := range trees {
		if t.Name == "" {
			return errors.New("a cgroup directory without a name")
		}
		if err := unix.Mkdirat(int(dir.Fd()), t.Name, 0o755); err != nil {
			return fmt.Errorf("mkdir %s: %w", t.Name, err)
		}
		if err := attachTree(root, filepath.Join(m.Destination, t.Name), t.File, flags); err != nil {
			return err
		}
		for _, l := range t.Links {
			if l != t.Name {
				if err := unix.Symlinkat(t.Name, int(dir.Fd()), l); err != nil {
					return fmt.Errorf("link %s: %w", l, err)
				}
			}
		}
	}
	return remount(root, m.Destination, flags)
}

// attachTree moves the detached mount tree onto dest inside root, and
// gives it flags (read-only, nosuid...).
func attachTree(root *os.File, dest string, tree *os.File, flags uintptr) error {
	if err := refuseLink(root, dest); err != nil {
		return err
	}
	target, err := makeTarget(root, dest, true)
	if err != nil {
		return err
	}
	err = unix.MoveMount(int(tree.Fd()), "", int(target.Fd()), "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
	target.Close()
	if err != nil {
		return fmt.Errorf("attach %s: %w", dest, err)
	}
	return remount(root, dest, flags)
}

// remount gives the mount on top of dest (inside root) flags, besides
// those it has.
func remount(root *os.File, dest string, flags uintptr) error {
	top, err := openInRoot(root, dest, unix.O_PATH)
	if err != nil {
		return err
	}
	defer top.Close()
	if err := unix.Mount("", fdPath(top), "", unix.MS_REMOUNT|unix.MS_BIND|flags, ""); err != nil {
		return fmt.Errorf("remount %s: %w", dest, err)
	}
	return nil
}

// encodeTrees describes the join files and trees sent with them, in that
// order, for recvCgroupFiles: the number of join files, then a line per
// tree, its name ("." for "") and its links.
func encodeTrees(join int, trees []CgroupTree) []byte {
	var b strings.Builder
	b.WriteString(strconv.Itoa(join) + "\n")
	for _, t := range trees {
		name := t.Name
		if name == "" {
			name = "."
		}
		b.WriteString(strings.Join(append([]string{name}, t.Links...), " ") + "\n")
	}
	return []byte(b.String())
}

// decodeTrees reads encodeTrees' description of n files.
func decodeTrees(data []byte, fds []int) (join []int, trees []CgroupTree, err error) {
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	nj, err := strconv.Atoi(lines[0])
	if err != nil || nj < 0 || nj > len(fds) || len(lines)-1 != len(fds)-nj {
		return nil, nil, fmt.Errorf("bad description of %d cgroup files: %q", len(fds), data)
	}
	names := make([][]string, 0, len(lines)-1)
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) == 1 && f[0] == "." && len(lines) == 2 {
			f[0] = "" // the one tree, /sys/fs/cgroup itself
		} else if len(f) == 0 || slices.ContainsFunc(f, func(name string) bool {
			return name == "." || name == ".." || strings.Contains(name, "/")
		}) {
			return nil, nil, fmt.Errorf("bad cgroup tree %q", line)
		}
		names = append(names, f)
	}
	// Files only once all is well: the caller closes the descriptors
	// otherwise.
	for i, f := range names {
		trees = append(trees, CgroupTree{Name: f[0], Links: f[1:], File: os.NewFile(uintptr(fds[nj+i]), "cgroup "+f[0])})
	}
	return fds[:nj], trees, nil
}
