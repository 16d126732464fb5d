package buildctx

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/patternmatcher"
	"golang.org/x/sys/unix"

	"berth/errdefs"
	"berth/internal/tarpath"
)

// Source is one COPY or ADD source as found in the context.
type Source struct {
	Arg  string // the source as written
	Path string // where it is in the context, symlinks followed; "." is the whole context
	// Name is what it is called under a directory destination: the base
	// name of the match, before a symlink there is followed.
	Name string
	Dir  bool // a directory: its contents are copied, not itself
	st   unix.Stat_t
}

func (s Source) rel() string {
	if s.Path == "." {
		return ""
	}
	return s.Path
}

// Sources expands COPY or ADD sources to what they name in the context:
// each taken relative to the root ("../" and a leading "/" cannot leave
// it, as in Docker), wildcards matched element by element with
// filepath.Match (BuildKit's rule), symlinks followed inside the root,
// what .dockerignore excludes left out. A source without wildcards that
// names nothing is an error naming it; a wildcard may match nothing
// when another source matches something (BuildKit's rule).
func (c *Context) Sources(srcs []string) ([]Source, error) {
	root, err := c.openRoot()
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return c.sources(root, srcs)
}

func (c *Context) sources(root *os.File, srcs []string) ([]Source, error) {
	if len(srcs) == 0 {
		return nil, errdefs.InvalidArgument("no source files were specified")
	}
	var out []Source
	unmatched := "" // the first wildcard that matched nothing
	for _, arg := range srcs {
		clean := strings.TrimPrefix(path.Clean("/"+arg), "/")
		if !hasWildcard(clean) {
			s, err := c.source(root, arg, clean)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
			continue
		}
		matches, err := c.glob(root, clean)
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", arg, err)
		}
		if len(matches) == 0 && unmatched == "" {
			unmatched = arg
		}
		for _, m := range matches {
			s, err := c.source(root, arg, m)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		// BuildKit lets a wildcard match nothing when another source
		// copies something; with nothing at all, the classic builder's
		// error.
		return nil, errdefs.NotFound("no source files were specified: nothing in the build context matches %s", unmatched)
	}
	return out, nil
}

// source resolves the path p (clean, relative) that arg named.
func (c *Context) source(root *os.File, arg, p string) (Source, error) {
	l, err := resolveIn(root, p, true, c.visible(root))
	if err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENOTDIR) {
		return Source{}, fmt.Errorf("source %s: %w", arg, err)
	}
	if err != nil || !l.found {
		name := p
		if name == "" {
			name = "."
		}
		return Source{}, errdefs.NotFound("file not found in build context or excluded by .dockerignore: stat %s: file does not exist", name)
	}
	s := Source{Arg: arg, Path: l.rel, Name: path.Base(p), Dir: l.st.Mode&unix.S_IFMT == unix.S_IFDIR, st: l.st}
	if s.Path == "" {
		s.Path = "."
	}
	if p == "" {
		s.Name = "."
	}
	return s, nil
}

// hasWildcard says whether p has an unescaped *, ? or [.
func hasWildcard(p string) bool {
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
		case '*', '?', '[':
			return true
		}
	}
	return false
}

// glob returns the paths in the context that p (clean, relative, with a
// wildcard) matches, sorted: the elements before the first wildcard are
// resolved as a path, the rest matched one directory level each, a
// matching directory not entered (BuildKit's ResolveWildcards).
func (c *Context) glob(root *os.File, p string) ([]string, error) {
	elems := strings.Split(p, "/")
	i := slices.IndexFunc(elems, hasWildcard)
	for _, pat := range elems[i:] {
		if _, err := filepath.Match(pat, ""); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	l, err := resolveIn(root, strings.Join(elems[:i], "/"), true, c.visible(root))
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return nil, nil
		}
		return nil, err
	}
	if !l.found || l.st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil, nil
	}
	var out []string
	err = c.matchLevel(root, l.rel, elems[i:], &out)
	return out, err
}

func (c *Context) matchLevel(root *os.File, dir string, pats []string, out *[]string) error {
	fd, err := openDirNoFollowRel(root, dir)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	names, err := readNames(fd, dir)
	if err != nil {
		return err
	}
	visible := c.visible(root)
	for _, name := range names {
		if ok, _ := filepath.Match(pats[0], name); !ok {
			continue
		}
		var st unix.Stat_t
		if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return fmt.Errorf("stat %s: %w", path.Join(dir, name), err)
		}
		rel := path.Join(dir, name)
		if visible != nil {
			if ok, err := visible(rel, &st); err != nil {
				return err
			} else if !ok {
				continue
			}
		}
		switch {
		case len(pats) == 1:
			*out = append(*out, rel)
		case st.Mode&unix.S_IFMT == unix.S_IFDIR:
			if err := c.matchLevel(root, rel, pats[1:], out); err != nil {
				return err
			}
		}
	}
	return nil
}

