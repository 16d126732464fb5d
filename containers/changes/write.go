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

	"golang.org/x/sys/unix"

	"berth/internal/tarpath"
)

// tarWriter walks a tree node by node, each opened relative to its parent
// without following symlinks, and writes it as tar entries: names sorted,
// times to the second, no user or group names, so that the same tree
// always gives the same bytes (for a layer: the same digest).
type tarWriter struct {
	tw *tar.Writer
	// layer: the tree is an overlay upper dir; write it as an OCI layer.
	layer bool
	o     *options
	// noDescend: container paths of mount points; written, not entered.
	noDescend map[string]bool
	links     map[[2]uint64]string // (dev, ino) of multiply-linked files → first entry name
	buf       []byte
}

func newTarWriter(w io.Writer, layer bool, o *options) *tarWriter {
	if o == nil {
		o = &options{}
	}
	return &tarWriter{tw: tar.NewWriter(w), layer: layer, o: o, links: map[[2]uint64]string{}, buf: make([]byte, 256<<10)}
}

// WriteLayer writes the upper dir of a container as an OCI layer tar:
// whiteouts become ".wh.NAME" entries, an opaque directory gets a
// ".wh..wh..opq" entry, modes, owners, mtimes and xattrs are kept (but not
// overlayfs' own trusted.overlay.* ones), hard links inside the upper dir
// stay hard links. Entries come in a fixed order (sorted by name, parents
// first), so the same upper dir always gives the same layer.
func WriteLayer(w io.Writer, upper string, opts ...Option) error {
	fd, err := unix.Open(upper, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("write layer: open upper dir: %w", err)
	}
	defer unix.Close(fd)
	t := newTarWriter(w, true, makeOptions(opts))
	if err := t.children(fd, "/", ""); err != nil {
		return fmt.Errorf("write layer: %w", err)
	}
	return t.tw.Close()
}

// Export writes the whole tree at root as a tar, as `docker export` does:
// entry names relative to root, no entry for root itself.
func Export(root string, w io.Writer) error {
	return exportTree(root, w, nil)
}

func exportTree(root string, w io.Writer, mountPoints []string) error {
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer unix.Close(fd)
	t := newTarWriter(w, false, nil)
	t.noDescend = pathSet(mountPoints)
	if err := t.children(fd, "/", ""); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return t.tw.Close()
}

// ExportSkippingMounts is Export for a live container root (such as
// /proc/PID/root): the mount points listed (absolute container paths, such
// as /proc and /dev) are written as they appear but not entered.
func ExportSkippingMounts(root string, w io.Writer, mountPoints []string) error {
	return exportTree(root, w, mountPoints)
}

func pathSet(paths []string) map[string]bool {
	if len(paths) == 0 {
		return nil
	}
	m := map[string]bool{}
	for _, p := range paths {
		m[path.Clean("/"+p)] = true
	}
	return m
}

// children writes the entries of the open directory fd (container path
// dir), named prefix+name.
func (t *tarWriter) children(fd int, dir, prefix string) error {
	names, err := readNames(fd)
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	for _, name := range names {
		if err := t.node(fd, name, path.Join(dir, name), prefix+name); err != nil {
			return err
		}
	}
	return nil
}

// node writes parent/base (container path p) as entry name, and what is
// below it.
func (t *tarWriter) node(parent int, base, p, name string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(parent, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil // gone while we looked (a running container)
		}
		return fmt.Errorf("stat %s: %w", p, err)
	}
	return t.nodeStat(parent, base, p, name, &st)
}

func header(st *unix.Stat_t, name string) *tar.Header {
	return &tar.Header{
		Name:    name,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: time.Unix(st.Mtim.Unix()).Truncate(time.Second),
	}
}

func (t *tarWriter) nodeStat(parent int, base, p, name string, st *unix.Stat_t) error {
	hdr := header(st, name)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return t.dir(parent, base, p, name, st)
	case unix.S_IFREG:
		return t.file(parent, base, p, name, st)
	case unix.S_IFLNK:
		target, err := tarpath.Readlinkat(parent, base)
		if err != nil {
			return fmt.Errorf("read link %s: %w", p, err)
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
	case unix.S_IFCHR, unix.S_IFBLK:
		if t.layer && isWhiteout(st) {
			dir, file := path.Split(name)
			hdr.Name = dir + whiteoutPrefix + file
			hdr.Typeflag, hdr.Mode = tar.TypeReg, 0o600
			return t.write(hdr, nil, p)
		}
		if t.o.placeholder(p, -1, st) {
			return nil
		}
		hdr.Typeflag = tar.TypeChar
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	default:
		return nil // sockets are not archived
	}
	if t.hardlink(st, hdr) {
		return t.write(hdr, nil, p)
	}
	if err := t.pathXattrs(parent, base, hdr); err != nil {
		return fmt.Errorf("read xattrs of %s: %w", p, err)
	}
	return t.write(hdr, nil, p)
}

// hardlink turns hdr into a link to an earlier entry of the same inode.
func (t *tarWriter) hardlink(st *unix.Stat_t, hdr *tar.Header) bool {
	if st.Nlink < 2 {
		return false
	}
	key := [2]uint64{st.Dev, st.Ino}
	if first, ok := t.links[key]; ok {
		hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
		hdr.PAXRecords = nil
		return true
	}
	t.links[key] = hdr.Name
	return false
}

