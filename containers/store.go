package containers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"berth/errdefs"
	"berth/internal/flock"
)

// Store keeps container records under one directory:
//
//	<dir>/.lock            serialises creates, renames and removals
//	<dir>/<id>/config.json the Container record (written once, rewritten on rename)
//	<dir>/<id>/state.json  its State
//	<dir>/<id>/monitor.lock held by the container's monitor while it lives
//	<dir>/.tmp-<pid>-<id>  a record being created (renamed into place when complete)
//	<dir>/.tmp-<pid>-<id>-<file>-<rand>  a new config.json or state.json being
//	                       written (renamed over the old one when complete)
//	<dir>/.rm-<id>         a record being removed (renamed away first, then deleted)
//
// Renames make every change atomic: a crash leaves either the old or the new
// record, and a name always belongs to a record that exists. What a crash
// leaves besides (.tmp- items of dead processes, .rm- dirs) the next
// OpenStore deletes.
type Store struct {
	dir string
}

// OpenStore opens the container store at dir, cleaning up what interrupted
// operations left.
func OpenStore(dir string) (*Store, error) { return OpenStoreWith(dir, OpenOptions{}) }

// OpenOptions tune OpenStoreWith.
type OpenOptions struct {
	// KeepLeftovers skips the clean-up of what interrupted operations
	// left, so that Check sees the store as the last process left it.
	KeepLeftovers bool
}

// OpenStoreWith is OpenStore with options.
func OpenStoreWith(dir string, opts OpenOptions) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open container store: %w", err)
	}
	s := &Store{dir: dir}
	if opts.KeepLeftovers {
		return s, nil
	}
	if err := s.cleanup(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) cleanup() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("open container store: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasPrefix(name, ".rm-"):
			_ = os.RemoveAll(filepath.Join(s.dir, name))
		case strings.HasPrefix(name, ".tmp-"):
			if pid := tmpOwner(name); pid > 0 && unix.Kill(pid, 0) == nil {
				continue // its creator still works on it
			}
			_ = os.RemoveAll(filepath.Join(s.dir, name))
		}
	}
	return nil
}

// tmpOwner is the pid in a ".tmp-<pid>-..." name, or 0.
func tmpOwner(name string) int {
	pid, _ := strconv.Atoi(strings.SplitN(strings.TrimPrefix(name, ".tmp-"), "-", 2)[0])
	return pid
}

// Dir is the directory of container id.
func (s *Store) Dir(id string) string { return filepath.Join(s.dir, id) }

// lock takes the store's exclusive lock; ctx ends the wait for it.
func (s *Store) lock(ctx context.Context) (func(), error) {
	unlock, err := flock.Lock(ctx, filepath.Join(s.dir, ".lock"), true)
	if err != nil {
		return nil, fmt.Errorf("lock container store: %w", err)
	}
	return unlock, nil
}

// NewID returns a fresh 64-hex container ID.
func NewID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

