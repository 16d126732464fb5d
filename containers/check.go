package containers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"berth/containers/cgroups"
	"berth/containers/etcfiles"
	"berth/internal/check"
)

// What a crash may leave in the container store, and how Check classifies
// it:
//
//   - .tmp- items of dead processes (a container being created, a record
//     being rewritten), .rm- dirs (a removal that did not finish), old-style
//     "<file>.<pid>.tmp" files in a container's directory, and the cgroup
//     of a container whose monitor is gone: Harmless (OpenStore deletes
//     the first two; the rest go with the container);
//   - a container recorded as running, paused or restarting whose monitor
//     is gone: Harmless (LoadState reads it as exited, with 137);
//   - a directory whose record (config.json) or state (state.json) cannot
//     be read, a missing rootfs, upper or work dir or bind-mount source,
//     processes still running in the cgroup of a container without a
//     monitor, and a monitor still running for a container that is gone:
//     Problem.

// CheckOptions tune Check.
type CheckOptions struct {
	// Repair removes the harmless leftovers, directories without a
	// readable record, and processes of containers that are gone; resets
	// an unreadable state to exited; records the exit of containers whose
	// monitor died; recreates missing dirs and /etc files. Each container
	// is repaired while holding its monitor lock, so no monitor runs or
	// starts meanwhile; one whose monitor is alive is left alone.
	Repair bool
}

// CheckResult is what Check found, with the records it could read: the
// engine checks what those refer to (images and snapshots).
type CheckResult struct {
	check.Report
	Records []*Container
}

// Check verifies the container store.
func (s *Store) Check(ctx context.Context, opts CheckOptions) (*CheckResult, error) {
	res := &CheckResult{}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("check container store: %w", err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		name := e.Name()
		switch {
		case name == ".lock":
		case strings.HasPrefix(name, ".tmp-"):
			s.checkTmp(&res.Report, name, e.IsDir(), opts.Repair)
		case strings.HasPrefix(name, ".rm-"):
			s.checkRemoved(&res.Report, strings.TrimPrefix(name, ".rm-"), opts.Repair)
		case e.IsDir():
			if c := s.checkContainer(ctx, &res.Report, name, opts.Repair); c != nil {
				res.Records = append(res.Records, c)
			}
		}
	}
	res.Count("container", len(res.Records))
	if err := s.checkNames(ctx, &res.Report, res.Records); err != nil {
		return res, err
	}
	if err := s.checkMonitors(ctx, &res.Report, opts.Repair); err != nil {
		return res, err
	}
	return res, nil
}

