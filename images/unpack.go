package images

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"berth/errdefs"
	"berth/internal/tarmeta"
	"berth/internal/tarpath"
)

// The extractor unpacks a layer tar into an empty directory (the future
// snapshot) without ever touching anything outside it:
//
//   - entry names are cleaned; a leading "/" is dropped (as Docker does) and
//     names that still climb out ("../x") are refused;
//   - parent directories are resolved with openat2(RESOLVE_IN_ROOT), so a
//     symlink planted by an earlier entry is followed as if the snapshot
//     were "/" (which is how the container will see it) and never leads out;
//   - the last component is always created with O_EXCL / O_NOFOLLOW or the
//     *at calls that do not follow it: nothing is written through a symlink,
//     an existing node is unlinked first (tar semantics: later entries win);
//   - hard links must name a node already unpacked from this layer;
//   - device nodes are accepted only under dev/ (reached without symlinks).
//
// Whiteouts become their overlayfs form: ".wh.NAME" a 0/0 character device
// NAME, ".wh..wh..opq" the xattr trusted.overlay.opaque=y on its directory.
// Overlay xattrs carried by the archive itself are dropped: only the
// whiteouts above may create them.

const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."
	whiteoutOpaque = ".wh..wh..opq"
	xattrOpaque    = "trusted.overlay.opaque"
	maxCachedDirs  = 256
)

// badInput marks an error caused by the content of an archive: it is of
// kind errdefs.ErrInvalidArgument and keeps the underlying error.
type badInput struct{ err error }

func (e *badInput) Error() string   { return e.err.Error() }
func (e *badInput) Unwrap() []error { return []error{errdefs.ErrInvalidArgument, e.err} }

func invalid(err error) error {
	if err == nil {
		return nil
	}
	var b *badInput
	if errors.As(err, &b) {
		return err
	}
	return &badInput{err}
}

func refusef(format string, args ...any) error {
	return errdefs.InvalidArgument(format, args...)
}

type extractor struct {
	root   *os.File // O_PATH handle on the snapshot root
	rootFd int
	dirs   map[string]*os.File // O_PATH handles on directories by entry path
	// retired handles were dropped from dirs during the current entry; they
	// stay open (the entry may still use them) until the next one starts.
	retired []*os.File
	times   []dirTime // directory times, applied once all is written
	buf     []byte
	size    int64 // sum of regular file sizes
	// Who we are and our umask, to skip chown and chmod calls that would
	// change nothing (most files of most layers).
	euid, egid int
	umask      uint32
}

type dirTime struct {
	dir, base    string
	atime, mtime time.Time
}

// extractTar unpacks the tar stream r into dir, an empty directory, and
// returns the total size of the regular files in it. Errors due to the
// archive name the entry and are of kind errdefs.ErrInvalidArgument.
func extractTar(ctx context.Context, r io.Reader, dir string) (int64, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", dir, err)
	}
	x := &extractor{
		root:   os.NewFile(uintptr(fd), dir),
		rootFd: fd,
		dirs:   map[string]*os.File{},
		buf:    make([]byte, 256<<10),
		euid:   os.Geteuid(),
		egid:   os.Getegid(),
		umask:  currentUmask(),
	}
	defer x.close()

	tr := tar.NewReader(r)
	last := ""
	for n := 0; ; n++ {
		if n%128 == 0 {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if last != "" {
				err = fmt.Errorf("read layer tar after entry %q: %w", last, err)
			} else {
				err = fmt.Errorf("read layer tar: %w", err)
			}
			if errors.Is(err, ErrDigestMismatch) {
				return 0, err // damaged store content, not bad input
			}
			return 0, invalid(err)
		}
		last = hdr.Name
		if err := x.entry(hdr, tr); err != nil {
			if errors.Is(err, unix.ENAMETOOLONG) {
				err = invalid(err) // a name or link target longer than Linux allows
			}
			return 0, fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
	}
	for i := len(x.times) - 1; i >= 0; i-- {
		t := x.times[i]
		parent, err := x.parentDir(t.dir, false)
		if err != nil {
			continue // replaced by a later entry
		}
		if err := tarmeta.SetTimes(parent, t.base, t.atime, t.mtime); err != nil && !errors.Is(err, unix.ENOENT) {
			return 0, fmt.Errorf("layer entry %q: %w", path.Join(t.dir, t.base), err)
		}
	}
	return x.size, nil
}

func (x *extractor) close() {
	x.dropCache()
	x.closeRetired()
	x.root.Close()
}

func (x *extractor) dropCache() {
	for _, f := range x.dirs {
		x.retired = append(x.retired, f)
	}
	clear(x.dirs)
}

