package changes

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"

	"berth/errdefs"
	"berth/internal/tarmeta"
	"berth/internal/tarpath"
)

// The archives of `cp`, as Docker makes them: a tar of SRC has one top
// entry, SRC's base name (a file, a symlink, or a directory and everything
// below it); a tar of "SRC/." (the contents of a directory) has a top entry
// "./" (the directory's own attributes) and names under "./". CopyIn reads
// either and applies Docker's rules for DEST.

// CopyOptions tune CopyOutWith.
type CopyOptions struct {
	// FollowLink: when SRC itself is a symlink, archive what it points to
	// (resolved inside root), under SRC's name (`cp -L`).
	FollowLink bool
	// MountPoints (absolute paths inside root) are archived as they
	// appear but not entered: the /proc, /sys and /dev of a live root.
	MountPoints []string
}

// CopyOut writes a tar of srcPath, resolved inside root, to w (see
// CopyOutWith).
func CopyOut(root, srcPath string, w io.Writer) error {
	return CopyOutWith(root, srcPath, w, CopyOptions{})
}

// CopyOutWith writes a tar of srcPath to w. srcPath is resolved inside
// root: symlinks on the way are followed as if root were "/", so none
// leads out of it; a symlink at srcPath itself is archived as a symlink
// unless opts.FollowLink is set or srcPath ends in "/" or "/.". A
// srcPath ending in "/." archives the contents of the directory.
func CopyOutWith(root, srcPath string, w io.Writer, opts CopyOptions) error {
	clean := path.Clean("/" + srcPath)
	contents := clean == "/" || srcPath == "." || strings.HasSuffix(srcPath, "/.")
	slash := strings.HasSuffix(srcPath, "/")
	rel := clean
	if opts.FollowLink || contents || slash {
		joined, err := securejoin.SecureJoin(root, clean)
		if err != nil {
			return fmt.Errorf("resolve %s: %w", srcPath, err)
		}
		r, err := relTo(root, joined)
		if err != nil {
			return fmt.Errorf("resolve %s: %w", srcPath, err)
		}
		rel = r
	}
	t := newTarWriter(w, false, nil)
	t.noDescend = pathSet(opts.MountPoints)
	if rel == "/" {
		fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", root, err)
		}
		defer unix.Close(fd)
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return err
		}
		if err := t.dirFd(fd, "/", "./", &st); err != nil {
			return err
		}
		return t.tw.Close()
	}
	dir, base := path.Split(rel)
	parent, err := openInRoot(root, dir)
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return errdefs.NotFound("Could not find the file %s in container", srcPath)
		}
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer parent.Close()
	pfd := int(parent.Fd())
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return errdefs.NotFound("Could not find the file %s in container", srcPath)
		}
		return fmt.Errorf("stat %s: %w", srcPath, err)
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	if (contents || slash) && !isDir {
		return errdefs.InvalidArgument("%s: not a directory", srcPath)
	}
	if contents {
		err = t.dir(pfd, base, rel, "./", &st)
	} else {
		name := path.Base(clean) // SRC's own name, even through -L
		err = t.nodeStat(pfd, base, rel, name, &st)
	}
	if err != nil {
		return err
	}
	return t.tw.Close()
}

// relTo turns p, a path under root, into an absolute path inside root.
func relTo(root, p string) (string, error) {
	root = strings.TrimSuffix(path.Clean(root), "/")
	if p == root {
		return "/", nil
	}
	rest, ok := strings.CutPrefix(p, root+"/")
	if !ok {
		return "", fmt.Errorf("%s is not under %s", p, root)
	}
	return "/" + rest, nil
}

