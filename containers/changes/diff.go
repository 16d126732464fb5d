// Package changes reads and writes a container's filesystem changes: what
// `docker diff` lists, the layer `docker commit` stores, and the tar
// streams of `docker cp` and `docker export`.
//
// A container's changes are its overlayfs upper dir: whiteouts there are
// 0/0 character devices, and a directory whose lower contents are hidden
// carries the xattr trusted.overlay.opaque=y. The image's layers (lower
// dirs, lowest first) use the same form, since the image store unpacks
// layers that way.
//
// Paths inside a container are never trusted: every walk below opens each
// node relative to its parent without following symlinks, and every path
// that must be resolved inside a container root is resolved as if that
// root were "/" (openat2 RESOLVE_IN_ROOT or filepath-securejoin), so a
// symlink planted in the container never leads to a host path.
package changes

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Kind is the kind of a change, numbered as Docker's API numbers them.
type Kind int

const (
	Changed Kind = iota // C: modified, or a directory holding changes
	Added               // A
	Deleted             // D
)

func (k Kind) String() string {
	switch k {
	case Changed:
		return "C"
	case Added:
		return "A"
	case Deleted:
		return "D"
	}
	return "?"
}

// Change is one line of `docker diff`.
type Change struct {
	Kind Kind   `json:"Kind"`
	Path string `json:"Path"` // absolute, inside the container
}

func (c Change) String() string { return c.Kind.String() + " " + c.Path }

const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
	xattrOverlay   = "trusted.overlay."
	xattrOpaque    = "trusted.overlay.opaque"
	xattrRedirect  = "trusted.overlay.redirect"
	xattrMetacopy  = "trusted.overlay.metacopy"
)

// Option tunes Diff and WriteLayer.
type Option func(*options)

type options struct {
	mountPoints map[string]bool
}

// SkipMountPoints leaves out the empty files and directories the runtime
// creates in the upper dir as targets of its own mounts (/etc/hosts,
// /etc/resolv.conf, /proc, ...) when the image lacks them: Docker keeps
// those in a hidden init layer, so they are not the user's changes.
// Paths are absolute, as inside the container.
func SkipMountPoints(paths []string) Option {
	return func(o *options) {
		if o.mountPoints == nil {
			o.mountPoints = map[string]bool{}
		}
		for _, p := range paths {
			o.mountPoints[path.Clean("/"+p)] = true
		}
	}
}

func makeOptions(opts []Option) *options {
	o := &options{}
	for _, f := range opts {
		f(o)
	}
	return o
}

// placeholder reports whether the node at p is an empty mount target the
// runtime made: a mount point that is an empty regular file or directory.
func (o *options) placeholder(p string, fd int, st *unix.Stat_t) bool {
	if !o.mountPoints[p] {
		return false
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return st.Size == 0
	case unix.S_IFDIR:
		names, err := readNames(fd)
		return err == nil && len(names) == 0
	}
	return false
}

// Diff lists the changes of a container whose upper dir is upper, over
// image layers lowers (lowest first), by Docker's rules: a whiteout is
// Deleted; an entry that exists in the image is Changed, any other Added;
// a directory that existed before is Changed when it holds a change or its
// mode or owner changed. The list is sorted by path.
//
// An opaque directory (its lower contents hidden: the container removed a
// directory and made a new one in its place) is Changed, and each entry the
// image had directly in it and the upper dir lacks is listed as Deleted
// (the entries below those are not listed, as with a whiteout).
func Diff(upper string, lowers []string, opts ...Option) ([]Change, error) {
	fd, err := unix.Open(upper, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("diff: open upper dir: %w", err)
	}
	defer unix.Close(fd)
	d := &differ{lowers: lowers, o: makeOptions(opts)}
	if _, err := d.walk(fd, "/", false); err != nil {
		return nil, fmt.Errorf("diff: %w", err)
	}
	sort.Slice(d.out, func(i, j int) bool { return d.out[i].Path < d.out[j].Path })
	return d.out, nil
}

type differ struct {
	lowers []string
	o      *options
	out    []Change
}

func (d *differ) add(k Kind, p string) { d.out = append(d.out, Change{Kind: k, Path: p}) }

