// Package buildctx is the build context of `berth build` and the files
// COPY and ADD put in a layer: the context read in place (a directory, or
// a tar extracted to a temporary one), .dockerignore with Docker's
// semantics, COPY's source and destination rules, the layer tar, and the
// checksum that stands for the sources in a step's cache key.
//
// Nothing is ever read outside the root: every path is resolved inside it
// as openat2's RESOLVE_IN_ROOT resolves (symlinks followed as if the root
// were "/", ".." never above it), files are opened without following a
// symlink at their name, and a symlink met inside a copied directory is
// copied as a symlink, never followed.
package buildctx

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/moby/patternmatcher/ignorefile"
	"golang.org/x/sys/unix"

	"berth/containers/changes"
)

// Context is a tree COPY and ADD read from: a build context (FromDir,
// FromTar) or the root of a stage or image (FromRoot). Its methods may
// be called from several goroutines at once.
type Context struct {
	root   string
	ignore *ignorer // nil: nothing is excluded
	// keepOwners: files keep their owners (an image's root). A build
	// context's files are root's, as the docker CLI sends them.
	keepOwners bool
	tmp        string // FromTar's extraction, removed by Close

	mu   sync.Mutex
	sums map[fileID]fileSum // content hashes by inode and change time
}

// Owner is a numeric owner for --chown (the executor resolves names in
// the image's /etc/passwd and /etc/group).
type Owner struct{ UID, GID int }

// CopyOptions are a COPY or ADD's flags.
type CopyOptions struct {
	Chown *Owner       // --chown: every copied entry and every directory the copy makes
	Chmod *os.FileMode // --chmod: copied files and directories (not symlinks) and the directories the copy makes
	// Add: a source that is a local tar archive (plain, gzip, bzip2, xz or
	// zstd, told by its content as Docker does) is extracted at dest
	// instead of copied.
	Add     bool
	Link    bool   // --link: accepted, the result is the same
	Workdir string // the directory a relative dest is taken from; default "/"
	// Base is the root of the image the layer goes on (optional, may be
	// a /proc/self/fd/N path). With it dest is resolved as Docker does
	// (symlinks in the image followed, an existing directory taken as a
	// directory even without a trailing "/"), the directories on the way
	// keep the image's modes and owners in the layer, and copying over
	// what the image has of another kind is refused. Without it every
	// directory on the way is written 0755 root:root.
	Base string
}

// FromDir opens the build context dir and reads its .dockerignore.
func FromDir(dir string) (*Context, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("build context %s: %w", dir, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("unable to prepare context: path %q not found", dir)
		}
		return nil, fmt.Errorf("build context %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("unable to prepare context: %s is not a directory", dir)
	}
	c := &Context{root: abs}
	if err := c.loadIgnore(); err != nil {
		return nil, err
	}
	return c, nil
}

// FromTar extracts the context tar r (plain or compressed) into a new
// directory under tmpParent: no entry lands outside it (names that climb
// out are refused, every parent is resolved inside it), and its symlinks
// are never followed out later. Close removes it.
func FromTar(r io.Reader, tmpParent string) (*Context, error) {
	tmp, err := os.MkdirTemp(tmpParent, "context-")
	if err != nil {
		return nil, fmt.Errorf("build context: %w", err)
	}
	c := &Context{root: tmp, tmp: tmp}
	if err := c.extract(r); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	if err := c.loadIgnore(); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	return c, nil
}

func (c *Context) extract(r io.Reader) error {
	dr, err := decompress(r)
	if err != nil {
		return fmt.Errorf("build context from tar: %w", err)
	}
	defer dr.Close()
	if err := changes.CopyInWith(c.root, "/", dr, changes.CopyInOptions{Archive: true}); err != nil {
		return fmt.Errorf("build context from tar: %w", err)
	}
	return nil
}

// FromRoot is the root of a stage or image (COPY --from), or a directory
// the executor filled (downloads, heredocs): no .dockerignore, and files
// keep their owners.
func FromRoot(root string) *Context {
	return &Context{root: root, keepOwners: true}
}

// Close removes FromTar's extraction.
func (c *Context) Close() error {
	if c.tmp == "" {
		return nil
	}
	if err := os.RemoveAll(c.tmp); err != nil {
		return fmt.Errorf("remove build context %s: %w", c.tmp, err)
	}
	c.tmp = ""
	return nil
}

// Root is the directory the context is read from.
func (c *Context) Root() string { return c.root }

// ReadFile reads the file name (the Dockerfile of -f, say), resolved
// inside the root. .dockerignore does not apply: Docker always sends the
// Dockerfile and .dockerignore to the builder.
func (c *Context) ReadFile(name string) ([]byte, error) {
	root, err := c.openRoot()
	if err != nil {
		return nil, err
	}
	defer root.Close()
	l, err := resolveIn(root, name, true, nil)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if !l.found {
		return nil, fmt.Errorf("read %s: %w", name, fs.ErrNotExist)
	}
	if l.st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("read %s: not a regular file", name)
	}
	f, err := openFile(root, l.rel, &l.st)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return b, nil
}

func (c *Context) loadIgnore() error {
	b, err := c.ReadFile(".dockerignore")
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	patterns, err := ignorefile.ReadAll(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("read .dockerignore: %w", err)
	}
	if len(patterns) == 0 {
		return nil
	}
	ig, err := newIgnorer(patterns)
	if err != nil {
		return fmt.Errorf("read .dockerignore: %w", err)
	}
	c.ignore = ig
	return nil
}

// openRoot opens the root as an O_PATH handle every resolution starts
// from.
func (c *Context) openRoot() (*os.File, error) {
	f, err := os.OpenFile(c.root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open build context: %w", err)
	}
	return f, nil
}