func (x *extractor) closeRetired() {
	for _, f := range x.retired {
		f.Close()
	}
	x.retired = x.retired[:0]
}

// cleanName turns an entry name into a clean path relative to the root, ""
// for the root itself; names that climb out are refused.
func cleanName(name string) (string, error) {
	c, err := tarpath.Clean(name)
	if err != nil {
		return "", refusef("%v", err)
	}
	return c, nil
}

func splitName(name string) (dir, base string) {
	dir, base = path.Split(name)
	return strings.TrimSuffix(dir, "/"), base
}

func (x *extractor) entry(hdr *tar.Header, r io.Reader) error {
	x.closeRetired()
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	name, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if name == "" {
		return nil // the root: the snapshot dir keeps its own attributes
	}
	dir, base := splitName(name)
	if strings.HasPrefix(base, whiteoutPrefix) {
		return x.whiteout(hdr, dir, base)
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return x.mkdir(hdr, dir, base)
	case tar.TypeReg, 0, tar.TypeGNUSparse:
		return x.file(hdr, r, dir, base)
	case tar.TypeLink:
		return x.hardlink(hdr, dir, base)
	case tar.TypeSymlink:
		return x.symlink(hdr, dir, base)
	case tar.TypeChar, tar.TypeBlock:
		return x.device(hdr, name, dir, base)
	case tar.TypeFifo:
		return x.fifo(hdr, dir, base)
	default:
		return refusef("unsupported entry type %q", string(hdr.Typeflag))
	}
}

// inLayer resolves paths as the container will: symlinks followed as if
// the snapshot were "/", and never onto another mount.
const inLayer = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_XDEV

// parentDir returns a handle on the directory dir, creating missing
// directories (0755, root-owned, as Docker does) when create is set.
func (x *extractor) parentDir(dir string, create bool) (int, error) {
	if dir == "" {
		return x.rootFd, nil
	}
	if f, ok := x.dirs[dir]; ok {
		return int(f.Fd()), nil
	}
	f, err := tarpath.OpenDir(x.root, dir, inLayer)
	if err != nil && create && errors.Is(err, unix.ENOENT) {
		f, err = x.mkdirAll(dir)
	}
	switch {
	case err == nil:
	case errors.Is(err, errdefs.ErrInvalidArgument):
		return -1, err
	case errors.Is(err, unix.ENOTDIR):
		return -1, refusef("parent %q is not a directory", dir)
	case errors.Is(err, unix.ELOOP):
		return -1, refusef("parent %q: too many levels of symbolic links", dir)
	case errors.Is(err, unix.ENOENT):
		return -1, refusef("parent %q does not exist", dir)
	default:
		return -1, fmt.Errorf("parent directory %q: %w", dir, err)
	}
	if len(x.dirs) >= maxCachedDirs {
		x.dropCache()
	}
	x.dirs[dir] = f
	return int(f.Fd()), nil
}

func (x *extractor) mkdirAll(dir string) (*os.File, error) {
	parts := strings.Split(dir, "/")
	parent := x.rootFd
	var f *os.File
	for i := range parts {
		prefix := strings.Join(parts[:i+1], "/")
		next, err := tarpath.OpenDir(x.root, prefix, inLayer)
		if errors.Is(err, unix.ENOENT) {
			err = unix.Mkdirat(parent, parts[i], 0o755)
			if err == nil {
				err = unix.Fchmodat(parent, parts[i], 0o755, 0)
			}
			if err != nil && !errors.Is(err, unix.EEXIST) {
				return nil, err
			}
			next, err = tarpath.OpenDir(x.root, prefix, inLayer)
			if errors.Is(err, unix.ENOENT) {
				// mkdir found something, resolution did not: a dangling
				// symlink. Creating its target is not our business.
				err = refusef("parent %q is a symlink that leads nowhere inside the layer", prefix)
			}
		}
		if f != nil {
			f.Close()
		}
		if err != nil {
			return nil, err
		}
		f = next
		parent = int(f.Fd())
	}
	return f, nil
}

// replace removes whatever sits at parent/base so that a new node can be
// created there. A directory is kept when keepDir is set (and reported).
func (x *extractor) replace(parent int, base string, keepDir bool) (isDir bool, err error) {
	var st unix.Stat_t
	if err := unix.Fstatat(parent, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return false, nil
		}
		return false, err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if keepDir {
			return true, nil
		}
		x.dropCache() // cached handles may point into what goes away
		return false, removeAllAt(parent, base)
	case unix.S_IFLNK:
		// Cached handles may have been resolved through this symlink.
		x.dropCache()
	}
	return false, unix.Unlinkat(parent, base, 0)
}

