package buildctx

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"golang.org/x/sys/unix"

	"berth/errdefs"
	"berth/internal/tarmeta"
	"berth/internal/tarpath"
)

// The magic numbers Docker tells compressed archives by.
var (
	magicGzip  = []byte{0x1f, 0x8b, 0x08}
	magicBzip2 = []byte{'B', 'Z', 'h'}
	magicXz    = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	magicZstd  = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// decompress returns r's content, decompressed when it starts with the
// magic number of gzip, bzip2, xz or zstd, as it is otherwise.
func decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(len(magicXz))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	switch {
	case bytes.HasPrefix(magic, magicGzip):
		return gzip.NewReader(br)
	case bytes.HasPrefix(magic, magicBzip2):
		return io.NopCloser(bzip2.NewReader(br)), nil
	case bytes.HasPrefix(magic, magicXz):
		xr, err := xz.NewReader(br)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(xr), nil
	case bytes.HasPrefix(magic, magicZstd):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		return zr.IOReadCloser(), nil
	}
	return io.NopCloser(br), nil
}

// archive extracts s into the layer at dest when s is a tar archive
// (Docker's test: it decompresses and its first header reads); ok is
// false for any other file, which is copied as it is. Entries are
// confined under dest: names that climb out, symlinks whose relative
// target climbs out, hard links to anything but an earlier entry, and
// entries below a symlink of the archive are refused. Owners are the
// archive's (or --chown's), as Docker extracts them; --chmod does not
// apply.
func (p *plan) archive(s Source, dest string) (bool, error) {
	f, err := openFile(p.root, s.rel(), &s.st)
	if err != nil {
		return false, fmt.Errorf("open %s: %w", s.Path, err)
	}
	defer f.Close()
	dr, err := decompress(f)
	if err != nil {
		return false, nil // not a compressed stream after all
	}
	defer dr.Close()
	tr := tar.NewReader(dr)
	hdr, err := tr.Next()
	if err != nil {
		return false, nil
	}
	if err := p.dir(dest, true); err != nil {
		return false, err
	}
	p.inArchive = true
	defer func() { p.inArchive = false }()
	x := archiveReader{p: p, dest: dest, links: map[string]bool{}, files: map[string]*entry{}, buf: make([]byte, 256<<10)}
	for {
		if err := x.entry(hdr, tr); err != nil {
			return false, fmt.Errorf("archive entry %q: %w", hdr.Name, err)
		}
		hdr, err = tr.Next()
		if err == io.EOF {
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("read archive: %w", err)
		}
	}
}

type archiveReader struct {
	p     *plan
	dest  string
	links map[string]bool   // the archive's symlinks by clean name
	files map[string]*entry // its other non-directories, for hard links
	buf   []byte
}