// walk reports the changes under the upper directory fd (at container path
// dir) and whether there were any. hidden: an ancestor is opaque, so
// nothing below comes from the image.
func (d *differ) walk(fd int, dir string, hidden bool) (bool, error) {
	names, err := readNames(fd)
	if err != nil {
		return false, fmt.Errorf("read %s: %w", dir, err)
	}
	changed := false
	for _, name := range names {
		p := path.Join(dir, name)
		var st unix.Stat_t
		if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue // removed while we looked (a running container)
			}
			return false, fmt.Errorf("stat %s: %w", p, err)
		}
		if isWhiteout(&st) {
			d.add(Deleted, p)
			changed = true
			continue
		}
		var lower *unix.Stat_t
		if !hidden {
			lower = lowerStat(d.lowers, p)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			if lower == nil && d.o.placeholder(p, -1, &st) {
				continue
			}
			k := Added
			if lower != nil {
				k = Changed
			}
			d.add(k, p)
			changed = true
			continue
		}
		cfd, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
				continue // replaced while we looked
			}
			return false, fmt.Errorf("open %s: %w", p, err)
		}
		if lower == nil && d.o.placeholder(p, cfd, &st) {
			unix.Close(cfd)
			continue
		}
		opaque := isOpaque(cfd)
		inner, err := d.walk(cfd, p, hidden || opaque)
		if err == nil && opaque && lower != nil && lower.Mode&unix.S_IFMT == unix.S_IFDIR {
			for _, gone := range lowerChildren(d.lowers, p) {
				var cst unix.Stat_t
				if unix.Fstatat(cfd, gone, &cst, unix.AT_SYMLINK_NOFOLLOW) != nil {
					d.add(Deleted, path.Join(p, gone))
					inner = true
				}
			}
		}
		unix.Close(cfd)
		if err != nil {
			return false, err
		}
		switch {
		case lower == nil:
			d.add(Added, p)
		case inner || opaque || lower.Mode&unix.S_IFMT != unix.S_IFDIR ||
			lower.Mode != st.Mode || lower.Uid != st.Uid || lower.Gid != st.Gid:
			d.add(Changed, p)
		default:
			continue
		}
		changed = true
	}
	return changed, nil
}

// isWhiteout reports an overlay whiteout: a 0/0 character device.
func isWhiteout(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

// isOpaque reports whether the open directory fd is an opaque overlay dir.
func isOpaque(fd int) bool {
	buf := make([]byte, 8)
	n, err := unix.Fgetxattr(fd, xattrOpaque, buf)
	return err == nil && n == 1 && buf[0] == 'y'
}

func isOpaquePath(p string) bool {
	buf := make([]byte, 8)
	n, err := unix.Lgetxattr(p, xattrOpaque, buf)
	return err == nil && n == 1 && buf[0] == 'y'
}

// readNames lists an open directory, sorted.
func readNames(fd int) ([]string, error) {
	// Read through a duplicate, so the caller's fd keeps its offset and
	// stays open.
	dup, err := unix.Dup(fd)
	if err != nil {
		return nil, err
	}
	unix.CloseOnExec(dup)
	if _, err := unix.Seek(dup, 0, 0); err != nil {
		unix.Close(dup)
		return nil, err
	}
	f := os.NewFile(uintptr(dup), "dir")
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	return names, nil
}

// probe results: what one layer says about a path.
type probeResult int

const (
	absent probeResult = iota // not in this layer: look further down
	found                     // this layer has it
	masked                    // this layer hides it from the layers below
)

// probe looks up the container path p in one layer dir. Layers are the
// image store's read-only snapshots, so path lookups below them are safe
// as long as no component is a symlink, which probe checks step by step.
func probe(layer, p string) (unix.Stat_t, probeResult) {
	var st unix.Stat_t
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	cur := layer
	opaque := false
	for _, part := range parts[:len(parts)-1] {
		cur = filepath.Join(cur, part)
		if err := unix.Lstat(cur, &st); err != nil {
			if opaque {
				return st, masked
			}
			return st, absent
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return st, masked // a file, symlink or whiteout hides what was below
		}
		if isOpaquePath(cur) {
			opaque = true
		}
	}
	if err := unix.Lstat(filepath.Join(cur, parts[len(parts)-1]), &st); err == nil {
		if isWhiteout(&st) {
			return st, masked
		}
		return st, found
	}
	if opaque {
		return st, masked
	}
	return st, absent
}

// lowerStat returns the stat of the container path p as the image shows
// it, or nil when the image does not have it.
func lowerStat(lowers []string, p string) *unix.Stat_t {
	for i := len(lowers) - 1; i >= 0; i-- {
		st, res := probe(lowers[i], p)
		switch res {
		case found:
			return &st
		case masked:
			return nil
		}
	}
	return nil
}

// lowerChildren lists the names the image shows in its directory p.
func lowerChildren(lowers []string, p string) []string {
	seen := map[string]bool{}
	var names []string
	for i := len(lowers) - 1; i >= 0; i-- {
		st, res := probe(lowers[i], p)
		if res == masked || (res == found && st.Mode&unix.S_IFMT != unix.S_IFDIR) {
			break
		}
		if res == absent {
			continue
		}
		dir := filepath.Join(lowers[i], p)
		ents, err := os.ReadDir(dir)
		if err != nil {
			break
		}
		for _, e := range ents {
			if seen[e.Name()] {
				continue
			}
			seen[e.Name()] = true // a whiteout hides the name below too
			var est unix.Stat_t
			if unix.Lstat(filepath.Join(dir, e.Name()), &est) == nil && !isWhiteout(&est) {
				names = append(names, e.Name())
			}
		}
		if isOpaquePath(dir) {
			break
		}
	}
	sort.Strings(names)
	return names
}
