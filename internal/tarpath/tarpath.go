// Package tarpath is the path half of berth's two tar extractors (image
// layers into snapshots, docker cp into a container root; tarmeta is the
// metadata half). It guarantees that an entry name never leads out of the
// root, and that a directory is resolved inside the root at the moment it
// is used, so a symlink planted by an earlier entry (or by a running
// container) never leads out of it. The extractors create each entry's
// last component themselves, with O_EXCL / O_NOFOLLOW or the *at calls
// that do not follow it.
package tarpath

import (
	"errors"
	"os"
	"path"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// The ways an entry name is refused; callers phrase them for their users.
var (
	ErrEmpty     = errors.New("empty entry name")
	ErrNUL       = errors.New("entry name contains a NUL byte")
	ErrClimbsOut = errors.New("the name climbs out of the root")
)

// Clean turns a tar entry name into a clean path relative to the root, ""
// for the root itself. A leading "/" is dropped, as Docker does (a cleaned
// absolute path cannot climb above "/"); a name that still climbs out
// ("../x") is refused.
func Clean(name string) (string, error) {
	if name == "" {
		return "", ErrEmpty
	}
	if strings.IndexByte(name, 0) >= 0 {
		return "", ErrNUL
	}
	c := path.Clean(name)
	if path.IsAbs(c) {
		c = strings.TrimLeft(c, "/")
	} else if c == ".." || strings.HasPrefix(c, "../") {
		return "", ErrClimbsOut
	}
	if c == "." {
		return "", nil
	}
	return c, nil
}

// maxRetries bounds the retries of openat2, which fails with EAGAIN when
// a rename elsewhere races with RESOLVE_IN_ROOT / RESOLVE_BENEATH.
const maxRetries = 16

// OpenDir resolves dir, taken relative to root even if it starts with
// "/", to an O_PATH handle on a directory. resolve holds openat2's
// RESOLVE_* flags: RESOLVE_IN_ROOT follows symlinks as if root were "/"
// (so none leads out), RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS refuses any on
// the way. Magic links (/proc/self/fd/N) are never followed. On kernels
// without openat2 (before 5.6) RESOLVE_IN_ROOT is done in user space, with
// the same semantics less RESOLVE_NO_XDEV; other flags fail with ENOSYS.
func OpenDir(root *os.File, dir string, resolve uint64) (*os.File, error) {
	rel := relPath(dir)
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: resolve | unix.RESOLVE_NO_MAGICLINKS,
	}
	for i := 0; ; i++ {
		fd, err := unix.Openat2(int(root.Fd()), rel, &how)
		if err == nil {
			return os.NewFile(uintptr(fd), dir), nil
		}
		if (errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR)) && i < maxRetries {
			continue
		}
		if errors.Is(err, unix.ENOSYS) && resolve&unix.RESOLVE_IN_ROOT != 0 {
			return openDirUserspace(root, rel)
		}
		return nil, err
	}
}

// relPath makes p, absolute or not, a clean path relative to the root.
func relPath(p string) string {
	if rel := strings.TrimLeft(path.Clean("/"+p), "/"); rel != "" {
		return rel
	}
	return "."
}

// openDirUserspace is RESOLVE_IN_ROOT for kernels without openat2.
func openDirUserspace(root *os.File, rel string) (*os.File, error) {
	f, err := pathrs.OpenatInRoot(root, rel)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		f.Close()
		return nil, unix.ENOTDIR
	}
	return f, nil
}

// Readlinkat reads the target of the symlink base in dirfd, however long.
func Readlinkat(dirfd int, base string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, base, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}