func (x *archiveReader) entry(hdr *tar.Header, r io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	clean, err := tarpath.Clean(hdr.Name)
	if errors.Is(err, tarpath.ErrClimbsOut) {
		return errdefs.InvalidArgument("the name climbs out of the destination")
	}
	if err != nil {
		return errdefs.InvalidArgument("%v", err)
	}
	if clean == "" {
		return nil // "./": the destination itself
	}
	for d := path.Dir(clean); d != "."; d = path.Dir(d) {
		if x.links[d] {
			return errdefs.InvalidArgument("it is below the archive's symlink %q", d)
		}
	}
	p := x.p
	e := &entry{hdr: tar.Header{
		Typeflag: hdr.Typeflag, Mode: hdr.Mode & 0o7777, Uid: hdr.Uid, Gid: hdr.Gid,
		ModTime: hdr.ModTime.Truncate(time.Second), Format: tar.FormatPAX,
	}}
	if p.o.Chown != nil {
		e.hdr.Uid, e.hdr.Gid = p.o.Chown.UID, p.o.Chown.GID
	}
	if attrs := tarmeta.Xattrs(hdr); len(attrs) > 0 {
		e.hdr.PAXRecords = map[string]string{}
		for k, v := range attrs {
			e.hdr.PAXRecords["SCHILY.xattr."+k] = v
		}
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse:
		e.hdr.Typeflag = tar.TypeReg
		if err := x.spool(e, r); err != nil {
			return err
		}
	case tar.TypeSymlink:
		if !path.IsAbs(hdr.Linkname) {
			t := path.Join(path.Dir(clean), hdr.Linkname)
			if t == ".." || len(t) > 2 && t[:3] == "../" {
				return errdefs.InvalidArgument("symlink target %q climbs out of the destination", hdr.Linkname)
			}
		}
		e.hdr.Linkname = hdr.Linkname
	case tar.TypeLink:
		t, err := tarpath.Clean(hdr.Linkname)
		if err != nil {
			return errdefs.InvalidArgument("hard link target %q is outside the destination", hdr.Linkname)
		}
		target, ok := x.files[t]
		if !ok {
			return errdefs.InvalidArgument("hard link target %q is not an earlier file of the archive", hdr.Linkname)
		}
		linked := *target // one inode: the target's metadata
		e = &linked
	case tar.TypeChar, tar.TypeBlock:
		e.hdr.Devmajor, e.hdr.Devminor = hdr.Devmajor, hdr.Devminor
	case tar.TypeFifo:
	default:
		return errdefs.InvalidArgument("unsupported entry type %q", string(hdr.Typeflag))
	}
	name, err := x.place(path.Join(x.dest, clean))
	if err != nil {
		return err
	}
	if err := p.dir(path.Dir(name), false); err != nil {
		return err
	}
	if old, ok := p.entries[name]; ok && old.hdr.Typeflag == tar.TypeDir && e.hdr.Typeflag != tar.TypeDir {
		// Docker removes what is there; what the plan had below it goes too.
		for n := range p.entries {
			if strings.HasPrefix(n, name+"/") {
				delete(p.entries, n)
			}
		}
	}
	p.entries[name] = e
	delete(x.links, clean)
	delete(x.files, clean)
	switch e.hdr.Typeflag {
	case tar.TypeSymlink:
		x.links[clean] = true
	case tar.TypeDir:
	default:
		x.files[clean] = e
	}
	return nil
}

// place is where the entry name lands in the image: its parent directory
// resolved in the image's root, symlinks followed inside it, as Docker
// extracts into the image (an image's /var/run -> /run takes
// var/run/x to run/x); what is at name itself is replaced, never
// followed.
func (x *archiveReader) place(name string) (string, error) {
	p := x.p
	dir := path.Dir(name)
	if p.base == nil || dir == "." {
		return name, nil
	}
	if e, ok := p.entries[dir]; ok && e.hdr.Typeflag == tar.TypeDir {
		return name, nil // a directory this layer makes or keeps
	}
	resolved, ok := p.baseDirs[dir]
	if !ok {
		l, err := resolveIn(p.base, dir, true, nil)
		switch {
		case err != nil:
			return "", errdefs.InvalidArgument("cannot extract to /%s: %v", dir, err)
		case !l.found:
			resolved = path.Join(append([]string{l.rel}, l.rest...)...)
		case l.st.Mode&unix.S_IFMT != unix.S_IFDIR:
			return "", errdefs.InvalidArgument("cannot extract to /%s: not a directory", dir)
		default:
			resolved = l.rel
		}
		if p.baseDirs == nil {
			p.baseDirs = map[string]string{}
		}
		p.baseDirs[dir] = resolved
	}
	return path.Join(resolved, path.Base(name)), nil
}

// spool keeps a file's content from the archive in the plan's spool file
// (the layer is written sorted, not in the archive's order).
func (x *archiveReader) spool(e *entry, r io.Reader) error {
	p := x.p
	if p.spool == nil {
		f, err := os.CreateTemp("", "berth-add-")
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		os.Remove(f.Name()) // gone with the handle
		p.spool = f
	}
	n, err := io.CopyBuffer(struct{ io.Writer }{p.spool}, r, x.buf)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	e.spool, e.off, e.hdr.Size = true, p.spoolOff, n
	p.spoolFiles++
	e.key = entryKey{archive: true, a: p.spoolFiles}
	p.spoolOff += n
	return nil
}