// openInRoot opens the directory p (absolute inside root) with O_PATH,
// resolving symlinks as if root were "/".
func openInRoot(root, p string) (*os.File, error) {
	rf, err := os.OpenFile(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer rf.Close()
	return openDirAt(rf, p)
}

// openDirAt resolves the directory p inside the tree of root (symlinks
// followed as if root were "/", never out of it) to an O_PATH handle.
// Mounts inside a container's root (volumes) are crossed.
func openDirAt(root *os.File, p string) (*os.File, error) {
	return tarpath.OpenDir(root, p, unix.RESOLVE_IN_ROOT)
}

// CopyIn extracts the tar stream r (see CopyInWith) into root at dstPath.
func CopyIn(root, dstPath string, r io.Reader) error {
	return CopyInWith(root, dstPath, r, CopyInOptions{})
}

// CopyInOptions tune CopyInWith.
type CopyInOptions struct {
	// Archive: r is any tar, to unpack as it is into dstPath, which must
	// be an existing directory (`docker cp - CONTAINER:DEST`).
	Archive bool
}

// CopyInWith extracts a tar made by CopyOut (or the same way) into root at
// dstPath, with `docker cp`'s rules: when dstPath is an existing
// directory the archive's top entry lands inside it (or, for an archive of
// "SRC/.", its contents do); when dstPath does not exist its parent must,
// and the top entry is created under dstPath's name (a directory archive
// of "SRC/." becomes a new directory); an existing file at dstPath is
// replaced by a file, never by a directory; a dstPath ending in "/" must
// be a directory.
//
// Every entry is created inside root: its parent directory is resolved
// at that moment as if root were "/", so a symlink planted in the tree
// (by the archive or by a running container) never leads out of root; the
// entry itself is created without following anything at its name; names
// that climb out ("../x") are refused. Modes, owners (when we may set
// them), mtimes and xattrs come from the archive.
func CopyInWith(root, dstPath string, r io.Reader, opts CopyInOptions) error {
	rf, err := os.OpenFile(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", root, err)
	}
	defer rf.Close()
	x := &extractor{root: rf, euid: os.Geteuid(), buf: make([]byte, 256<<10)}
	defer x.close()

	clean := path.Clean("/" + dstPath)
	slash := strings.HasSuffix(dstPath, "/") || strings.HasSuffix(dstPath, "/.")
	// Where dstPath leads, symlinks (even at its end) followed in root.
	joined, err := securejoin.SecureJoin(root, clean)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", dstPath, err)
	}
	dst, err := relTo(root, joined)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", dstPath, err)
	}
	var dstSt unix.Stat_t
	dstExists := false
	if dst == "/" {
		dstExists = unix.Fstat(int(rf.Fd()), &dstSt) == nil
	} else {
		dir, base := path.Split(dst)
		if pf, err := openDirAt(rf, dir); err == nil {
			dstExists = unix.Fstatat(int(pf.Fd()), base, &dstSt, unix.AT_SYMLINK_NOFOLLOW) == nil
			pf.Close()
		} else if !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENOTDIR) {
			return fmt.Errorf("resolve %s: %w", dstPath, err)
		}
	}
	dstIsDir := dstExists && dstSt.Mode&unix.S_IFMT == unix.S_IFDIR

	tr := tar.NewReader(r)
	first, err := tr.Next()
	if err == io.EOF {
		return nil // nothing to copy
	}
	if err != nil {
		return errdefs.InvalidArgument("read archive: %v", err)
	}
	if opts.Archive {
		if !dstExists {
			return errdefs.NotFound("Could not find the file %s in container", dstPath)
		}
		if !dstIsDir {
			return errdefs.InvalidArgument("destination %q must be a directory", dstPath)
		}
		x.into, x.skipRoot = dst, true
		return x.run(tr, first)
	}
	firstName, err := cleanName(first.Name)
	if err != nil {
		return fmt.Errorf("archive entry %q: %w", first.Name, err)
	}
	if firstName == "" {
		// The contents of a directory.
		switch {
		case dstIsDir:
			x.into = dst
			x.skipRoot = true
		case dstExists:
			return errdefs.InvalidArgument("cannot copy a directory to %s: not a directory", dstPath)
		default:
			if err := x.checkParent(dst, dstPath); err != nil {
				return err
			}
			x.into = dst // the "./" entry makes it
		}
		return x.run(tr, first)
	}
	top, _, _ := strings.Cut(firstName, "/")
	topIsDir := first.Typeflag == tar.TypeDir || strings.Contains(firstName, "/")
	switch {
	case dstIsDir:
		x.into = dst
		return x.run(tr, first)
	case dstExists && slash:
		return errdefs.InvalidArgument("%s: not a directory", dstPath)
	case dstExists && topIsDir:
		return errdefs.InvalidArgument("cannot overwrite non-directory %s with a directory", dstPath)
	case !dstExists && slash && !topIsDir:
		return errdefs.NotFound("destination directory %s does not exist", dstPath)
	}
	if err := x.checkParent(dst, dstPath); err != nil {
		return err
	}
	// The top entry takes dstPath's name.
	dir, base := path.Split(dst)
	x.into = dir
	x.rename = func(name string) (string, error) {
		if name == top {
			return base, nil
		}
		if rest, ok := strings.CutPrefix(name, top+"/"); ok {
			return base + "/" + rest, nil
		}
		return "", errdefs.InvalidArgument("archive entry %q is not under %q: an archive to copy has one top-level entry", name, top)
	}
	return x.run(tr, first)
}

