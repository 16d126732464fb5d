package logfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"berth/errdefs"
)

// Entry is one line of output, or a piece of one.
type Entry struct {
	Stream string    // "stdout" or "stderr"
	Time   time.Time // time of the chunk the line came from
	// Line is the content of one output line, including its trailing '\n'
	// when it has one. It is only valid during the call to the callback:
	// copy it to keep it.
	Line []byte
}

// ReadOptions select what Read delivers.
type ReadOptions struct {
	// Tail < 0 reads everything; Tail N >= 0 only the last N lines (of
	// those within Since/Until). A line is counted as it is delivered: a
	// sequence of Entries of which only the last ends with '\n' (or is the
	// last output of all) is one line, even if it came in several chunks.
	Tail int
	// Since and Until bound the entry time (both inclusive); zero values
	// mean unbounded.
	Since, Until time.Time
	// Follow keeps reading new entries after the end is reached, until
	// ctx is cancelled, Done reports true, or (when Until is set) the
	// clock passes Until. Rotation is followed: the old file is read to
	// its end, then the newer ones.
	Follow bool
	// Done, for Follow, reports that no more output will come: the
	// container has stopped and its Writer has been closed. Read then
	// delivers what is left and returns nil.
	Done func() bool
}

// readBufSize is the size of the forward reader's buffer; it grows for
// longer lines.
const (
	readBufSize     = 1 << 20
	tailReadBufSize = 128 << 10
)

// Poll intervals while following: short right after data arrived, backing
// off while the log is idle.
const (
	pollMin = 10 * time.Millisecond
	pollMax = 100 * time.Millisecond
)

// Read reads the log at path and its rotated files, oldest first
// (path.N ... path.1, path), and calls fn for each line (chunks are split on
// '\n'; a line that spans two chunks arrives as two Entries, each with the
// time of its chunk). The Entry passed to fn, and its Line, are only valid
// during the call.
//
// An incomplete last line (the writer died mid-write, or is writing it right
// now) is skipped; lines that cannot be decoded are skipped as well. An error
// from fn stops the read and is returned. When Follow is set, cancelling ctx
// ends the read with ctx.Err().
//
// A missing log is reported as errdefs.ErrNotFound (and fs.ErrNotExist).
func Read(ctx context.Context, path string, opts ReadOptions, fn func(Entry) error) error {
	if opts.Tail == 0 && !opts.Follow {
		if _, err := os.Stat(path); err != nil && errors.Is(err, fs.ErrNotExist) {
			if _, err1 := os.Stat(rotatedName(path, 1)); err1 != nil {
				return notFound(path, err)
			}
		}
		return nil
	}
	files, err := openLogFiles(path)
	if err != nil {
		return err
	}
	defer func() {
		for _, f := range files {
			if f != nil {
				f.f.Close()
			}
		}
	}()

	rd := &reader{ctx: ctx, path: path, opts: opts, fn: fn}
	var start tailPos
	switch {
	case opts.Tail == 0:
		last := len(files) - 1
		end, err := completeEnd(files[last].f)
		if err != nil {
			return err
		}
		start = tailPos{file: last, off: end}
	case opts.Tail > 0:
		if start, err = rd.tailStart(files, opts.Tail); err != nil {
			return err
		}
	}
	for i := 0; i < start.file; i++ {
		files[i].f.Close()
		files[i] = nil
	}

	for i := start.file; i < len(files); i++ {
		off := int64(0)
		if i == start.file {
			off = start.off
			rd.skip = start.skip
		}
		if err := rd.open(files[i], off); err != nil {
			return err
		}
		if err := rd.pump(); err != nil {
			return err
		}
		if i < len(files)-1 {
			files[i].f.Close()
			files[i] = nil
		}
	}
	if !opts.Follow {
		return nil
	}
	cur := files[len(files)-1]
	files = files[:len(files)-1]
	defer func() { cur.f.Close() }()
	return rd.follow(&cur)
}

