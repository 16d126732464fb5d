// Package filetree analyses image layers as files: the file list of one
// unpacked layer (a snapshot directory in overlay form), cached by the
// layer's diffID, and the combination of an image's layers into per-layer
// changes, browsable trees and the space wasted by files that later
// layers remove or replace.
package filetree

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// Kind is the type of a layer entry.
type Kind uint8

const (
	Regular Kind = iota
	Dir
	Symlink
	// Hardlink is a further name of a file earlier in the same layer
	// (Entry.LinkTo); the file's bytes are counted once, at its first name.
	Hardlink
	CharDev
	BlockDev
	Fifo
	Socket
	// Whiteout removes the file of this name, and everything under it,
	// from the layers below (overlay form: a 0/0 character device).
	Whiteout
	numKinds // kinds below this are valid
)

// ModeString is the ls -l form of a mode: "drwxr-xr-x", "-rwsr-xr-x".
func ModeString(k Kind, mode uint32) string {
	b := []byte("?rwxrwxrwx")
	switch k {
	case Regular, Hardlink:
		b[0] = '-'
	case Dir:
		b[0] = 'd'
	case Symlink:
		b[0] = 'l'
	case CharDev, Whiteout:
		b[0] = 'c'
	case BlockDev:
		b[0] = 'b'
	case Fifo:
		b[0] = 'p'
	case Socket:
		b[0] = 's'
	}
	for i := 0; i < 9; i++ {
		if mode&(1<<(8-i)) == 0 {
			b[i+1] = '-'
		}
	}
	special := func(bit uint32, at int, set, unset byte) {
		if mode&bit != 0 {
			if b[at] == '-' {
				b[at] = unset
			} else {
				b[at] = set
			}
		}
	}
	special(0o4000, 3, 's', 'S')
	special(0o2000, 6, 's', 'S')
	special(0o1000, 9, 't', 'T')
	return string(b)
}

// Entry is one name in a layer.
type Entry struct {
	Name   string // base name
	Parent int32  // index of the directory holding it, -1 at the top
	Kind   Kind
	// Opaque marks a directory that hides everything lower layers have
	// under it (overlay xattr trusted.overlay.opaque=y).
	Opaque   bool
	Mode     uint32 // permission bits, with setuid, setgid and sticky (07777)
	UID, GID uint32
	// Size is a regular file's length (a hard link's too); 0 for others.
	Size   int64
	Link   string // a symlink's target
	LinkTo int32  // a Hardlink's first name (an entry index); -1 otherwise
}

// Bytes is what the entry adds to its layer's size: a regular file's
// length, once per inode.
func (e *Entry) Bytes() int64 {
	if e.Kind == Regular {
		return e.Size
	}
	return 0
}

// Layer is the file list of one layer.
type Layer struct {
	DiffID string // the uncompressed layer's digest: the cache key
	// Entries in depth-first order, names sorted within a directory: a
	// directory comes right before its contents.
	Entries []Entry
	Size    int64 // bytes of the regular files, each inode once
}

// Path is entry i's path relative to the root, e.g. "usr/bin/env".
func (l *Layer) Path(i int) string {
	var parts []string
	for j := int32(i); j >= 0; j = l.Entries[j].Parent {
		parts = append(parts, l.Entries[j].Name)
	}
	slices.Reverse(parts)
	return strings.Join(parts, "/")
}

const (
	xattrOpaque = "trusted.overlay.opaque"
	// direntBuf holds the getdents results of one read.
	direntBuf = 32 << 10
)

// walker lists one snapshot directory.
type walker struct {
	ctx   context.Context
	layer *Layer
	buf   []byte   // getdents buffer, reused
	names []string // reused between directories
	link  []byte   // readlink buffer
	seen  map[inode]int32
	n     int // entries since the last look at ctx
}

type inode struct{ dev, ino uint64 }

// Analyse lists the layer unpacked in dir (diffID names it). It reads the
// directory with getdents and fstatat relative to open directories, so a
// layer of tens of thousands of files takes milliseconds, and never
// follows a symlink.
func Analyse(ctx context.Context, diffID, dir string) (*Layer, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open layer %s: %w", dir, err)
	}
	defer unix.Close(fd)
	w := &walker{
		ctx:   ctx,
		layer: &Layer{DiffID: diffID},
		buf:   make([]byte, direntBuf),
		link:  make([]byte, unix.PathMax),
		seen:  map[inode]int32{},
	}
	if err := w.dir(fd, -1, ""); err != nil {
		return nil, fmt.Errorf("analyse layer %s: %w", dir, err)
	}
	return w.layer, nil
}

// readNames lists the directory open at fd, sorted.
func (w *walker) readNames(fd int) ([]string, error) {
	names := w.names[:0]
	for {
		n, err := unix.ReadDirent(fd, w.buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			break
		}
		_, _, names = unix.ParseDirent(w.buf[:n], -1, names)
	}
	slices.Sort(names)
	out := slices.Clone(names) // w.names is reused by subdirectories
	w.names = names[:0]
	return out, nil
}

// dir adds the contents of the directory open at fd, whose entry is
// parent; rel is its path, for errors.
func (w *walker) dir(fd int, parent int32, rel string) error {
	names, err := w.readNames(fd)
	if err != nil {
		return fmt.Errorf("read directory /%s: %w", rel, err)
	}
	for _, name := range names {
		if w.n++; w.n%256 == 0 {
			if err := w.ctx.Err(); err != nil {
				return err
			}
		}
		var st unix.Stat_t
		if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("stat /%s: %w", path.Join(rel, name), err)
		}
		e := Entry{
			Name:   name,
			Parent: parent,
			Mode:   st.Mode & 0o7777,
			UID:    st.Uid,
			GID:    st.Gid,
			LinkTo: -1,
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			e.Kind = Dir
		case unix.S_IFREG:
			e.Kind, e.Size = Regular, st.Size
		case unix.S_IFLNK:
			e.Kind = Symlink
			n, err := unix.Readlinkat(fd, name, w.link)
			if err != nil {
				return fmt.Errorf("read link /%s: %w", path.Join(rel, name), err)
			}
			e.Link = string(w.link[:n])
		case unix.S_IFCHR:
			e.Kind = CharDev
			if st.Rdev == 0 {
				e.Kind = Whiteout
			}
		case unix.S_IFBLK:
			e.Kind = BlockDev
		case unix.S_IFIFO:
			e.Kind = Fifo
		default:
			e.Kind = Socket
		}
		idx := int32(len(w.layer.Entries))
		if e.Kind != Dir && e.Kind != Whiteout && st.Nlink > 1 {
			key := inode{uint64(st.Dev), st.Ino}
			if first, ok := w.seen[key]; ok {
				e.Kind, e.LinkTo = Hardlink, first
			} else {
				w.seen[key] = idx
			}
		}
		w.layer.Size += e.Bytes()
		if e.Kind != Dir {
			w.layer.Entries = append(w.layer.Entries, e)
			continue
		}
		cfd, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open /%s: %w", path.Join(rel, name), err)
		}
		e.Opaque = isOpaque(cfd)
		w.layer.Entries = append(w.layer.Entries, e)
		err = w.dir(cfd, idx, path.Join(rel, name))
		unix.Close(cfd)
		if err != nil {
			return err
		}
	}
	return nil
}

func isOpaque(fd int) bool {
	var v [4]byte
	n, err := unix.Fgetxattr(fd, xattrOpaque, v[:])
	return err == nil && n == 1 && v[0] == 'y'
}
