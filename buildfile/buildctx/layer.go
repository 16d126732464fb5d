package buildctx

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"berth/errdefs"
	"berth/internal/tarpath"
)

// xattrCaps is the one extended attribute copied from files: file
// capabilities (ping's cap_net_raw) must survive COPY --from.
const xattrCaps = "security.capability"

// WriteLayer writes the uncompressed tar layer that COPY (or ADD) of srcs
// to dest makes, with Docker's rules: a relative dest is taken from
// o.Workdir; dest is a directory when it ends in "/" (or is "", "." or
// ends in "/."), or, with o.Base, when the image has a directory there;
// a directory source copies its contents, a file lands in a directory
// dest under its own name or else at dest, and two files need a
// directory dest; with o.Add a local tar archive is extracted at dest.
// Entries are sorted by name (parents first), names relative; the
// directories on the way are included so that the layer stands alone.
// Modes, times and link targets are kept; owners are root's for a build
// context and kept for FromRoot unless o.Chown; files that are hard
// links of each other stay so.
func (c *Context) WriteLayer(w io.Writer, srcs []string, dest string, o CopyOptions) error {
	root, err := c.openRoot()
	if err != nil {
		return err
	}
	defer root.Close()
	sources, err := c.sources(root, srcs)
	if err != nil {
		return err
	}
	p := &plan{c: c, o: o, root: root, entries: map[string]*entry{}}
	defer p.close()
	if o.Base != "" {
		if p.base, err = os.OpenFile(o.Base, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
			return fmt.Errorf("open the image root: %w", err)
		}
	}
	if err := p.build(sources, dest); err != nil {
		return err
	}
	return p.write(w)
}

// entryKey ties the entries that are one inode (hard links): the first
// in the layer carries the content, the others link to it.
type entryKey struct {
	archive bool
	a, b    uint64
}

type entry struct {
	hdr tar.Header // all but Name
	// A regular file's content: rel in the context (the inode st), or a
	// range of the spool (an archive's).
	rel   string
	st    *unix.Stat_t
	spool bool
	off   int64
	key   entryKey
}

// plan is a layer being laid out: its entries by name, then written in
// order.
type plan struct {
	c       *Context
	o       CopyOptions
	root    *os.File
	base    *os.File // the image's root; nil without o.Base
	entries map[string]*entry
	mtime   time.Time // of the directories the copy makes

	spool      *os.File // archives' file contents
	spoolOff   int64
	spoolFiles uint64
	inArchive  bool              // laying out an archive's entries
	baseDirs   map[string]string // archive parents resolved in base

	// The last directory looked up in base; nil fd: missing.
	baseDir    string
	baseDirSet bool
	baseDirFd  *os.File
}

func (p *plan) close() {
	if p.base != nil {
		p.base.Close()
	}
	if p.baseDirFd != nil {
		p.baseDirFd.Close()
	}
	if p.spool != nil {
		p.spool.Close()
	}
}

func (p *plan) build(sources []Source, dest string) error {
	destRel, isDir, err := p.destination(dest)
	if err != nil {
		return err
	}
	p.mtime = time.Unix(sources[0].st.Mtim.Sec, 0)
	for _, s := range sources {
		if s.Dir || isDir {
			if err := p.dir(destRel, true); err != nil {
				return err
			}
		}
		if !s.Dir && p.o.Add && s.st.Mode&unix.S_IFMT == unix.S_IFREG {
			ok, err := p.archive(s, destRel)
			if err != nil {
				return fmt.Errorf("ADD %s: %w", s.Arg, err)
			}
			if ok {
				continue
			}
		}
		if !s.Dir && !isDir && len(sources) > 1 {
			// Directories' contents and archives merge; files would
			// overwrite each other (BuildKit keeps the last, Docker's
			// classic builder refuses, and so does berth).
			cmd := "COPY"
			if p.o.Add {
				cmd = "ADD"
			}
			return errdefs.InvalidArgument("When using %s with more than one source file, the destination must be a directory and end with a /", cmd)
		}
		nodes, err := p.c.nodes(p.root, s)
		if err != nil {
			return err
		}
		at := destRel
		if !s.Dir && isDir {
			at = path.Join(destRel, s.Name)
		}
		for _, n := range nodes {
			if err := p.add(path.Join(at, n.sub), p.fromNode(n)); err != nil {
				return err
			}
		}
	}
	return nil
}