func notFound(path string, err error) error {
	return fmt.Errorf("logfile: %s: %w: %w", path, errdefs.ErrNotFound, err)
}

// logFile is an open log file with the identity it had when opened.
type logFile struct {
	f  *os.File
	fi os.FileInfo
}

// openLogFiles opens path, path.1, path.2, ... (until one is missing) and
// returns them oldest first. Opening pins each file, so a rotation while
// reading does not pull them away; a file seen twice because of a rotation
// during the opening is kept once.
func openLogFiles(path string) ([]*logFile, error) {
	var list []*logFile
	closeAll := func() {
		for _, lf := range list {
			lf.f.Close()
		}
	}
	var firstErr error
	for i := 0; ; i++ {
		f, err := os.Open(rotatedName(path, i))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				if i == 0 {
					// path itself may be missing for a moment while
					// the writer rotates.
					firstErr = err
					continue
				}
				break
			}
			closeAll()
			return nil, fmt.Errorf("logfile: %w", err)
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			closeAll()
			return nil, fmt.Errorf("logfile: %w", err)
		}
		dup := false
		for _, lf := range list {
			if os.SameFile(lf.fi, fi) {
				dup = true
				break
			}
		}
		if dup {
			f.Close()
			continue
		}
		list = append(list, &logFile{f: f, fi: fi})
	}
	if len(list) == 0 {
		return nil, notFound(path, firstErr)
	}
	for i, j := 0, len(list)-1; i < j; i, j = i+1, j-1 {
		list[i], list[j] = list[j], list[i]
	}
	return list, nil
}

// completeEnd returns the offset just past the last '\n' of f.
func completeEnd(f *os.File) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("logfile: %w", err)
	}
	var block [16 << 10]byte
	end := fi.Size()
	for end > 0 {
		n := min(int64(len(block)), end)
		b := block[:n]
		if _, err := f.ReadAt(b, end-n); err != nil && !errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("logfile: %w", err)
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			return end - n + int64(i) + 1, nil
		}
		end -= n
	}
	return 0, nil
}

// reader reads log files forward and delivers their lines.
type reader struct {
	ctx  context.Context
	path string
	opts ReadOptions
	fn   func(Entry) error
	dec  decoder

	f    *os.File
	buf  []byte
	r, w int   // unread data is buf[r:w]
	read int64 // bytes read from files so far (progress, for polling)
	skip int   // pieces to drop from the next decoded line (Tail)
}

// open makes f the file being read, from offset off. Any incomplete line of
// the previous file is dropped.
func (rd *reader) open(lf *logFile, off int64) error {
	if off > 0 {
		if _, err := lf.f.Seek(off, io.SeekStart); err != nil {
			return fmt.Errorf("logfile: %w", err)
		}
	}
	rd.f = lf.f
	rd.r, rd.w = 0, 0
	if rd.buf == nil {
		size := readBufSize
		if rd.opts.Tail > 0 && rd.opts.Tail < 1000 {
			size = tailReadBufSize // little to read: spare the allocation
		}
		rd.buf = make([]byte, size)
	}
	return nil
}

// pump delivers every complete line available in the current file and
// returns at its end.
func (rd *reader) pump() error {
	for {
		for {
			i := bytes.IndexByte(rd.buf[rd.r:rd.w], '\n')
			if i < 0 {
				break
			}
			line := rd.buf[rd.r : rd.r+i]
			rd.r += i + 1
			if err := rd.line(line); err != nil {
				return err
			}
		}
		if err := rd.ctx.Err(); err != nil {
			return err
		}
		if rd.r > 0 {
			rd.w = copy(rd.buf, rd.buf[rd.r:rd.w])
			rd.r = 0
		}
		if rd.w == len(rd.buf) {
			nb := make([]byte, 2*len(rd.buf))
			copy(nb, rd.buf[:rd.w])
			rd.buf = nb
		}
		n, err := rd.f.Read(rd.buf[rd.w:])
		rd.w += n
		rd.read += int64(n)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("logfile: read: %w", err)
		}
		if n == 0 {
			return nil
		}
	}
}

