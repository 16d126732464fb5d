package images

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gofrs/flock"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"berth/errdefs"
)

// Names under the store root; see the package documentation.
const (
	dirBlobs      = "blobs/sha256"
	dirIngest     = "ingest"
	dirSnapshots  = "snapshots"
	dirTmp        = "tmp"
	dirStepLocks  = "steplocks"
	fileIndex     = "index.json"
	fileIndexLock = "index.lock"
	fileGCLock    = "gc.lock"

	// staleAge is how old a temporary item whose owner pid is (again) alive
	// must be before Open treats it as abandoned: it covers pid reuse, while
	// the flock covers live writers.
	staleAge = 30 * time.Minute
)

func open(root string, opts OpenOptions) (*Store, error) {
	if root == "" {
		return nil, errdefs.InvalidArgument("image store root is empty")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("image store root %s: %w", root, err)
	}
	s := &Store{root: abs, view: &indexView{}}
	for _, d := range []string{dirBlobs, dirIngest, dirSnapshots, dirTmp, dirStepLocks} {
		if err := os.MkdirAll(filepath.Join(abs, d), 0o700); err != nil {
			return nil, fmt.Errorf("create image store: %w", err)
		}
	}
	if opts.KeepLeftovers {
		return s, nil
	}
	stale, err := s.cleanup()
	if err != nil {
		return nil, err
	}
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	if stale > 0 || idx.GCPending {
		// A crashed writer may have committed blobs or snapshots that no
		// image references: collect them unless someone is busy.
		if _, err := s.gc(context.Background(), false); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Root returns the absolute path of the store root.
func (s *Store) Root() string { return s.root }

func (s *Store) path(elem ...string) string {
	return filepath.Join(append([]string{s.root}, elem...)...)
}

// blobPath is where the blob h lives; only sha256 blobs are stored (checked
// where digests enter the store).
func (s *Store) blobPath(h v1.Hash) string {
	return filepath.Join(s.root, dirBlobs, h.Hex)
}

// cleanup removes ingest files, temporary dirs and build step locks whose
// writer is gone. It returns how many it removed.
func (s *Store) cleanup() (int, error) {
	n := 0
	for _, d := range []string{dirIngest, dirTmp, dirStepLocks} {
		dir := s.path(d)
		entries, err := os.ReadDir(dir)
		if err != nil {
			return n, fmt.Errorf("clean up %s: %w", dir, err)
		}
		for _, e := range entries {
			removed, err := staleItem(filepath.Join(dir, e.Name()), true)
			if err != nil {
				return n, err
			}
			if removed {
				n++
			}
		}
	}
	return n, nil
}

// staleItem reports whether no live process owns a temporary item, and
// with remove removes it if so: its owner holds an exclusive flock on it
// for as long as it works on it, and names it after its pid.
func staleItem(p string, remove bool) (bool, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		// Not openable (a symlink or a socket nobody should have put here):
		// it cannot be a live item of ours.
		if !remove {
			return true, nil
		}
		return true, os.RemoveAll(p)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return false, nil // its writer is alive and working
		}
		return false, fmt.Errorf("lock %s: %w", p, err)
	}
	// Between creating an item and locking it a writer is briefly exposed:
	// leave young items of live processes alone.
	if pid := ownerPid(filepath.Base(p)); pid > 0 && processAlive(pid) {
		st, err := f.Stat()
		if err == nil && time.Since(st.ModTime()) < staleAge {
			return false, nil
		}
	}
	if !remove {
		return true, nil
	}
	if err := os.RemoveAll(p); err != nil {
		return false, fmt.Errorf("remove stale %s: %w", p, err)
	}
	return true, nil
}

// ownerPid parses the pid out of "<kind>-<pid>-<rand>" or "<pid>-<rand>".
func ownerPid(name string) int {
	for _, part := range strings.Split(name, "-") {
		if pid, err := strconv.Atoi(part); err == nil && pid > 0 {
			return pid
		}
	}
	return 0
}

func processAlive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

// tempDir is a directory under tmp/ that this process owns: it holds an
// exclusive flock on it until release.
type tempDir struct {
	path string
	f    *os.File
}

func (s *Store) newTempDir(kind string) (*tempDir, error) {
	p, err := os.MkdirTemp(s.path(dirTmp), fmt.Sprintf("%s-%d-", kind, os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("create temporary dir: %w", err)
	}
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		os.RemoveAll(p)
		return nil, fmt.Errorf("open temporary dir: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		os.RemoveAll(p)
		return nil, fmt.Errorf("lock temporary dir: %w", err)
	}
	return &tempDir{path: p, f: f}, nil
}

// remove deletes the directory (whatever is left in it) and drops the lock.
func (t *tempDir) remove() {
	if t == nil || t.f == nil {
		return
	}
	os.RemoveAll(t.path)
	t.f.Close()
	t.f = nil
}

// release drops the lock of a directory that has been renamed away.
func (t *tempDir) release() {
	if t == nil || t.f == nil {
		return
	}
	t.f.Close()
	t.f = nil
}

// lockShared takes the gc lock shared: while held, garbage collection does
// not delete blobs or snapshots. Every operation that writes blobs before
// an index record references them, or that reads blobs, holds it.
func (s *Store) lockShared() (unlock func(), err error) {
	l := flock.New(s.path(fileGCLock))
	if err := l.RLock(); err != nil {
		return nil, fmt.Errorf("lock image store: %w", err)
	}
	return func() { l.Unlock() }, nil
}