// create runs mk and, if the name is taken, replaces the existing node and
// runs it again.
func (x *extractor) create(parent int, base string, mk func() error) error {
	err := mk()
	if errors.Is(err, unix.EEXIST) {
		if _, err = x.replace(parent, base, false); err != nil {
			return err
		}
		err = mk()
	}
	return err
}

// removeAllAt removes parent/name and everything below it without
// following symlinks.
func removeAllAt(parent int, name string) error {
	fd, err := unix.Openat(parent, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	d := os.NewFile(uintptr(fd), name)
	names, err := d.Readdirnames(-1)
	for _, n := range names {
		if err != nil {
			break
		}
		var st unix.Stat_t
		if err = unix.Fstatat(fd, n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			break
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			err = removeAllAt(fd, n)
		} else {
			err = unix.Unlinkat(fd, n, 0)
		}
	}
	d.Close()
	if err != nil {
		return err
	}
	return unix.Unlinkat(parent, name, unix.AT_REMOVEDIR)
}

func (x *extractor) mkdir(hdr *tar.Header, dir, base string) error {
	parent, err := x.parentDir(dir, true)
	if err != nil {
		return err
	}
	if err := unix.Mkdirat(parent, base, 0o700); err != nil {
		if !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("mkdir: %w", err)
		}
		isDir, err := x.replace(parent, base, true)
		if err != nil {
			return err
		}
		if !isDir {
			if err := unix.Mkdirat(parent, base, 0o700); err != nil {
				return fmt.Errorf("mkdir: %w", err)
			}
		}
	}
	fd, err := unix.Openat(parent, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open directory: %w", err)
	}
	err = tarmeta.Setter{}.Fd(fd, hdr)
	unix.Close(fd)
	if err != nil {
		return err
	}
	x.times = append(x.times, dirTime{dir: dir, base: base, atime: tarmeta.Atime(hdr), mtime: hdr.ModTime})
	return nil
}

// trackedReader remembers the error of the reader it wraps, to tell read
// errors (a broken archive) from write errors (a full disk).
type trackedReader struct {
	r   io.Reader
	err error
}

func (t *trackedReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF {
		t.err = err
	}
	return n, err
}

// writerOnly hides os.File's ReadFrom so that io.CopyBuffer uses our buffer.
type writerOnly struct{ io.Writer }

func (x *extractor) file(hdr *tar.Header, r io.Reader, dir, base string) error {
	parent, err := x.parentDir(dir, true)
	if err != nil {
		return err
	}
	// Created with its final mode when neither the umask nor a chown
	// (which clears set-id bits) gets in the way.
	perm := uint32(hdr.Mode & 0o7777)
	chown := hdr.Uid != x.euid || hdr.Gid != x.egid
	chmod := chown || perm&^x.umask != perm
	createMode := perm
	if chmod {
		createMode = 0o600
	}
	var fd int
	err = x.create(parent, base, func() error {
		var err error
		fd, err = unix.Openat(parent, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, createMode)
		return err
	})
	if err != nil {
		return fmt.Errorf("create file: %w", err)
	}
	f := os.NewFile(uintptr(fd), base)
	src := &trackedReader{r: r}
	n, err := io.CopyBuffer(writerOnly{f}, src, x.buf)
	if err != nil {
		f.Close()
		if src.err != nil {
			err = fmt.Errorf("read file data: %w", err)
			if errors.Is(err, ErrDigestMismatch) {
				return err
			}
			return invalid(err)
		}
		return fmt.Errorf("write file: %w", err)
	}
	x.size += n
	if chmod {
		err = tarmeta.Setter{}.Fd(fd, hdr)
	} else {
		err = tarmeta.FdXattrs(fd, hdr)
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("write file: %w", cerr)
	}
	if err != nil {
		return err
	}
	return tarmeta.SetTimes(parent, base, tarmeta.Atime(hdr), hdr.ModTime)
}

func (x *extractor) symlink(hdr *tar.Header, dir, base string) error {
	if hdr.Linkname == "" {
		return refusef("symlink with an empty target")
	}
	parent, err := x.parentDir(dir, true)
	if err != nil {
		return err
	}
	// The target is stored as is: absolute targets are normal in images and
	// are interpreted inside the container's root. Nothing here follows it.
	if err := x.create(parent, base, func() error { return unix.Symlinkat(hdr.Linkname, parent, base) }); err != nil {
		return fmt.Errorf("symlink: %w", err)
	}
	return tarmeta.Setter{}.Path(parent, base, hdr, false)
}