// line decodes one JSON line, filters it and delivers its pieces.
func (rd *reader) line(line []byte) error {
	skip := rd.skip
	rd.skip = 0
	stream, t, ok := rd.dec.decode(line)
	if !ok || !rd.inRange(t) {
		return nil
	}
	out := rd.dec.out
	prev := 0
	for _, e := range rd.dec.ends {
		if skip > 0 {
			skip--
		} else if err := rd.fn(Entry{Stream: stream, Time: t, Line: out[prev:e]}); err != nil {
			return err
		}
		prev = e
	}
	if prev < len(out) && skip == 0 {
		return rd.fn(Entry{Stream: stream, Time: t, Line: out[prev:]})
	}
	return nil
}

func (rd *reader) inRange(t time.Time) bool {
	if !rd.opts.Since.IsZero() && t.Before(rd.opts.Since) {
		return false
	}
	if !rd.opts.Until.IsZero() && t.After(rd.opts.Until) {
		return false
	}
	return true
}

// follow keeps reading *cur (already read to its end) and the files that
// replace it, until the writer is done or ctx is cancelled.
func (rd *reader) follow(cur **logFile) error {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	wait := pollMin
	for {
		done := rd.opts.Done != nil && rd.opts.Done()
		before := rd.read
		if err := rd.pump(); err != nil {
			return err
		}
		switched, err := rd.switchIfRotated(cur)
		if err != nil {
			return err
		}
		if switched {
			wait = pollMin
			continue
		}
		if done {
			return nil
		}
		if !rd.opts.Until.IsZero() && time.Now().After(rd.opts.Until) {
			return nil
		}
		if rd.read != before {
			wait = pollMin
		} else {
			wait = min(2*wait, pollMax)
		}
		timer.Reset(wait)
		select {
		case <-rd.ctx.Done():
			return rd.ctx.Err()
		case <-timer.C:
		}
	}
}

// switchIfRotated checks whether path still names *cur. If the writer has
// rotated, it reads *cur to its end, then every newer file in order, and
// leaves *cur as the newest one.
func (rd *reader) switchIfRotated(cur **logFile) (bool, error) {
	fi, err := os.Stat(rd.path)
	if err != nil || os.SameFile(fi, (*cur).fi) {
		// A missing path is a rotation in progress (or a removed
		// container): look again later.
		return false, nil
	}
	if err := rd.pump(); err != nil {
		return false, err
	}
	// Names oldest first; the files newer than *cur follow it. If *cur is
	// no longer among them it was dropped, and all retained files are newer.
	var names []string
	for i := 1; ; i++ {
		name := rotatedName(rd.path, i)
		if _, err := os.Lstat(name); err != nil {
			break
		}
		names = append(names, name)
	}
	for i, j := 0, len(names)-1; i < j; i, j = i+1, j-1 {
		names[i], names[j] = names[j], names[i]
	}
	names = append(names, rd.path)
	from := 0
	for i, name := range names {
		if fi, err := os.Stat(name); err == nil && os.SameFile(fi, (*cur).fi) {
			from = i + 1
		}
	}
	var next []*logFile
	for _, name := range names[from:] {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		fi, err := f.Stat()
		if err != nil || os.SameFile(fi, (*cur).fi) {
			f.Close()
			continue
		}
		next = append(next, &logFile{f: f, fi: fi})
	}
	if len(next) == 0 {
		return false, nil
	}
	for i, lf := range next {
		if err := rd.open(lf, 0); err != nil {
			for _, rest := range next[i:] {
				rest.f.Close()
			}
			return false, err
		}
		(*cur).f.Close()
		*cur = lf
		if err := rd.pump(); err != nil {
			for _, rest := range next[i+1:] {
				rest.f.Close()
			}
			return false, err
		}
	}
	return true, nil
}