var validName = regexp.MustCompile(`^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// ValidateName checks a container name as Docker does.
func ValidateName(name string) error {
	if !validName.MatchString(name) {
		return errdefs.InvalidArgument("invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}
	return nil
}

// Create stores a new container record. prepare fills the container's
// directory (given while it is still private) before it becomes visible.
// An empty c.Name gets a generated one.
func (s *Store) Create(ctx context.Context, c *Container, prepare func(dir string) error) error {
	tmp := filepath.Join(s.dir, fmt.Sprintf(".tmp-%d-%s", os.Getpid(), c.ID))
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return fmt.Errorf("create container %s: %w", ShortID(c.ID), err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	if prepare != nil {
		if err := prepare(tmp); err != nil {
			return err
		}
	}
	if c.State.Status == "" {
		c.State.Status = StatusCreated
	}
	if err := writeJSON(filepath.Join(tmp, "state.json"), c.State); err != nil {
		return err
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	all, err := s.listLocked(ctx)
	if err != nil {
		return err
	}
	taken := map[string]bool{}
	for _, o := range all {
		taken[o.Name] = true
	}
	if c.Name == "" {
		c.Name = generateName(taken)
	} else if taken[c.Name] {
		for _, o := range all {
			if o.Name == c.Name {
				return errdefs.Conflict("the container name %q is already in use by container %q; remove (or rename) that container to be able to reuse that name", c.Name, o.ID)
			}
		}
	}
	if err := writeJSON(filepath.Join(tmp, "config.json"), c); err != nil {
		return err
	}
	if err := os.Rename(tmp, s.Dir(c.ID)); err != nil {
		return fmt.Errorf("create container %s: %w", ShortID(c.ID), err)
	}
	ok = true
	return nil
}

// List returns every container, newest first, with its state. It takes
// no lock (records change by rename): ctx is checked between records.
func (s *Store) List(ctx context.Context) ([]*Container, error) {
	return s.listLocked(ctx)
}

func (s *Store) listLocked(ctx context.Context) ([]*Container, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	out := make([]*Container, 0, len(entries))
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c, err := s.load(e.Name())
		if errors.Is(err, os.ErrNotExist) {
			continue // removed meanwhile
		}
		var bad *recordError
		if errors.As(err, &bad) {
			continue // one unreadable record must not hide the others
		}
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

func (s *Store) load(id string) (*Container, error) {
	var c Container
	path := filepath.Join(s.Dir(id), "config.json")
	if err := readJSON(path, &c); err != nil {
		return nil, err
	}
	// Paths are made from the ID, and the engine and the runtime use these
	// parts of the spec without checking: a record without them is damaged.
	if c.ID != id {
		return nil, &recordError{path, fmt.Errorf("the record is of container %q", c.ID)}
	}
	if sp := c.Spec; sp == nil || sp.Process == nil || len(sp.Process.Args) == 0 || sp.Root == nil || sp.Linux == nil {
		return nil, &recordError{path, errors.New("the record has no runtime spec, or one without process, root or linux section")}
	}
	st, err := s.LoadState(id)
	if err != nil {
		return nil, err
	}
	c.State = st
	return &c, nil
}

// Get finds a container by full ID, name, or unique ID prefix.
func (s *Store) Get(ctx context.Context, ref string) (*Container, error) {
	ref = strings.TrimPrefix(ref, "/")
	if ref == "" {
		return nil, errdefs.InvalidArgument("no container name or ID given")
	}
	if len(ref) == 64 {
		c, err := s.load(ref)
		if err == nil {
			return c, nil
		}
		var bad *recordError
		if errors.As(err, &bad) {
			return nil, err // List leaves it out: say what is wrong with it
		}
	}
	all, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range all {
		if c.Name == ref {
			return c, nil
		}
	}
	var match *Container
	for _, c := range all {
		if strings.HasPrefix(c.ID, ref) {
			if match != nil {
				return nil, errdefs.Ambiguous("multiple containers match the ID prefix %q", ref)
			}
			match = c
		}
	}
	if match == nil {
		return nil, errdefs.NotFound("No such container: %s", ref)
	}
	return match, nil
}

// LoadState reads a container's state, correcting it when its monitor has
// died without recording an exit (kill -9): such a container is exited.
func (s *Store) LoadState(id string) (State, error) {
	var st State
	if err := readJSON(filepath.Join(s.Dir(id), "state.json"), &st); err != nil {
		return st, err
	}
	if st.Active() && !s.MonitorAlive(id) {
		// Re-read: the monitor may have recorded the exit just now.
		if err := readJSON(filepath.Join(s.Dir(id), "state.json"), &st); err != nil {
			return st, err
		}
		if st.Active() {
			monitorGone(&st)
		}
	}
	return st, nil
}

// monitorGone turns the state of a container whose monitor died without
// recording an exit (kill -9, a reboot) into the exit it was: its
// processes died with the monitor.
func monitorGone(st *State) {
	st.Status, st.Running, st.Paused, st.Restarting = StatusExited, false, false, false
	st.Pid, st.MonitorPid = 0, 0
	if st.ExitCode == 0 {
		st.ExitCode = 137
	}
	st.Error = "container monitor exited unexpectedly"
	if st.FinishedAt.IsZero() {
		st.FinishedAt = time.Now().UTC()
	}
}

// SettleState writes down, for a container whose monitor died without
// recording an exit, the exit LoadState reports for it, so that the
// record stops saying it runs; settled says it did. alive says a monitor
// holds the container (then nothing changes: the monitor is the one
// writer of its state).
func (s *Store) SettleState(ctx context.Context, id string) (st State, alive, settled bool, err error) {
	st, err = s.UpdateState(ctx, id, func(st *State) {
		if alive = s.MonitorAlive(id); !alive && st.Active() {
			monitorGone(st)
			settled = true
		}
	})
	return st, alive, settled, err
}

// LockStart serialises the starts of container id: a start holds it from
// its look at the state until the container runs (or failed to), so that
// two starts at once start it once.
func (s *Store) LockStart(ctx context.Context, id string) (unlock func(), err error) {
	unlock, err = flock.Lock(ctx, filepath.Join(s.Dir(id), "start.lock"), true)
	if errors.Is(err, unix.ENOENT) {
		return nil, errdefs.NotFound("No such container: %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("lock the start of %s: %w", ShortID(id), err)
	}
	return unlock, nil
}

// SaveState records a container's state atomically.
func (s *Store) SaveState(id string, st State) error {
	return writeJSON(filepath.Join(s.Dir(id), "state.json"), st)
}

// UpdateState changes a container's state under its state lock, so that
// the monitor and commands (pause, stop) never lose each other's writes.
// ctx ends the wait for the lock.
func (s *Store) UpdateState(ctx context.Context, id string, change func(*State)) (State, error) {
	fd, err := unix.Open(filepath.Join(s.Dir(id), "state.lock"), unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return State{}, errdefs.NotFound("No such container: %s", id)
		}
		return State{}, fmt.Errorf("lock state of %s: %w", ShortID(id), err)
	}
	defer unix.Close(fd)
	if err := flock.Wait(ctx, fd, unix.LOCK_EX); err != nil {
		return State{}, fmt.Errorf("lock state of %s: %w", ShortID(id), err)
	}
	var st State
	if err := readJSON(filepath.Join(s.Dir(id), "state.json"), &st); err != nil {
		return st, err
	}
	change(&st)
	return st, s.SaveState(id, st)
}

// MonitorLockPath is the file a container's monitor holds locked while it lives.
func (s *Store) MonitorLockPath(id string) string {
	return filepath.Join(s.Dir(id), "monitor.lock")
}

// MonitorAlive reports whether a monitor holds the container's monitor lock.
func (s *Store) MonitorAlive(id string) bool {
	fd, err := unix.Open(s.MonitorLockPath(id), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	if err := unix.Flock(fd, unix.LOCK_SH|unix.LOCK_NB); err != nil {
		return true
	}
	return false
}

// Rename gives a container a new name.
func (s *Store) Rename(ctx context.Context, ref, name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	name = strings.TrimPrefix(name, "/")
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	c, err := s.Get(ctx, ref)
	if err != nil {
		return err
	}
	if c.Name == name {
		return errdefs.InvalidArgument("renaming a container with the same name as its current name")
	}
	all, err := s.listLocked(ctx)
	if err != nil {
		return err
	}
	for _, o := range all {
		if o.Name == name {
			return errdefs.Conflict("the container name %q is already in use by container %q", name, o.ID)
		}
	}
	c.Name = name
	return writeJSON(filepath.Join(s.Dir(c.ID), "config.json"), c)
}

// UpdateConfig changes a container's record under the store lock.
func (s *Store) UpdateConfig(ctx context.Context, ref string, change func(*Container) error) (*Container, error) {
	unlock, err := s.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	c, err := s.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	if err := change(c); err != nil {
		return nil, err
	}
	return c, writeJSON(filepath.Join(s.Dir(c.ID), "config.json"), c)
}

// Remove deletes a container's record and directory. The caller has made
// sure nothing runs in it.
func (s *Store) Remove(ctx context.Context, id string) error {
	purge, err := s.Unlink(ctx, id)
	if err != nil {
		return err
	}
	return purge()
}

// Unlink makes a container disappear at once (its name is free when it
// returns) and gives the function that deletes its files, which may run
// later: what it leaves behind after a crash, the next OpenStore deletes.
func (s *Store) Unlink(ctx context.Context, id string) (purge func() error, err error) {
	unlock, err := s.lock(ctx)
	if err != nil {
		return nil, err
	}
	gone := filepath.Join(s.dir, ".rm-"+id)
	err = os.Rename(s.Dir(id), gone)
	unlock()
	if errors.Is(err, os.ErrNotExist) {
		return nil, errdefs.NotFound("No such container: %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("remove container %s: %w", ShortID(id), err)
	}
	return func() error {
		if err := os.RemoveAll(gone); err != nil {
			return fmt.Errorf("remove container %s: %w", ShortID(id), err)
		}
		return nil
	}, nil
}

// writeJSON writes v to path, a file in a container's directory,
// atomically (temp file + rename). The temp file is a ".tmp-<pid>-" item
// of the store's own directory, so that OpenStore deletes it if we die
// before the rename: left in the container's directory, it would stay
// there for the container's life. No fsync: rename on the same filesystem
// is atomic, and a container record lost in a power cut is not worth a
// disk flush on every start.
func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(filepath.Dir(dir), fmt.Sprintf(".tmp-%d-%s-%s-*", os.Getpid(), strings.TrimPrefix(filepath.Base(dir), ".tmp-"), filepath.Base(path)))
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return &recordError{path, err}
	}
	return nil
}

// recordError is a record or state file whose content cannot be used.
type recordError struct {
	path string
	err  error
}

func (e *recordError) Error() string { return fmt.Sprintf("read %s: %v", e.path, e.err) }
func (e *recordError) Unwrap() error { return e.err }