// checkNames reports a name that two containers have: creates and
// renames hold the store lock, so none should. The records were read one
// by one, so a rename may have moved a name meanwhile: duplicates are
// read again under the store lock before they count.
func (s *Store) checkNames(ctx context.Context, r *check.Report, recs []*Container) error {
	dups := func(recs []*Container) map[string][]string {
		byName := map[string][]string{}
		for _, c := range recs {
			byName[c.Name] = append(byName[c.Name], c.ID)
		}
		for name, ids := range byName {
			if len(ids) < 2 {
				delete(byName, name)
			}
		}
		return byName
	}
	suspects := dups(recs)
	if len(suspects) == 0 {
		return nil
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	var again []*Container
	for _, ids := range suspects {
		for _, id := range ids {
			var c Container
			if readJSON(filepath.Join(s.Dir(id), "config.json"), &c) == nil {
				again = append(again, &c)
			}
		}
	}
	for name, ids := range dups(again) {
		short := make([]string, len(ids))
		for i, id := range ids {
			short[i] = ShortID(id)
		}
		r.Add(check.Problemf("name "+name, "is the name of %d containers: %s (rename all but one)", len(ids), strings.Join(short, ", ")))
	}
	return nil
}

func (s *Store) checkTmp(r *check.Report, name string, isDir, repair bool) {
	pid := tmpOwner(name)
	if pid > 0 && processAlive(pid) {
		return // its writer is at work
	}
	what := "a record being written"
	if isDir {
		what = "a container being created"
	}
	p := filepath.Join(s.dir, name)
	f := check.Harmlessf(p, "%s by a process that is gone (pid %d)", what, pid)
	if repair && os.RemoveAll(p) == nil {
		f.Repaired = "removed"
	}
	r.Add(f)
}

// checkRemoved reports what a removal left: the container is gone for
// everyone, its files are not.
func (s *Store) checkRemoved(r *check.Report, id string, repair bool) {
	p := filepath.Join(s.dir, ".rm-"+id)
	f := check.Harmlessf(p, "the files of removed container %s, not all deleted yet", ShortID(id))
	if repair {
		// Its monitor may be finishing: then it is no leftover yet.
		if unlock, ok := lockFile(filepath.Join(p, "monitor.lock"), false); ok {
			dropCgroup(id)
			if os.RemoveAll(p) == nil {
				f.Repaired = "removed"
			}
			unlock()
		}
	}
	r.Add(f)
}

// checkContainer checks one container directory and returns its record
// if it could be read.
func (s *Store) checkContainer(ctx context.Context, r *check.Report, id string, repair bool) *Container {
	dir := s.Dir(id)
	var c Container
	if err := readJSON(filepath.Join(dir, "config.json"), &c); err != nil {
		if _, serr := os.Lstat(dir); errors.Is(serr, fs.ErrNotExist) {
			return nil // removed meanwhile
		}
		f := check.Problemf(dir, "a container directory without a readable record: %v", err)
		// Only a record that is not there or not JSON makes an orphan:
		// records are replaced by rename, never seen half-written.
		var syntax *json.SyntaxError
		orphan := errors.Is(err, fs.ErrNotExist) || errors.As(err, &syntax) || errors.Is(err, io.ErrUnexpectedEOF)
		if repair && orphan {
			f.Repaired = s.removeOrphan(ctx, id)
		}
		r.Add(f)
		return nil
	}
	object := fmt.Sprintf("container %s (%s)", ShortID(id), c.Name)
	if c.ID != id {
		r.Add(check.Problemf(object, "its record in %s names container %s", dir, c.ID))
		return nil
	}
	// A container removed while we look loses its files one by one: what
	// is found missing counts only if the container is still there after.
	var mine check.Report
	s.checkState(ctx, &mine, object, &c, repair)
	s.checkFiles(&mine, object, &c, repair)
	s.checkCgroup(&mine, object, &c, repair)
	if _, err := os.Lstat(filepath.Join(dir, "config.json")); errors.Is(err, fs.ErrNotExist) {
		return nil // removed meanwhile
	}
	r.Merge(mine)
	return &c
}

// removeOrphan removes a directory that is no container, unless a monitor
// holds its lock; it returns what it did ("" for nothing).
func (s *Store) removeOrphan(ctx context.Context, id string) string {
	unlock, ok := lockFile(s.MonitorLockPath(id), true)
	if !ok {
		return ""
	}
	defer unlock()
	purge, err := s.Unlink(ctx, id)
	if err != nil {
		return ""
	}
	dropCgroup(id)
	if purge() != nil {
		return ""
	}
	return "removed"
}

// checkState reads the state file as stored (LoadState corrects it) and
// reports one that cannot be read or that a dead monitor left running.
func (s *Store) checkState(ctx context.Context, r *check.Report, object string, c *Container, repair bool) {
	p := filepath.Join(s.Dir(c.ID), "state.json")
	var st State
	if err := readJSON(p, &st); err != nil {
		f := check.Problemf(object, "its state cannot be read: %v", err)
		if repair {
			if unlock, ok := lockFile(s.MonitorLockPath(c.ID), true); ok {
				lost := State{Status: StatusExited, ExitCode: 255, FinishedAt: time.Now().UTC(),
					Error: "the state file was unreadable; reset by berth system check --repair"}
				if s.SaveState(c.ID, lost) == nil {
					c.State = lost
					f.Repaired = "reset to exited"
				}
				unlock()
			}
		}
		r.Add(f)
		return
	}
	c.State = st
	if !st.Active() || s.MonitorAlive(c.ID) {
		return
	}
	// Re-read: the monitor may have recorded the exit just before it went.
	if readJSON(p, &st) != nil || !st.Active() {
		c.State = st
		return
	}
	f := check.Harmlessf(object, "recorded as %s, but its monitor (pid %d) is gone: it died without recording an exit", st.String(), st.MonitorPid)
	if repair {
		if unlock, ok := lockFile(s.MonitorLockPath(c.ID), true); ok {
			if st, err := s.UpdateState(ctx, c.ID, func(st *State) {
				if st.Active() {
					monitorGone(st)
				}
			}); err == nil {
				c.State = st
				f.Repaired = "marked exited"
			}
			unlock()
		}
	}
	r.Add(f)
}

// checkFiles checks the directories and bind-mount sources a container
// needs to start, and temp files an older berth left in its directory.
func (s *Store) checkFiles(r *check.Report, object string, c *Container, repair bool) {
	dir := s.Dir(c.ID)
	var missing []string
	for _, d := range []string{"rootfs", "upper", "work"} {
		if st, err := os.Stat(filepath.Join(dir, d)); err != nil || !st.IsDir() {
			missing = append(missing, d)
		}
	}
	if c.Spec == nil {
		r.Add(check.Problemf(object, "its record has no runtime spec"))
	} else {
		for _, m := range c.Spec.Mounts {
			if m.Type == "bind" && filepath.Dir(m.Source) == dir {
				if _, err := os.Lstat(m.Source); err != nil {
					missing = append(missing, filepath.Base(m.Source))
				}
			}
		}
	}
	if len(missing) > 0 {
		f := check.Problemf(object, "missing from its directory: %s", strings.Join(missing, ", "))
		if repair {
			f.Repaired = s.recreate(c, missing)
		}
		r.Add(f)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".tmp") {
			continue
		}
		// "state.json.<pid>.tmp", as writeJSON named them before, and
		// "view-work-<random>.<pid>.tmp", the work dir of a read-only
		// view of a deep root while it mounts (rootfs.Mount).
		parts := strings.Split(name, ".")
		pid, _ := strconv.Atoi(parts[max(0, len(parts)-2)])
		if pid > 0 && processAlive(pid) {
			continue
		}
		p := filepath.Join(dir, name)
		f := check.Harmlessf(p, "a record being written by a process that is gone")
		if e.IsDir() {
			f = check.Harmlessf(p, "the work dir of a view of the container's files, by a process that is gone")
		}
		if repair && os.RemoveAll(p) == nil {
			f.Repaired = "removed"
		}
		r.Add(f)
	}
}