func (t *tarWriter) write(hdr *tar.Header, body io.Reader, p string) error {
	if err := t.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	if body == nil || hdr.Size == 0 {
		return nil
	}
	n, err := io.CopyBuffer(t.tw, io.LimitReader(body, hdr.Size), t.buf)
	if err != nil {
		return fmt.Errorf("copy %s: %w", p, err)
	}
	if n < hdr.Size {
		// The file shrank while we read it (a running container): pad, so
		// that the archive stays valid.
		if _, err := io.CopyBuffer(t.tw, io.LimitReader(zeros{}, hdr.Size-n), t.buf); err != nil {
			return fmt.Errorf("copy %s: %w", p, err)
		}
	}
	return nil
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func (t *tarWriter) file(parent int, base, p, name string, st *unix.Stat_t) error {
	if t.o.placeholder(p, -1, st) {
		return nil
	}
	hdr := header(st, name)
	hdr.Typeflag = tar.TypeReg
	if t.hardlink(st, hdr) {
		return t.write(hdr, nil, p)
	}
	fd, err := unix.Openat(parent, base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			delete(t.links, [2]uint64{st.Dev, st.Ino})
			return nil
		}
		return fmt.Errorf("open %s: %w", p, err)
	}
	f := os.NewFile(uintptr(fd), p)
	defer f.Close()
	var now unix.Stat_t
	if err := unix.Fstat(fd, &now); err != nil {
		return fmt.Errorf("stat %s: %w", p, err)
	}
	if now.Ino != st.Ino || now.Dev != st.Dev || now.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("%s changed while it was read", p)
	}
	if t.layer {
		if err := checkOverlayFile(fd, p); err != nil {
			return err
		}
	}
	hdr.Size = now.Size
	if err := t.fdXattrs(fd, hdr); err != nil {
		return fmt.Errorf("read xattrs of %s: %w", p, err)
	}
	return t.write(hdr, f, p)
}

func (t *tarWriter) dir(parent int, base, p, name string, st *unix.Stat_t) error {
	fd, err := unix.Openat(parent, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("open %s: %w", p, err)
	}
	defer unix.Close(fd)
	return t.dirFd(fd, p, name, st)
}

// dirFd writes the open directory fd as entry name (a trailing "/" is
// added) and its contents.
func (t *tarWriter) dirFd(fd int, p, name string, st *unix.Stat_t) error {
	if t.o.placeholder(p, fd, st) {
		return nil
	}
	if !strings.HasSuffix(name, "/") {
		name += "/"
	}
	hdr := header(st, name)
	hdr.Typeflag = tar.TypeDir
	if err := t.fdXattrs(fd, hdr); err != nil {
		return fmt.Errorf("read xattrs of %s: %w", p, err)
	}
	if err := t.write(hdr, nil, p); err != nil {
		return err
	}
	if t.layer {
		if err := checkOverlayDir(fd, p); err != nil {
			return err
		}
		if isOpaque(fd) {
			opq := header(st, name+whiteoutOpaque)
			opq.Typeflag = tar.TypeReg
			opq.Mode &= 0o777
			if err := t.write(opq, nil, p); err != nil {
				return err
			}
		}
	}
	if t.noDescend[p] && p != "/" {
		return nil
	}
	return t.children(fd, p, name)
}

// checkOverlayDir refuses what this package cannot turn into a layer: a
// directory renamed by overlayfs' redirect_dir feature (its contents live
// under another lower path). berth's mounts leave redirect_dir off.
func checkOverlayDir(fd int, p string) error {
	if _, err := unix.Fgetxattr(fd, xattrRedirect, nil); err == nil {
		return fmt.Errorf("%s: overlayfs redirected directories are not supported", p)
	}
	return nil
}

// checkOverlayFile refuses a metacopy-only file (its data lives in a lower
// layer); berth's mounts leave metacopy off.
func checkOverlayFile(fd int, p string) error {
	if _, err := unix.Fgetxattr(fd, xattrMetacopy, nil); err == nil {
		return fmt.Errorf("%s: overlayfs metacopy files are not supported", p)
	}
	return nil
}

// keepXattr says whether an xattr goes into the archive: overlayfs' own
// never do in a layer (the whiteout entries carry their meaning) nor
// anywhere else (they mean nothing outside the overlay).
func keepXattr(name string) bool {
	return !strings.HasPrefix(name, xattrOverlay)
}

func (t *tarWriter) fdXattrs(fd int, hdr *tar.Header) error {
	return collectXattrs(hdr,
		func(buf []byte) (int, error) { return unix.Flistxattr(fd, buf) },
		func(name string, buf []byte) (int, error) { return unix.Fgetxattr(fd, name, buf) })
}

// pathXattrs reads the xattrs of parent/base without following it.
func (t *tarWriter) pathXattrs(parent int, base string, hdr *tar.Header) error {
	p := fmt.Sprintf("/proc/self/fd/%d/%s", parent, base)
	return collectXattrs(hdr,
		func(buf []byte) (int, error) { return unix.Llistxattr(p, buf) },
		func(name string, buf []byte) (int, error) { return unix.Lgetxattr(p, name, buf) })
}

func collectXattrs(hdr *tar.Header, list func([]byte) (int, error), get func(string, []byte) (int, error)) error {
	n, err := list(nil)
	if err != nil {
		if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOENT) {
			return nil
		}
		return err
	}
	if n == 0 {
		return nil
	}
	buf := make([]byte, n)
	if n, err = list(buf); err != nil {
		return err
	}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		if name == "" || !keepXattr(name) {
			continue
		}
		size, err := get(name, nil)
		if err != nil {
			continue // gone, or not readable: skip it
		}
		val := make([]byte, size)
		if size, err = get(name, val); err != nil {
			continue
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords["SCHILY.xattr."+name] = string(val[:size])
	}
	return nil
}