type extractor struct {
	root     *os.File // O_PATH handle on the root
	into     string   // directory inside root the names are relative to
	skipRoot bool     // an entry "./" does not touch into itself
	rename   func(string) (string, error)
	euid     int
	buf      []byte
	times    []dirTime
	// The parent directory of the last entry, kept open for its siblings.
	// It is keyed by path and resolved again for any other path, so a
	// symlink an entry creates or replaces never leaves it stale.
	lastDir string
	lastFd  *os.File
}

type dirTime struct {
	dir, base    string
	atime, mtime time.Time
}

func (x *extractor) close() {
	x.dropCache()
}

func (x *extractor) dropCache() {
	if x.lastFd != nil {
		x.lastFd.Close()
		x.lastFd, x.lastDir = nil, ""
	}
}

// checkParent makes sure the parent of dst (inside root) is a directory.
func (x *extractor) checkParent(dst, dstPath string) error {
	if dst == "/" {
		return nil
	}
	f, err := openDirAt(x.root, path.Dir(dst))
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return errdefs.NotFound("the parent directory of %s does not exist", dstPath)
		}
		return fmt.Errorf("open the parent directory of %s: %w", dstPath, err)
	}
	f.Close()
	return nil
}

func (x *extractor) run(tr *tar.Reader, hdr *tar.Header) error {
	for {
		if err := x.entry(hdr, tr); err != nil {
			return fmt.Errorf("copy %q: %w", hdr.Name, err)
		}
		prev := hdr.Name
		var err error
		hdr, err = tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return errdefs.InvalidArgument("read archive after %q: %v", prev, err)
		}
	}
	for i := len(x.times) - 1; i >= 0; i-- {
		t := x.times[i]
		parent, err := x.parentDir(t.dir)
		if err != nil {
			continue
		}
		_ = tarmeta.SetTimes(parent, t.base, t.atime, t.mtime)
	}
	return nil
}

// cleanName turns an entry name into a clean relative path, "" for the
// archive's root ("./"). A leading "/" is dropped; names that climb out
// are refused.
func cleanName(name string) (string, error) {
	c, err := tarpath.Clean(name)
	switch {
	case errors.Is(err, tarpath.ErrClimbsOut):
		return "", errdefs.InvalidArgument("the name climbs out of the destination")
	case err != nil:
		return "", errdefs.InvalidArgument("invalid entry name")
	}
	return c, nil
}

// target maps an entry name to its path inside root ("" when it is the
// destination directory itself).
func (x *extractor) target(name string) (string, error) {
	c, err := cleanName(name)
	if err != nil {
		return "", err
	}
	if c != "" && x.rename != nil {
		if c, err = x.rename(c); err != nil {
			return "", err
		}
	}
	return path.Join(x.into, c), nil
}

// parentDir returns a handle on the directory dir inside root, resolved
// as if root were "/".
func (x *extractor) parentDir(dir string) (int, error) {
	if x.lastFd != nil && x.lastDir == dir {
		return int(x.lastFd.Fd()), nil
	}
	x.dropCache()
	f, err := openDirAt(x.root, dir)
	if err != nil {
		switch {
		case errors.Is(err, unix.ENOENT):
			return -1, errdefs.NotFound("directory %s does not exist", dir)
		case errors.Is(err, unix.ENOTDIR):
			return -1, errdefs.InvalidArgument("%s is not a directory", dir)
		}
		return -1, err
	}
	x.lastFd, x.lastDir = f, dir
	return int(f.Fd()), nil
}

