package containers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"berth/internal/check"
)

// monitorGrace is how long Check gives the monitor of a container that was
// just removed to finish: `rm -f` removes the record once the monitor has
// recorded the exit, and the monitor exits a moment later.
var monitorGrace = 5 * time.Second

// checkMonitors finds monitors of containers that are gone: a monitor
// holds its container's monitor.lock open for its whole life, so a process
// with that file open in a removed (".rm-") or deleted directory is one.
// Those still running after monitorGrace are a problem; a repair kills
// them (their container's processes die with them) and removes their
// cgroups.
func (s *Store) checkMonitors(ctx context.Context, r *check.Report, repair bool) error {
	orphans := s.orphanMonitors()
	deadline := time.Now().Add(monitorGrace)
	for len(orphans) > 0 && time.Now().Before(deadline) {
		for pid := range orphans {
			if _, ok := s.goneMonitor(pid); !ok {
				delete(orphans, pid)
			}
		}
		if len(orphans) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	for pid, id := range orphans {
		f := check.Problemf(fmt.Sprintf("monitor pid %d", pid), "still runs for container %s, which is gone", ShortID(id))
		if repair && unix.Kill(pid, unix.SIGKILL) == nil {
			s.waitGone(pid, monitorGrace)
			dropCgroup(id)
			f.Repaired = "killed"
		}
		r.Add(f)
	}
	return nil
}

// orphanMonitors maps the pid of each process that holds the monitor lock
// of a container that is gone to that container's ID. Without the right
// to look at other processes' files it finds nothing.
func (s *Store) orphanMonitors() map[int]string {
	out := map[int]string{}
	for _, pid := range flockHolders() {
		if pid == os.Getpid() {
			continue
		}
		if id, ok := s.goneMonitor(pid); ok {
			out[pid] = id
		}
	}
	return out
}

// flockHolders lists the processes that hold a flock, as /proc/locks
// tells (a monitor holds its lock for its whole life): looking at their
// open files only is much cheaper than looking at every process's. If
// /proc/locks cannot be read, it lists every process.
func flockHolders() []int {
	var pids []int
	if data, err := os.ReadFile("/proc/locks"); err == nil {
		seen := map[int]bool{}
		for _, line := range strings.Split(string(data), "\n") {
			// "1: FLOCK  ADVISORY  WRITE 14611 fe:00:803457 0 EOF"; waiters
			// have "->" after the number.
			f := strings.Fields(line)
			if len(f) < 5 || f[1] != "FLOCK" {
				continue
			}
			if pid, err := strconv.Atoi(f[4]); err == nil && pid > 0 && !seen[pid] {
				seen[pid] = true
				pids = append(pids, pid)
			}
		}
		return pids
	}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		if pid, err := strconv.Atoi(p.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// goneMonitor reports whether process pid holds the monitor lock of a
// container that is gone, and which. A process that has exited (a zombie
// included) holds nothing.
func (s *Store) goneMonitor(pid int) (string, bool) {
	fdDir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	fds, err := os.ReadDir(fdDir)
	if err != nil {
		return "", false
	}
	prefix := s.dir + "/"
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
		if err != nil || !strings.HasPrefix(target, prefix) {
			continue
		}
		if id, gone := s.goneLock(strings.TrimPrefix(target, prefix)); gone {
			return id, true
		}
	}
	return "", false
}

// goneLock reports whether rel, an open file's path relative to the store
// as /proc shows it, is the monitor lock of a container that is gone.
func (s *Store) goneLock(rel string) (id string, gone bool) {
	rel, deleted := strings.CutSuffix(rel, " (deleted)")
	dir, file := filepath.Split(rel)
	if file != "monitor.lock" {
		return "", false
	}
	dir = strings.TrimSuffix(dir, "/")
	if strings.Contains(dir, "/") {
		return "", false
	}
	if id, ok := strings.CutPrefix(dir, ".rm-"); ok {
		return id, true
	}
	if deleted {
		return dir, true
	}
	if _, err := os.Lstat(filepath.Join(s.dir, dir, "config.json")); os.IsNotExist(err) {
		// Its directory or its record is gone (this runs after a look at
		// the directory, so a create is not in progress under this name).
		return dir, true
	}
	return "", false
}

// waitGone waits up to d for the monitor pid to let go of its lock.
func (s *Store) waitGone(pid int, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if _, ok := s.goneMonitor(pid); !ok {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