// destination makes dest a clean path relative to the root of the image
// and tells whether it is a directory.
func (p *plan) destination(dest string) (string, bool, error) {
	if dest == "" {
		dest = "." // BuildKit's reading of an empty dest (COPY f $unset)
	}
	isDir := strings.HasSuffix(dest, "/") || dest == "." || strings.HasSuffix(dest, "/.")
	if !path.IsAbs(dest) {
		wd := p.o.Workdir
		if wd == "" {
			wd = "/"
		}
		dest = path.Join("/", wd, dest)
	}
	rel := strings.TrimPrefix(path.Clean("/"+dest), "/")
	if rel == "" {
		return "", true, nil
	}
	if p.base == nil {
		return rel, isDir, nil
	}
	l, err := resolveIn(p.base, rel, true, nil)
	if err != nil {
		if errors.Is(err, unix.ENOTDIR) {
			return "", false, errdefs.InvalidArgument("cannot copy to %s: %v", dest, err)
		}
		return "", false, fmt.Errorf("resolve %s in the image: %w", dest, err)
	}
	switch {
	case !l.found:
		return path.Join(append([]string{l.rel}, l.rest...)...), isDir, nil
	case l.st.Mode&unix.S_IFMT == unix.S_IFDIR:
		return l.rel, true, nil
	case isDir:
		return "", false, errdefs.InvalidArgument("cannot copy to %s: not a directory", dest)
	}
	return l.rel, false, nil
}

// owner is who owns a copied entry whose own owner is uid:gid.
func owner(o CopyOptions, keep bool, uid, gid uint32) (int, int) {
	switch {
	case o.Chown != nil:
		return o.Chown.UID, o.Chown.GID
	case keep:
		return int(uid), int(gid)
	}
	return 0, 0
}

// chmodBits is --chmod as tar mode bits.
func chmodBits(m os.FileMode) int64 {
	bits := int64(m.Perm())
	if m&os.ModeSetuid != 0 {
		bits |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		bits |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		bits |= 0o1000
	}
	return bits
}

// header is a copied node's tar header (no name, no content size
// surprises: a regular file's Size is what was listed).
func header(n *node, o CopyOptions, keepOwners bool) tar.Header {
	st := &n.st
	hdr := tar.Header{Mode: int64(st.Mode & 0o7777), ModTime: time.Unix(st.Mtim.Sec, 0), Format: tar.FormatPAX}
	hdr.Uid, hdr.Gid = owner(o, keepOwners, st.Uid, st.Gid)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		hdr.Typeflag = tar.TypeDir
	case unix.S_IFREG:
		hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
	case unix.S_IFLNK:
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, n.link
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	case unix.S_IFSOCK:
		hdr.Typeflag = tar.TypeReg // an empty file, as BuildKit copies a socket
	}
	if o.Chmod != nil && hdr.Typeflag != tar.TypeSymlink {
		hdr.Mode = chmodBits(*o.Chmod)
	}
	return hdr
}

func (p *plan) fromNode(n node) *entry {
	e := &entry{hdr: header(&n, p.o, p.c.keepOwners)}
	if n.st.Mode&unix.S_IFMT == unix.S_IFREG {
		e.rel, e.st = n.rel, &n.st
		if n.st.Nlink > 1 {
			e.key = entryKey{a: n.st.Dev, b: n.st.Ino}
		}
	}
	return e
}

// dir makes sure the directory name is in the layer: as the image has it
// (with o.Base), or made 0755 root. A directory the copy makes takes
// --chown's owner and --chmod's mode (BuildKit's rule); without o.Base
// only dest itself is known to be made. The missing parents of an
// archive's entries are made 0755 root, as Docker extracts.
func (p *plan) dir(name string, isDest bool) error {
	if name == "" || name == "." {
		return nil
	}
	if e, ok := p.entries[name]; ok {
		if e.hdr.Typeflag != tar.TypeDir {
			return errdefs.InvalidArgument("cannot copy to non-directory: /%s", name)
		}
		return nil
	}
	if err := p.dir(path.Dir(name), false); err != nil {
		return err
	}
	e := &entry{hdr: tar.Header{Typeflag: tar.TypeDir, Mode: 0o755, ModTime: p.mtime, Format: tar.FormatPAX}}
	made := (isDest || p.base != nil) && !p.inArchive
	if p.base != nil {
		st, found, err := p.baseStat(name)
		if err != nil {
			return err
		}
		if found {
			if st.Mode&unix.S_IFMT != unix.S_IFDIR {
				return errdefs.InvalidArgument("cannot copy to non-directory: /%s", name)
			}
			e.hdr.Mode, e.hdr.Uid, e.hdr.Gid = int64(st.Mode&0o7777), int(st.Uid), int(st.Gid)
			e.hdr.ModTime = time.Unix(st.Mtim.Sec, 0)
			made = false
		}
	}
	if made && p.o.Chown != nil {
		e.hdr.Uid, e.hdr.Gid = p.o.Chown.UID, p.o.Chown.GID
	}
	if made && p.o.Chmod != nil {
		e.hdr.Mode = chmodBits(*p.o.Chmod)
	}
	p.entries[name] = e
	return nil
}