// openDirNoFollow opens the symlink-free directory path rel below root,
// one element at a time, never following a symlink.
func openDirNoFollow(root *os.File, rel string) (int, error) {
	fd, err := unix.Dup(int(root.Fd()))
	if err != nil {
		return -1, err
	}
	for _, elem := range strings.Split(rel, "/") {
		next, err := unix.Openat(fd, elem, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			return -1, err
		}
		fd = next
	}
	return fd, nil
}

// readNames lists the open directory fd, sorted, and leaves fd open.
func readNames(fd int, dir string) ([]string, error) {
	dup, err := unix.Dup(fd)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(dup), dir)
	defer f.Close()
	if _, err := unix.Seek(dup, 0, 0); err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	slices.Sort(names)
	return names, nil
}

// visible says whether an entry is in the context as the builder sees
// it: not excluded, or an excluded directory with something re-included
// below it.
func (c *Context) visible(root *os.File) visibleFunc {
	if c.ignore == nil {
		return nil
	}
	return func(rel string, st *unix.Stat_t) (bool, error) {
		excluded, mi, err := c.ignore.match(rel, patternmatcher.MatchInfo{})
		if err != nil {
			return false, fmt.Errorf(".dockerignore: %w", err)
		}
		if !excluded {
			return true, nil
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR || !c.ignore.mayReinclude(rel) {
			return false, nil
		}
		fd, err := openDirNoFollow(root, rel)
		if err != nil {
			return false, fmt.Errorf("open %s: %w", rel, err)
		}
		defer unix.Close(fd)
		var below []node
		err = c.walkDir(fd, rel, "", mi, &below, true)
		if errors.Is(err, errFound) {
			return true, nil
		}
		return false, err
	}
}

// node is one entry of what a source copies.
type node struct {
	rel  string // in the context, symlink-free
	sub  string // below the source directory ("" for a file source)
	st   unix.Stat_t
	link string // a symlink's target
}

// nodes lists what s copies: a file source itself, or everything a
// directory source holds (not the directory), parents before children,
// siblings sorted; .dockerignore applied.
func (c *Context) nodes(root *os.File, s Source) ([]node, error) {
	if !s.Dir {
		n := node{rel: s.rel(), st: s.st}
		if s.st.Mode&unix.S_IFMT == unix.S_IFLNK {
			// Only a dangling link or a loop survives resolution.
			return nil, errdefs.NotFound("file not found in build context or excluded by .dockerignore: stat %s: file does not exist", s.Path)
		}
		return []node{n}, nil
	}
	var mi patternmatcher.MatchInfo
	if c.ignore != nil && s.rel() != "" {
		var err error
		if _, mi, err = c.ignore.match(s.rel(), patternmatcher.MatchInfo{}); err != nil {
			return nil, fmt.Errorf(".dockerignore: %w", err)
		}
	}
	fd, err := openDirNoFollowRel(root, s.rel())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", s.Path, err)
	}
	defer unix.Close(fd)
	var out []node
	if err := c.walkDir(fd, s.rel(), "", mi, &out, false); err != nil {
		return nil, err
	}
	return out, nil
}

// openDirNoFollowRel is openDirNoFollow that also opens the root ("").
func openDirNoFollowRel(root *os.File, rel string) (int, error) {
	if rel == "" {
		return unix.Openat(int(root.Fd()), ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	}
	return openDirNoFollow(root, rel)
}

// walkDir appends the entries below the open directory fd (context path
// rel, source path sub). An excluded directory is entered only when an
// exception may match below it, and kept only when something below it
// is. first stops with errFound at the first entry kept (a visibility
// check).
func (c *Context) walkDir(fd int, rel, sub string, mi patternmatcher.MatchInfo, out *[]node, first bool) error {
	names, err := readNames(fd, rel)
	if err != nil {
		return err
	}
	for _, name := range names {
		n := node{rel: path.Join(rel, name), sub: path.Join(sub, name)}
		if err := unix.Fstatat(fd, name, &n.st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return fmt.Errorf("stat %s: %w", n.rel, err)
		}
		isDir := n.st.Mode&unix.S_IFMT == unix.S_IFDIR
		excluded := false
		var cmi patternmatcher.MatchInfo
		if c.ignore != nil {
			if excluded, cmi, err = c.ignore.match(n.rel, mi); err != nil {
				return fmt.Errorf(".dockerignore: %w", err)
			}
			if excluded && (!isDir || !c.ignore.mayReinclude(n.rel)) {
				continue
			}
		}
		switch n.st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			if n.link, err = tarpath.Readlinkat(fd, name); err != nil {
				return fmt.Errorf("read link %s: %w", n.rel, err)
			}
		case unix.S_IFDIR:
			child, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("open %s: %w", n.rel, err)
			}
			if first && !excluded {
				unix.Close(child)
				return errFound
			}
			mark := len(*out)
			*out = append(*out, n)
			err = c.walkDir(child, n.rel, n.sub, cmi, out, first)
			unix.Close(child)
			if err != nil {
				return err
			}
			if excluded && len(*out) == mark+1 {
				*out = (*out)[:mark] // nothing re-included below it
			}
			continue
		}
		if first {
			return errFound
		}
		*out = append(*out, n)
	}
	return nil
}

// errFound ends a walk that looks for any entry kept.
var errFound = errors.New("found")
