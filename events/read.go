package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// ReadOptions select what Read delivers.
type ReadOptions struct {
	// Since: deliver events at or after this time. A zero Since means the
	// whole log when not following, and only events appended from now on
	// when following (Docker's default for `docker events`). Use
	// time.Unix(0, 0) to replay everything and then follow.
	Since time.Time
	// Until: deliver events at or before this time; when following, Read
	// returns once the clock passes it. Zero: no bound.
	Until time.Time
	// Follow: after the past, wait for new events (appended by any
	// process) until ctx ends or Until passes.
	Follow bool
	// Filter selects the events delivered; the zero Filter passes all.
	Filter Filter
}

// Intervals at which a follower looks at the log: without inotify, and
// with it (as a safety net: a missed notification costs at most this).
const (
	pollInterval     = 50 * time.Millisecond
	recheckInterval  = time.Second
	readChunk        = 64 << 10
	maxPendingLength = 2 * MaxLineSize
)

// Read calls fn for each event of the log that opts select, oldest first:
// the past ones (from events.log.1, then events.log), then, with Follow, new
// ones as they are appended, following rotation. Lines that are not valid
// events (a write cut short by a full disk) are skipped. An error from fn
// ends Read and is returned; so is ctx.Err() when ctx ends first. A missing
// log is an empty one.
//
// Events are in the order they were appended, which between processes is
// the order of their times only to within the time it takes to append one.
func (l *Log) Read(ctx context.Context, opts ReadOptions, fn func(Event) error) error {
	follow := opts.Follow
	if follow && !opts.Until.IsZero() && !time.Now().Before(opts.Until) {
		follow = false // Until is past: only old events can match
	}
	replay := !opts.Since.IsZero() || !opts.Follow

	// Watch before looking, so that nothing appended after the look is
	// missed.
	var w waiter
	if follow {
		w = newWaiter(filepath.Dir(l.path), l.pollOnly)
		defer w.close()
	}
	old, cur, err := l.openFiles()
	if err != nil {
		return err
	}
	defer func() {
		old.close()
		cur.close()
	}()

	r := &reader{ctx: ctx, opts: opts, fn: fn}
	if replay {
		if old != nil && !r.before(old) {
			if err := r.drain(old); err != nil {
				return err
			}
		}
		r.reset()
		if cur != nil {
			if err := r.drain(cur); err != nil {
				return err
			}
		}
	} else if cur != nil {
		if err := cur.seekCompleteEnd(); err != nil {
			return err
		}
	}
	if !follow {
		return nil
	}
	f := &follower{reader: r, log: l, w: w, cur: cur}
	cur = nil // the follower owns it now
	if old != nil {
		f.seen = append(f.seen, old.fi)
	}
	defer f.close()
	if l.onFollow != nil {
		l.onFollow()
	}
	return f.run()
}

// Subscribe delivers new events that match f, appended by any process, on
// the returned channel until ctx ends; then the channel is closed. A slow
// receiver loses nothing: reading pauses while the channel is full (up to
// the log's bound, about 2×MaxSize of events behind).
func (l *Log) Subscribe(ctx context.Context, f Filter) <-chan Event {
	ch := make(chan Event, 64)
	started := time.Now()
	go func() {
		defer close(ch)
		opts := ReadOptions{Follow: true, Filter: f}
		for {
			err := l.Read(ctx, opts, func(e Event) error {
				select {
				case ch <- e:
				case <-ctx.Done():
					return ctx.Err()
				}
				// Where to go on from should the read fail.
				opts.Since = time.Unix(0, e.TimeNano+1)
				return nil
			})
			if ctx.Err() != nil || err == nil {
				return
			}
			// An I/O error: try again shortly, from where we were.
			if opts.Since.IsZero() {
				opts.Since = started
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(recheckInterval):
			}
		}
	}()
	return ch
}

// logFile is an open log file and the identity it had when opened.
type logFile struct {
	f  *os.File
	fi os.FileInfo
}

func (lf *logFile) close() {
	if lf != nil {
		lf.f.Close()
	}
}

// openLog opens path for reading; a missing file is (nil, nil).
func openLog(path string) (*logFile, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("events: %w", err)
	}
	return &logFile{f: f, fi: fi}, nil
}

// openFiles opens events.log.1 and events.log (either may be missing). It
// checks that no rotation happened between the two opens, which would
// pair the wrong files, and tries again if one did.
func (l *Log) openFiles() (old, cur *logFile, err error) {
	for {
		if old, err = openLog(l.rotatedPath()); err != nil {
			return nil, nil, err
		}
		if cur, err = openLog(l.path); err != nil {
			old.close()
			return nil, nil, err
		}
		fi, err := os.Stat(l.rotatedPath())
		switch {
		case err != nil && old == nil:
			return old, cur, nil
		case err == nil && old != nil && sameFile(fi, old.fi):
			return old, cur, nil
		}
		old.close()
		cur.close()
	}
}