func (x *extractor) hardlink(hdr *tar.Header, dir, base string) error {
	target, err := cleanName(hdr.Linkname)
	if err != nil {
		return refusef("hard link target %q escapes the layer root", hdr.Linkname)
	}
	if target == "" {
		return refusef("hard link to the layer root")
	}
	tdir, tbase := splitName(target)
	tparent, err := x.parentDir(tdir, false)
	if err != nil {
		return refusef("hard link target %q does not exist in the layer", hdr.Linkname)
	}
	var st unix.Stat_t
	if err := unix.Fstatat(tparent, tbase, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return refusef("hard link target %q does not exist in the layer", hdr.Linkname)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return refusef("hard link target %q is a directory", hdr.Linkname)
	case unix.S_IFCHR, unix.S_IFBLK:
		// A second name for a device node must obey the same rule as the
		// node (whiteouts, 0/0, excepted).
		if st.Rdev != 0 && !strings.HasPrefix(path.Join(dir, base), "dev/") {
			return refusef("hard link to device node %q outside /dev", hdr.Linkname)
		}
	}
	parent, err := x.parentDir(dir, true)
	if err != nil {
		return err
	}
	// linkat without AT_SYMLINK_FOLLOW links a symlink itself, never its
	// target.
	err = x.create(parent, base, func() error { return unix.Linkat(tparent, tbase, parent, base, 0) })
	if err != nil {
		return fmt.Errorf("hard link to %q: %w", hdr.Linkname, err)
	}
	return nil
}

func (x *extractor) device(hdr *tar.Header, name, dir, base string) error {
	if !strings.HasPrefix(name, "dev/") {
		return refusef("device node outside /dev")
	}
	parent, err := x.parentDir(dir, true)
	if err != nil {
		return err
	}
	// The node must really land under dev/, not wherever a symlink leads.
	f, err := tarpath.OpenDir(x.root, dir, unix.RESOLVE_BENEATH|unix.RESOLVE_NO_SYMLINKS|unix.RESOLVE_NO_XDEV)
	if err != nil {
		return refusef("device node path %q goes through a symlink", dir)
	}
	f.Close()
	kind := uint32(unix.S_IFCHR)
	if hdr.Typeflag == tar.TypeBlock {
		kind = unix.S_IFBLK
	}
	dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
	err = x.create(parent, base, func() error { return unix.Mknodat(parent, base, kind|uint32(hdr.Mode&0o7777), int(dev)) })
	if err != nil {
		return fmt.Errorf("mknod: %w", err)
	}
	return tarmeta.Setter{}.Path(parent, base, hdr, true)
}

func (x *extractor) fifo(hdr *tar.Header, dir, base string) error {
	parent, err := x.parentDir(dir, true)
	if err != nil {
		return err
	}
	err = x.create(parent, base, func() error { return unix.Mknodat(parent, base, unix.S_IFIFO|uint32(hdr.Mode&0o7777), 0) })
	if err != nil {
		return fmt.Errorf("mkfifo: %w", err)
	}
	return tarmeta.Setter{}.Path(parent, base, hdr, true)
}

func (x *extractor) whiteout(hdr *tar.Header, dir, base string) error {
	parent, err := x.parentDir(dir, true)
	if err != nil {
		return err
	}
	if base == whiteoutOpaque {
		p := fmt.Sprintf("/proc/self/fd/%d", parent)
		if err := unix.Setxattr(p, xattrOpaque, []byte("y"), 0); err != nil {
			return fmt.Errorf("mark directory opaque: %w", err)
		}
		return nil
	}
	if strings.HasPrefix(base, whiteoutMeta) {
		return nil // aufs bookkeeping (.wh..wh.plnk and friends)
	}
	name := strings.TrimPrefix(base, whiteoutPrefix)
	if name == "" || name == "." || name == ".." {
		return refusef("invalid whiteout name")
	}
	err = x.create(parent, name, func() error { return unix.Mknodat(parent, name, unix.S_IFCHR, 0) })
	if err != nil {
		return fmt.Errorf("create whiteout: %w", err)
	}
	if err := unix.Fchownat(parent, name, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown whiteout: %w", err)
	}
	return tarmeta.SetTimes(parent, name, tarmeta.Atime(hdr), hdr.ModTime)
}

// currentUmask reads the process umask without changing it (umask(2)
// would, for every thread). Unknown, it is taken as 0777: chmod always.
func currentUmask() uint32 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0o777
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			if m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
				return uint32(m)
			}
		}
	}
	return 0o777
}
