package buildctx

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"berth/internal/tarpath"
)

// maxLinks bounds the symlinks one resolution follows, as the kernel's
// ELOOP does.
const maxLinks = 40

// lookup is where a path led inside a root.
type lookup struct {
	rel   string      // the path reached, relative to the root, free of symlinks ("" is the root)
	st    unix.Stat_t // its metadata, when found
	found bool
	// rest: when not found, the elements from the first missing one on
	// (what a copy would create under rel).
	rest []string
}

// visibleFunc says whether the entry rel (just stat'ed) exists for the
// resolution: .dockerignore hides what the context does not send.
type visibleFunc func(rel string, st *unix.Stat_t) (bool, error)

// resolveIn resolves p inside the tree of root the way RESOLVE_IN_ROOT
// does — symlinks followed as if root were "/", ".." stopping at it —
// but in user space, so that it knows the symlink-free path it ends on
// (for .dockerignore and for the layer's names) and where a path stops
// existing. Each step opens the next directory relative to the last with
// O_NOFOLLOW, so nothing outside root is ever looked at. followLast
// follows a symlink at the end too. A visible func hides entries.
func resolveIn(root *os.File, p string, followLast bool, visible visibleFunc) (lookup, error) {
	todo := splitPath(p)
	var cur []string
	fds := []int{int(root.Fd())}
	defer func() {
		for _, fd := range fds[1:] {
			unix.Close(fd)
		}
	}()
	up := func() {
		if len(cur) > 0 {
			unix.Close(fds[len(fds)-1])
			fds, cur = fds[:len(fds)-1], cur[:len(cur)-1]
		}
	}
	links := 0
	for len(todo) > 0 {
		elem := todo[0]
		todo = todo[1:]
		switch elem {
		case "", ".":
			continue
		case "..":
			up()
			continue
		}
		dir := fds[len(fds)-1]
		var st unix.Stat_t
		err := unix.Fstatat(dir, elem, &st, unix.AT_SYMLINK_NOFOLLOW)
		rel := path.Join(path.Join(cur...), elem)
		if err == nil && visible != nil {
			ok, verr := visible(rel, &st)
			if verr != nil {
				return lookup{}, verr
			}
			if !ok {
				err = unix.ENOENT
			}
		}
		if errors.Is(err, unix.ENOENT) {
			rest := append([]string{elem}, todo...)
			for _, r := range rest {
				if r == ".." {
					// Lexical ".." past a missing element would be guesswork.
					return lookup{}, fmt.Errorf("%s: %w", path.Join(path.Join(cur...), path.Join(rest...)), unix.ENOENT)
				}
			}
			return lookup{rel: path.Join(cur...), rest: cleanElems(rest)}, nil
		}
		if err != nil {
			return lookup{}, fmt.Errorf("stat %s: %w", rel, err)
		}
		isLink := st.Mode&unix.S_IFMT == unix.S_IFLNK
		if isLink && (len(todo) > 0 || followLast) {
			if links++; links > maxLinks {
				return lookup{}, fmt.Errorf("%s: %w", p, unix.ELOOP)
			}
			target, err := tarpath.Readlinkat(dir, elem)
			if err != nil {
				return lookup{}, fmt.Errorf("read link %s: %w", rel, err)
			}
			if strings.HasPrefix(target, "/") {
				for len(cur) > 0 {
					up()
				}
			}
			todo = append(splitPath(target), todo...)
			continue
		}
		if len(todo) == 0 {
			return lookup{rel: rel, st: st, found: true}, nil
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return lookup{}, fmt.Errorf("%s: %w", rel, unix.ENOTDIR)
		}
		fd, err := unix.Openat(dir, elem, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return lookup{}, fmt.Errorf("open %s: %w", rel, err)
		}
		fds = append(fds, fd)
		cur = append(cur, elem)
	}
	// The root itself, or a path that came back to a directory on the way.
	var st unix.Stat_t
	if err := unix.Fstat(fds[len(fds)-1], &st); err != nil {
		return lookup{}, fmt.Errorf("stat %s: %w", p, err)
	}
	return lookup{rel: path.Join(cur...), st: st, found: true}, nil
}

func splitPath(p string) []string {
	return strings.Split(strings.Trim(p, "/"), "/")
}

func cleanElems(elems []string) []string {
	out := elems[:0:0]
	for _, e := range elems {
		if e != "" && e != "." {
			out = append(out, e)
		}
	}
	return out
}

// maxRetries bounds openat2's retries: it fails with EAGAIN when a rename
// elsewhere races with RESOLVE_IN_ROOT.
const maxRetries = 16

// openFile opens the regular file rel (a symlink-free path inside root)
// for reading: resolved inside root, not following a symlink at its name,
// and checked to be the inode st described (a file swapped since it was
// listed is an error, not a silent other file).
func openFile(root *os.File, rel string, want *unix.Stat_t) (*os.File, error) {
	flags := unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC
	how := unix.OpenHow{Flags: uint64(flags), Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	fd := -1
	var err error
	for i := 0; ; i++ {
		fd, err = unix.Openat2(int(root.Fd()), rel, &how)
		if (errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR)) && i < maxRetries {
			continue
		}
		break
	}
	if errors.Is(err, unix.ENOSYS) {
		// Before Linux 5.6: the parent in user space, the name by openat.
		dir, base := path.Split(rel)
		parent, perr := tarpath.OpenDir(root, dir, unix.RESOLVE_IN_ROOT)
		if perr != nil {
			return nil, perr
		}
		fd, err = unix.Openat(int(parent.Fd()), base, flags, 0)
		parent.Close()
	}
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), rel)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		f.Close()
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Dev != want.Dev || st.Ino != want.Ino {
		f.Close()
		return nil, fmt.Errorf("%s changed while it was read", rel)
	}
	return f, nil
}