// seekCompleteEnd moves to just past the last complete line, so that a
// line being written right now is read in full.
func (lf *logFile) seekCompleteEnd() error {
	fi, err := lf.f.Stat()
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	var block [4096]byte
	end := fi.Size()
	for end > 0 {
		n := min(int64(len(block)), end)
		b := block[:n]
		if _, err := lf.f.ReadAt(b, end-n); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("events: %w", err)
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			end = end - n + int64(i) + 1
			break
		}
		end -= n
	}
	if _, err := lf.f.Seek(end, io.SeekStart); err != nil {
		return fmt.Errorf("events: %w", err)
	}
	return nil
}

// lastEventTime returns the time of the file's last complete event.
func (lf *logFile) lastEventTime() (time.Time, bool) {
	fi, err := lf.f.Stat()
	if err != nil || fi.Size() == 0 {
		return time.Time{}, false
	}
	n := min(fi.Size(), maxPendingLength)
	b := make([]byte, n)
	if _, err := lf.f.ReadAt(b, fi.Size()-n); err != nil && !errors.Is(err, io.EOF) {
		return time.Time{}, false
	}
	b = bytes.TrimRight(b, "\n")
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	var e Event
	if json.Unmarshal(b, &e) != nil {
		return time.Time{}, false
	}
	return e.When(), true
}

// reader turns log lines into events and delivers those selected.
type reader struct {
	ctx     context.Context
	opts    ReadOptions
	fn      func(Event) error
	chunk   []byte
	pending []byte // an incomplete line carried to the next read
	discard bool   // drop bytes up to the next newline (an overlong line)
}

// before reports whether every event in lf is older than Since, so that
// it need not be read.
func (r *reader) before(lf *logFile) bool {
	if r.opts.Since.IsZero() {
		return false
	}
	t, ok := lf.lastEventTime()
	return ok && t.Before(r.opts.Since)
}

// reset forgets an incomplete line: the next bytes come from another file.
func (r *reader) reset() {
	r.pending = r.pending[:0]
	r.discard = false
}

// drain reads lf from where it is to its end and delivers the complete
// lines; an incomplete last line is kept until more is read.
func (r *reader) drain(lf *logFile) error {
	if r.chunk == nil {
		r.chunk = make([]byte, readChunk)
	}
	for {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		n, err := lf.f.Read(r.chunk)
		if n > 0 {
			if err := r.lines(r.chunk[:n]); err != nil {
				return err
			}
		}
		if err == io.EOF || (err == nil && n == 0) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("events: read %s: %w", lf.f.Name(), err)
		}
	}
}

// lines delivers the complete lines in data, joined to what was pending.
func (r *reader) lines(data []byte) error {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			if !r.discard {
				r.pending = append(r.pending, data...)
				if len(r.pending) > maxPendingLength {
					r.pending = r.pending[:0]
					r.discard = true
				}
			}
			return nil
		}
		line := data[:i]
		data = data[i+1:]
		if r.discard {
			r.discard = false
			continue
		}
		if len(r.pending) > 0 {
			r.pending = append(r.pending, line...)
			line = r.pending
		}
		err := r.deliver(line)
		r.pending = r.pending[:0]
		if err != nil {
			return err
		}
	}
	return nil
}

// deliver decodes one line and passes it to fn if it is selected.
func (r *reader) deliver(line []byte) error {
	if len(line) == 0 {
		return nil
	}
	var e Event
	if err := json.Unmarshal(line, &e); err != nil || e.Type == "" {
		return nil // not an event: skip it
	}
	t := e.When()
	if !r.opts.Since.IsZero() && t.Before(r.opts.Since) {
		return nil
	}
	if !r.opts.Until.IsZero() && t.After(r.opts.Until) {
		return nil
	}
	if !r.opts.Filter.Match(e) {
		return nil
	}
	return r.fn(e)
}

// follower reads the current log file as it grows and moves on to the new
// one when it is rotated.
type follower struct {
	*reader
	log  *Log
	w    waiter
	cur  *logFile      // nil while events.log does not exist
	seen []os.FileInfo // files already read (or skipped) in full
}

func (f *follower) close() { f.cur.close() }