// mkdirAll makes the missing directories of dir inside root (0755, as
// Docker does), never following a symlink out of it.
func (x *extractor) mkdirAll(dir string) error {
	if _, err := x.parentDir(dir); err == nil {
		return nil
	}
	f, err := pathrs.MkdirAllHandle(x.root, strings.TrimLeft(dir, "/"), 0o755)
	if err != nil {
		return fmt.Errorf("make directory %s: %w", dir, err)
	}
	f.Close()
	return nil
}

func (x *extractor) entry(hdr *tar.Header, r io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	p, err := x.target(hdr.Name)
	if err != nil {
		return err
	}
	if p == "/" || (p == x.into && x.skipRoot) {
		return nil // the root, or an existing destination directory
	}
	dir, base := path.Split(p)
	dir = path.Clean(dir)
	if err := x.mkdirAll(dir); err != nil {
		return err
	}
	parent, err := x.parentDir(dir)
	if err != nil {
		return err
	}
	var st unix.Stat_t
	exists := unix.Fstatat(parent, base, &st, unix.AT_SYMLINK_NOFOLLOW) == nil
	isDir := exists && st.Mode&unix.S_IFMT == unix.S_IFDIR
	if hdr.Typeflag == tar.TypeDir {
		if exists && !isDir {
			return errdefs.InvalidArgument("cannot overwrite non-directory %s with a directory", p)
		}
		if !exists {
			if err := unix.Mkdirat(parent, base, 0o700); err != nil {
				return fmt.Errorf("mkdir: %w", err)
			}
		}
		fd, err := unix.Openat(parent, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open directory: %w", err)
		}
		err = x.meta().Fd(fd, hdr)
		unix.Close(fd)
		if err != nil {
			return err
		}
		x.times = append(x.times, dirTime{dir: dir, base: base, atime: tarmeta.Atime(hdr), mtime: hdr.ModTime})
		return nil
	}
	if isDir {
		return errdefs.InvalidArgument("cannot overwrite directory %s with non-directory", p)
	}
	if exists {
		if err := unix.Unlinkat(parent, base, 0); err != nil {
			return fmt.Errorf("replace: %w", err)
		}
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse:
		return x.file(parent, base, hdr, r)
	case tar.TypeSymlink:
		if err := unix.Symlinkat(hdr.Linkname, parent, base); err != nil {
			return fmt.Errorf("symlink: %w", err)
		}
		return x.meta().Path(parent, base, hdr, false)
	case tar.TypeLink:
		t, err := x.target(hdr.Linkname)
		if err != nil {
			return fmt.Errorf("hard link target: %w", err)
		}
		tdir, tbase := path.Split(t)
		tf, err := openDirAt(x.root, tdir)
		if err != nil {
			return fmt.Errorf("hard link target %s: %w", hdr.Linkname, err)
		}
		// linkat without AT_SYMLINK_FOLLOW links the node itself.
		err = unix.Linkat(int(tf.Fd()), tbase, parent, base, 0)
		tf.Close()
		if err != nil {
			return fmt.Errorf("hard link: %w", err)
		}
		return nil
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		mode := uint32(unix.S_IFIFO)
		switch hdr.Typeflag {
		case tar.TypeChar:
			mode = unix.S_IFCHR
		case tar.TypeBlock:
			mode = unix.S_IFBLK
		}
		dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		if err := unix.Mknodat(parent, base, mode|0o600, int(dev)); err != nil {
			return fmt.Errorf("mknod: %w", err)
		}
		return x.meta().Path(parent, base, hdr, true)
	}
	return errdefs.InvalidArgument("unsupported entry type %q", string(hdr.Typeflag))
}

func (x *extractor) file(parent int, base string, hdr *tar.Header, r io.Reader) error {
	fd, err := unix.Openat(parent, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create file: %w", err)
	}
	f := os.NewFile(uintptr(fd), base)
	_, err = io.CopyBuffer(struct{ io.Writer }{f}, r, x.buf)
	if err == nil {
		err = x.meta().Fd(fd, hdr)
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return tarmeta.SetTimes(parent, base, tarmeta.Atime(hdr), hdr.ModTime)
}

// meta applies entry metadata; a non-root berth keeps files it cannot
// give away as its own.
func (x *extractor) meta() tarmeta.Setter {
	return tarmeta.Setter{TolerateChown: x.euid != 0}
}
