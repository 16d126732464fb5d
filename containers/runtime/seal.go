package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// A process that enters a container (the init and exec stages, and for a
// moment the fork that makes them) is visible there as /proc/PID/exe. If
// that link led to berth's binary on the host, a process in the container
// could open it and, once no process runs it, write it (CVE-2019-5736).
// Every such process therefore runs from a sealed view of the binary: a
// read-only overlayfs of the binary's directory, made with fsopen and never
// mounted anywhere (nothing to unmount, nothing to remount read-write,
// no copy, page cache shared); where overlayfs can't be made, a sealed
// memfd copy. The handle is made once per process and kept.

var seal struct {
	once sync.Once
	path string // /proc/self/fd/N of the sealed handle
	err  error
}

// sealedFDMin keeps the sealed handle above the descriptors exec.Cmd
// renumbers in the child (stdio and ExtraFiles become 0..n), so that the
// exec of /proc/self/fd/N still finds it.
const sealedFDMin = 100

// SealedSelf returns a path that executes this process's own binary through
// a handle no process can write: "/proc/self/exe" when this process already
// runs from one, else "/proc/self/fd/N" of a sealed view made on first use.
// The path is valid for exec.Cmd.Path in this process only.
func SealedSelf() (string, error) {
	seal.once.Do(func() {
		if IsSealed() {
			seal.path = "/proc/self/exe"
			return
		}
		f, err := sealedOverlay("/proc/self/exe")
		if err != nil {
			var merr error
			if f, merr = sealedMemfd("/proc/self/exe"); merr != nil {
				seal.err = fmt.Errorf("seal own binary: overlay: %v; memfd: %w", err, merr)
				return
			}
		}
		defer f.Close()
		fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, sealedFDMin)
		if err != nil {
			seal.err = fmt.Errorf("seal own binary: %w", err)
			return
		}
		seal.path = "/proc/self/fd/" + strconv.Itoa(fd)
	})
	return seal.path, seal.err
}

// IsSealed tells whether this process runs from a handle nothing can write:
// a read-only overlayfs, or a memfd sealed against writes.
func IsSealed() bool {
	return isSealedFile("/proc/self/exe")
}

func isSealedFile(path string) bool {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	if seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0); err == nil {
		return seals&unix.F_SEAL_WRITE != 0 && seals&unix.F_SEAL_SEAL != 0
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return false
	}
	return st.Type == unix.OVERLAYFS_SUPER_MAGIC && st.Flags&unix.ST_RDONLY != 0
}

// sealedOverlay opens exe through an overlayfs whose only layers are the
// binary's directory and an empty one: with no upper layer, overlayfs
// refuses every write, and the mount exists only as a descriptor.
func sealedOverlay(exe string) (*os.File, error) {
	real, err := filepath.EvalSymlinks(exe)
	if err != nil {
		return nil, err
	}
	ctx, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("fsopen overlay: %w", err)
	}
	defer unix.Close(ctx)
	dir, name := filepath.Split(real)
	dir = filepath.Clean(dir)
	// overlayfs wants two layers when it has no upper one: the second is an
	// empty directory, needed only until the superblock exists.
	empty, err := emptyDirOutside(dir)
	if err != nil {
		return nil, err
	}
	defer os.Remove(empty)
	lower := escapeLowerDir(dir) + ":" + escapeLowerDir(empty)
	if err := unix.FsconfigSetString(ctx, "lowerdir", lower); err != nil {
		return nil, fmt.Errorf("overlay lowerdir=%s: %w", lower, err)
	}
	// xino would only log warnings when the two layers' file systems differ.
	_ = unix.FsconfigSetString(ctx, "xino", "off")
	if err := unix.FsconfigCreate(ctx); err != nil {
		return nil, fmt.Errorf("create overlay: %w", err)
	}
	mnt, err := unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID)
	if err != nil {
		return nil, fmt.Errorf("fsmount overlay: %w", err)
	}
	defer unix.Close(mnt)
	fd, err := unix.Openat(mnt, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s in the sealed overlay: %w", name, err)
	}
	return os.NewFile(uintptr(fd), "sealed:"+real), nil
}

// emptyDirOutside makes an empty directory that is not inside dir:
// overlayfs refuses layers nested in one another (a binary in /tmp, say).
func emptyDirOutside(dir string) (string, error) {
	// tmpfs first: a directory made and removed there costs no disk I/O.
	for _, base := range []string{"/dev/shm", "/run", os.TempDir(), "/var/tmp"} {
		real, err := filepath.EvalSymlinks(base)
		if err != nil {
			continue
		}
		if rel, err := filepath.Rel(dir, real); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			continue // real is dir or inside it
		}
		if d, err := os.MkdirTemp(real, "berth-seal-"); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("no directory outside %s for an empty layer", dir)
}

func escapeLowerDir(p string) string {
	out := make([]byte, 0, len(p))
	for i := 0; i < len(p); i++ {
		if p[i] == ':' || p[i] == '\\' || p[i] == ',' {
			out = append(out, '\\')
		}
		out = append(out, p[i])
	}
	return string(out)
}

// sealedMemfd copies exe into a memfd and seals it against every change.
func sealedMemfd(exe string) (*os.File, error) {
	src, err := os.Open(exe)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	fd, err := unix.MemfdCreate("berth", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_EXEC)
	if errors.Is(err, unix.EINVAL) { // kernels before 6.3 know no MFD_EXEC
		fd, err = unix.MemfdCreate("berth", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "sealed-memfd:"+exe)
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return nil, fmt.Errorf("copy %s: %w", exe, err)
	}
	const seals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, fmt.Errorf("seal memfd: %w", err)
	}
	return f, nil
}