func (f *follower) run() error {
	for {
		if f.cur == nil {
			if err := f.openNext(); err != nil {
				return err
			}
		}
		if f.cur != nil {
			if err := f.drain(f.cur); err != nil {
				return err
			}
			rotated, err := f.rotated()
			if err != nil {
				return err
			}
			if rotated {
				continue // read the new file at once
			}
		}
		until := f.opts.Until
		if !until.IsZero() && time.Now().After(until) {
			return nil // drained up to a moment after Until
		}
		if err := f.ctx.Err(); err != nil {
			return err
		}
		d := recheckInterval
		if f.w.polling() {
			d = pollInterval
		}
		if !until.IsZero() {
			d = min(d, time.Until(until)+time.Millisecond)
		}
		f.w.wait(f.ctx, d)
	}
}

// rotated checks whether events.log is still the file being read. If it
// was renamed away (or removed), it reads what was appended to it before,
// and leaves the follower without a current file.
func (f *follower) rotated() (bool, error) {
	fi, err := os.Stat(f.log.path)
	if err == nil && sameFile(fi, f.cur.fi) {
		return false, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("events: %w", err)
	}
	// Writers append only under the shared lock and the rename is made
	// under the exclusive one, so the old file is complete now.
	if err := f.drain(f.cur); err != nil {
		return false, err
	}
	f.remember(f.cur.fi)
	f.cur.close()
	f.cur = nil
	f.reset()
	return true, nil
}

// openNext opens the new events.log (it may not exist yet, then f.cur
// stays nil). A file that was created and rotated away since the follower
// last looked is events.log.1 now: that one is read in full first.
func (f *follower) openNext() error {
	for {
		mid, err := openLog(f.log.rotatedPath())
		if err != nil {
			return err
		}
		if mid != nil && !f.known(mid.fi) {
			err := f.drain(mid)
			f.remember(mid.fi)
			f.reset()
			if err != nil {
				mid.close()
				return err
			}
		}
		cur, err := openLog(f.log.path)
		if err != nil {
			mid.close()
			return err
		}
		// events.log.1 unchanged (or now the file just opened): nothing
		// was rotated away unseen in between.
		fi, err := os.Stat(f.log.rotatedPath())
		stable := (err != nil && mid == nil) ||
			(err == nil && mid != nil && sameFile(fi, mid.fi)) ||
			(err == nil && cur != nil && sameFile(fi, cur.fi))
		mid.close()
		if stable {
			f.cur = cur
			return nil
		}
		cur.close()
	}
}

func (f *follower) known(fi os.FileInfo) bool {
	for _, s := range f.seen {
		if sameFile(s, fi) {
			return true
		}
	}
	return false
}

func (f *follower) remember(fi os.FileInfo) {
	f.seen = append(f.seen, fi)
	if len(f.seen) > 4 {
		f.seen = f.seen[len(f.seen)-4:]
	}
}

// A waiter sleeps until the state root may have changed, at most d, or
// until ctx ends.
type waiter interface {
	wait(ctx context.Context, d time.Duration)
	polling() bool // true: no notifications, the caller must poll
	close()
}

// newWaiter watches dir with inotify, or falls back to polling when that
// is not possible (no inotify instances left, the directory missing).
func newWaiter(dir string, pollOnly bool) waiter {
	if !pollOnly {
		if w, err := newInotifyWaiter(dir); err == nil {
			return w
		}
	}
	return pollWaiter{}
}

type pollWaiter struct{}

func (pollWaiter) polling() bool { return true }
func (pollWaiter) close()        {}

func (pollWaiter) wait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(min(d, pollInterval))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// inotifyWaiter wakes on changes to the state root's own entries: an
// append to events.log, its rename, its creation. The descriptor is
// non-blocking, so the Go runtime polls it and read deadlines work.
type inotifyWaiter struct {
	f      *os.File
	buf    []byte
	broken bool
}

func newInotifyWaiter(dir string) (*inotifyWaiter, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, err
	}
	mask := uint32(unix.IN_MODIFY | unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM | unix.IN_DELETE)
	if _, err := unix.InotifyAddWatch(fd, dir, mask); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &inotifyWaiter{f: os.NewFile(uintptr(fd), "inotify"), buf: make([]byte, 4096)}, nil
}

func (w *inotifyWaiter) polling() bool { return w.broken }
func (w *inotifyWaiter) close()        { w.f.Close() }

func (w *inotifyWaiter) wait(ctx context.Context, d time.Duration) {
	if w.broken {
		pollWaiter{}.wait(ctx, d)
		return
	}
	if err := w.f.SetReadDeadline(time.Now().Add(d)); err != nil {
		w.broken = true
		pollWaiter{}.wait(ctx, d)
		return
	}
	stop := context.AfterFunc(ctx, func() { _ = w.f.SetReadDeadline(time.Now()) })
	defer stop()
	// One read takes all queued notifications (or some; the rest wake the
	// next wait at once, which only costs a look at the file).
	if _, err := w.f.Read(w.buf); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		w.broken = true
	}
}
