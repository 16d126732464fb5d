// Package events is berth's engine event log: what `berth events` shows and
// what the terminal UI listens to. There is no daemon to broadcast events,
// so every berth process that changes something (a CLI, the UI, the
// monitor of each running container) appends to one shared file under the
// state root, and readers follow that file.
//
// # On disk
//
// <root>/events.log holds one JSON object per line, in Docker's event
// shape. A writer appends a whole line with a single write(2) on a file
// opened with O_APPEND: on a local filesystem (ext4, xfs, btrfs, tmpfs) the
// kernel serialises appends to one file, so lines from concurrent writers
// never interleave. Lines are kept well under the page size in practice;
// Emit refuses events whose line exceeds MaxLineSize. This is not true of
// network filesystems (NFS appends are not atomic): keep the state root
// local.
//
// The log is bounded: a writer that finds it larger than MaxSize after its
// append renames it to events.log.1 (replacing the previous one), so at
// most about 2×MaxSize of history is kept. The next writer creates a fresh
// events.log.
//
// # Locking
//
// <root>/events.lock orders appends against rotation: writers hold it
// shared (flock LOCK_SH) around open+write, the rotating writer holds it
// exclusive for the rename only. So once a reader sees that events.log was
// renamed, no further line can land in the renamed file, and a follower can
// finish it and move on without losing anything. Neither side ever waits
// long: rotation is try-lock (if the lock is busy, a later writer rotates),
// and a writer that cannot get its shared lock within lockWait appends
// anyway.
package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// Event types, as Docker names them.
const (
	TypeContainer = "container"
	TypeImage     = "image"
	TypeVolume    = "volume"
	TypeNetwork   = "network"
)

// Event is one thing that happened, in the shape of Docker's
// events.Message (without the fields Docker keeps only for old clients).
type Event struct {
	Type     string
	Action   string
	Actor    Actor
	Time     int64 `json:"time"`     // Unix seconds
	TimeNano int64 `json:"timeNano"` // Unix nanoseconds
}

// Actor is what an event happened to: a container, an image, ... by full
// ID, with attributes such as name, image, exitCode, signal and the
// container's labels.
type Actor struct {
	ID         string
	Attributes map[string]string
}

// When is the event's time.
func (e Event) When() time.Time {
	if e.TimeNano != 0 {
		return time.Unix(0, e.TimeNano)
	}
	return time.Unix(e.Time, 0)
}

// File names under the state root.
const (
	LogName  = "events.log"
	LockName = "events.lock"
)

// MaxSize is the size past which the log is rotated.
const MaxSize = 8 << 20

// MaxLineSize bounds one encoded event. Appends this small are written by
// the kernel in one piece.
const MaxLineSize = 64 << 10

// ErrTooLarge is returned by Emit for an event whose line would exceed
// MaxLineSize.
var ErrTooLarge = errors.New("events: event too large")

// lockWait is how long a writer tries for its shared lock before it
// appends without it.
const lockWait = 200 * time.Millisecond

// Log is the event log of one state root. Its zero value is not usable;
// Open makes one. A Log holds no open files: any number of Log values,
// in any number of processes, may use the same root at once.
type Log struct {
	path     string
	lockPath string
	maxSize  int64
	pollOnly bool   // follow by polling, without inotify (tests)
	onFollow func() // called when Read starts to follow (tests)
}

// Open returns the event log under root. It does no I/O; the files are
// created by the first Emit.
func Open(root string) *Log {
	return &Log{
		path:     filepath.Join(root, LogName),
		lockPath: filepath.Join(root, LockName),
		maxSize:  MaxSize,
	}
}

// Path is the current log file.
func (l *Log) Path() string { return l.path }

// rotatedPath is where the previous log file is kept.
func (l *Log) rotatedPath() string { return l.path + ".1" }