// recreate makes missing dirs and /etc files again, while no monitor
// runs. An upper dir made again is empty: the container's changes are
// lost already.
func (s *Store) recreate(c *Container, missing []string) string {
	unlock, ok := lockFile(s.MonitorLockPath(c.ID), true)
	if !ok {
		return ""
	}
	defer unlock()
	dir := s.Dir(c.ID)
	for _, m := range missing {
		p := filepath.Join(dir, m)
		var err error
		switch {
		case m == "rootfs" || m == "upper" || m == "work":
			_ = os.RemoveAll(p) // not a directory
			err = os.Mkdir(p, 0o755)
		case etcfiles.Has(m):
			err = etcfiles.Write(dir, etcfiles.Options{Hostname: c.Config.Hostname, HostNetwork: c.HostConfig.NetworkMode == "host"}, m)
		default:
			err = errors.New("not berth's to make")
		}
		if err != nil {
			return ""
		}
	}
	return "made again"
}

// checkCgroup reports the cgroup of a container whose monitor is gone:
// empty, a leftover; with processes, processes nobody watches.
func (s *Store) checkCgroup(r *check.Report, object string, c *Container, repair bool) {
	if c.Spec == nil || c.Spec.Linux == nil || c.Spec.Linux.CgroupsPath == "" || s.MonitorAlive(c.ID) {
		return
	}
	if f, ok := CheckCgroup(object, c.Spec.Linux.CgroupsPath, "its monitor is gone"); ok {
		if repair {
			if unlock, ok := lockFile(s.MonitorLockPath(c.ID), true); ok {
				f.Repaired = RemoveCgroup(c.Spec.Linux.CgroupsPath)
				unlock()
			}
		}
		r.Add(f)
	}
}

// CheckCgroup looks for the cgroup at path of a container that nothing
// watches any more (why says why): ok is false when there is none. An
// empty one is a harmless leftover; processes in it are a problem.
func CheckCgroup(object, path, why string) (check.Finding, bool) {
	pids, err := cgroups.Load(path).Procs()
	if err != nil {
		return check.Finding{}, false // none (or no cgroups here)
	}
	if len(pids) == 0 {
		return check.Harmlessf(object, "its cgroup %s is left over (%s)", path, why), true
	}
	return check.Problemf(object, "processes %v still run in its cgroup %s, and %s", pids, path, why), true
}

// RemoveCgroup kills what runs in the cgroup at path and removes it; it
// returns what it did ("" when it could not).
func RemoveCgroup(path string) string {
	cg := cgroups.Load(path)
	pids, _ := cg.Procs()
	for _, pid := range pids {
		if pid > 0 {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}
	if cg.Delete() != nil {
		return ""
	}
	if len(pids) > 0 {
		return "processes killed, cgroup removed"
	}
	return "cgroup removed"
}

func dropCgroup(id string) { _ = cgroups.Load(cgroups.Path(id)).Delete() }

// lockFile takes an exclusive flock on p without waiting: ok is false
// when someone holds it. With create, p is made if missing (and ok is
// false if it cannot be); without, a missing p is held by nobody.
func lockFile(p string, create bool) (unlock func(), ok bool) {
	flags := unix.O_RDWR | unix.O_CLOEXEC
	if create {
		flags |= unix.O_CREAT
	}
	fd, err := unix.Open(p, flags, 0o600)
	if !create && errors.Is(err, unix.ENOENT) {
		return func() {}, true
	}
	if err != nil {
		return nil, false
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		unix.Close(fd)
		return nil, false
	}
	return func() { unix.Close(fd) }, true
}

func processAlive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}