// add puts e in the layer at name (the later of two sources wins, as
// copying one after the other would), refusing to put a directory where
// a non-directory is or the reverse, as BuildKit refuses.
func (p *plan) add(name string, e *entry) error {
	if name == "" {
		return nil // the root of the image is never an entry
	}
	if err := p.dir(path.Dir(name), false); err != nil {
		return err
	}
	isDir := e.hdr.Typeflag == tar.TypeDir
	if old, ok := p.entries[name]; ok {
		if err := conflict(name, old.hdr.Typeflag == tar.TypeDir, isDir); err != nil {
			return err
		}
	} else if p.base != nil {
		st, found, err := p.baseStat(name)
		if err != nil {
			return err
		}
		if found {
			if err := conflict(name, st.Mode&unix.S_IFMT == unix.S_IFDIR, isDir); err != nil {
				return err
			}
		}
	}
	p.entries[name] = e
	return nil
}

func conflict(name string, wasDir, isDir bool) error {
	switch {
	case wasDir && !isDir:
		return errdefs.InvalidArgument("cannot replace directory /%s with a file", name)
	case !wasDir && isDir:
		return errdefs.InvalidArgument("cannot copy to non-directory: /%s", name)
	}
	return nil
}

// baseStat looks name up in the image without following a symlink at it;
// its parents are directories the plan already checked.
func (p *plan) baseStat(name string) (unix.Stat_t, bool, error) {
	var st unix.Stat_t
	dir, base := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	if !p.baseDirSet || p.baseDir != dir {
		if p.baseDirFd != nil {
			p.baseDirFd.Close()
		}
		p.baseDir, p.baseDirSet, p.baseDirFd = dir, true, nil
		f, err := tarpath.OpenDir(p.base, dir, unix.RESOLVE_IN_ROOT)
		switch {
		case errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR):
		case err != nil:
			return st, false, fmt.Errorf("look up /%s in the image: %w", dir, err)
		default:
			p.baseDirFd = f
		}
	}
	if p.baseDirFd == nil {
		return st, false, nil
	}
	err := unix.Fstatat(int(p.baseDirFd.Fd()), base, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return st, false, nil
	}
	if err != nil {
		return st, false, fmt.Errorf("look up /%s in the image: %w", name, err)
	}
	return st, true, nil
}

// write writes the entries sorted by name (so parents come first).
func (p *plan) write(w io.Writer) error {
	names := make([]string, 0, len(p.entries))
	for name := range p.entries {
		names = append(names, name)
	}
	slices.Sort(names)
	tw := tar.NewWriter(w)
	first := map[entryKey]string{}
	buf := make([]byte, 256<<10)
	for _, name := range names {
		if err := p.writeEntry(tw, name, p.entries[name], first, buf); err != nil {
			return fmt.Errorf("write layer: %s: %w", name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write layer: %w", err)
	}
	return nil
}

func (p *plan) writeEntry(tw *tar.Writer, name string, e *entry, first map[entryKey]string, buf []byte) error {
	hdr := e.hdr
	hdr.Name = name
	if hdr.Typeflag == tar.TypeDir {
		hdr.Name += "/"
	}
	if e.key != (entryKey{}) {
		if target, ok := first[e.key]; ok {
			hdr.Typeflag, hdr.Linkname, hdr.Size, hdr.PAXRecords = tar.TypeLink, target, 0, nil
			return tw.WriteHeader(&hdr)
		}
		first[e.key] = name
	}
	if hdr.Typeflag != tar.TypeReg {
		return tw.WriteHeader(&hdr)
	}
	var body io.Reader
	switch {
	case hdr.Size == 0 && e.rel == "":
		return tw.WriteHeader(&hdr) // a socket's empty file
	case e.spool:
		body = io.NewSectionReader(p.spool, e.off, hdr.Size)
	default:
		f, err := openFile(p.root, e.rel, e.st)
		if err != nil {
			return fmt.Errorf("open %s: %w", e.rel, err)
		}
		defer f.Close()
		var st unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &st); err != nil {
			return err
		}
		if st.Size != hdr.Size {
			return fmt.Errorf("%s changed while it was read", e.rel)
		}
		if caps := fdCaps(int(f.Fd())); caps != "" {
			hdr.PAXRecords = map[string]string{"SCHILY.xattr." + xattrCaps: caps}
		}
		body = f
	}
	if err := tw.WriteHeader(&hdr); err != nil {
		return err
	}
	n, err := io.CopyBuffer(tw, io.LimitReader(body, hdr.Size), buf)
	if err != nil {
		return err
	}
	if n != hdr.Size {
		return fmt.Errorf("%s changed while it was read", name)
	}
	return nil
}

// fdCaps is the file's capabilities attribute, "" when it has none.
func fdCaps(fd int) string {
	buf := make([]byte, 64)
	for {
		n, err := unix.Fgetxattr(fd, xattrCaps, buf)
		if errors.Is(err, unix.ERANGE) && len(buf) < 64<<10 {
			buf = make([]byte, len(buf)*4)
			continue
		}
		if err != nil {
			return ""
		}
		return string(buf[:n])
	}
}