// Emit appends e to the log. A zero Time or TimeNano is filled in (from the
// other, or from the clock). Emit does not block for long: at worst it
// waits lockWait for a rotation in another process. Callers that must not
// fail because of events may ignore the error.
func (l *Log) Emit(e Event) error {
	switch {
	case e.TimeNano == 0 && e.Time == 0:
		e.TimeNano = time.Now().UnixNano()
		e.Time = e.TimeNano / int64(time.Second)
	case e.TimeNano == 0:
		e.TimeNano = e.Time * int64(time.Second)
	case e.Time == 0:
		e.Time = e.TimeNano / int64(time.Second)
	}
	if e.Actor.Attributes == nil {
		e.Actor.Attributes = map[string]string{} // Docker always sends {}
	}
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("events: encode: %w", err)
	}
	line = append(line, '\n')
	if len(line) > MaxLineSize {
		return fmt.Errorf("%w: %s %s %s is %d bytes", ErrTooLarge, e.Type, e.Action, e.Actor.ID, len(line))
	}

	lockFd := l.lockShared()
	if lockFd >= 0 {
		defer unix.Close(lockFd)
	}
	size, err := l.appendLine(line)
	if err != nil {
		return err
	}
	if size > l.maxSize && lockFd >= 0 {
		l.rotate(lockFd)
	}
	return nil
}

// appendLine writes line at the end of the log in one write(2) and returns
// the file's size after it.
func (l *Log) appendLine(line []byte) (int64, error) {
	fd, err := openRetry(l.path, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return 0, fmt.Errorf("events: open %s: %w", l.path, err)
	}
	defer unix.Close(fd)
	var n int
	for {
		n, err = unix.Write(fd, line)
		if err != unix.EINTR {
			break
		}
	}
	if err == nil && n < len(line) {
		// Only a full disk or a file size limit cuts a regular-file write
		// short. End the broken line so that the next writer's line
		// stays readable; readers skip the broken one.
		_, _ = unix.Write(fd, []byte{'\n'})
		err = unix.ENOSPC
	}
	if err != nil {
		return 0, fmt.Errorf("events: append to %s: %w", l.path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, nil // the event is written; only rotation is skipped
	}
	return st.Size, nil
}

// lockShared opens the lock file and takes it shared, trying for up to
// lockWait. It returns the descriptor (closing it unlocks), or -1 when
// there is no lock file to take or it stayed busy; the caller then goes
// on without it.
func (l *Log) lockShared() int {
	fd, err := openRetry(l.lockPath, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return -1
	}
	deadline := time.Now().Add(lockWait)
	for {
		err := unix.Flock(fd, unix.LOCK_SH|unix.LOCK_NB)
		if err == nil {
			return fd
		}
		if err != unix.EWOULDBLOCK && err != unix.EINTR || time.Now().After(deadline) {
			unix.Close(fd)
			return -1
		}
		time.Sleep(time.Millisecond)
	}
}

// rotate renames the log to events.log.1 if it is still too large, holding
// the lock exclusive. fd holds the lock shared; converting it to exclusive
// drops the shared lock first (flock(2)), so the try can fail, and then
// another writer rotates later.
func (l *Log) rotate(fd int) {
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return
	}
	var st unix.Stat_t
	if err := unix.Stat(l.path, &st); err != nil || st.Size <= l.maxSize {
		return // another writer rotated it first
	}
	_ = unix.Rename(l.path, l.rotatedPath())
}

// openRetry is open(2), retried on EINTR.
func openRetry(path string, flags int, mode uint32) (int, error) {
	for {
		fd, err := unix.Open(path, flags, mode)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// sameFile reports whether two stats are of the same file.
func sameFile(a, b os.FileInfo) bool { return a != nil && b != nil && os.SameFile(a, b) }

// ContainerAttributes are the attributes Docker gives a container's
// events: its labels, then its name and image (which win over labels of
// the same key), then the extra key/value pairs (exitCode, signal,
// oldName, ...). The engine and the monitor both build them with this.
func ContainerAttributes(name, image string, labels map[string]string, extra ...string) map[string]string {
	attrs := make(map[string]string, len(labels)+2+len(extra)/2)
	for k, v := range labels {
		attrs[k] = v
	}
	attrs["name"] = name
	attrs["image"] = image
	for i := 0; i+1 < len(extra); i += 2 {
		attrs[extra[i]] = extra[i+1]
	}
	return attrs
}
