package logfile

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
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
	// Lost, when not 0, makes the Entry a marker rather than output: lines
	// were written at this point that rotation removed before they could
	// be read (the reader fell more than max-file files behind). Lost is
	// how many (lines whose '\n' was lost: the one before the marker may
	// have come in part, the one after it may lack its start), or -1 when
	// that is not known. Stream, Time and Line are empty.
	Lost int64
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
	// clock passes Until. Rotation is followed: the file being read is
	// held open and read to its end, then its successor is opened by
	// identity (the rotation index); files dropped before the reader
	// reached them are reported by a Lost marker.
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

// recheck is how often a follower looks at the log with no sign of change
// (see follow).
const recheck = 100 * time.Millisecond

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
		if i > start.file {
			if err := rd.cross(files[i-1], files[i]); err != nil {
				return err
			}
			files[i-1].f.Close()
			files[i-1] = nil
		}
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
	}
	cur := files[len(files)-1]
	files = files[:len(files)-1]
	defer func() { cur.f.Close() }()
	if !opts.Follow {
		return nil
	}
	return rd.follow(&cur)
}

func notFound(path string, err error) error {
	return fmt.Errorf("logfile: %s: %w: %w", path, errdefs.ErrNotFound, err)
}

// logFile is an open log file with the identity it had when opened, and
// its place in the log as the rotation index gives it.
type logFile struct {
	f     *os.File
	fi    os.FileInfo
	seq   int64 // the Writer's number for it; 0: not known (no index)
	first int64 // lines written before its first; -1: not known
}

// openAttempts bounds how often openLogFiles starts again because the
// writer rotated while it was opening the files.
const openAttempts = 100

// openLogFiles opens path, path.1, path.2, ... (until one is missing) and
// returns them oldest first. Opening pins each file, so a rotation while
// reading does not pull them away. With a rotation index the files are
// numbered by it, and opened again if the writer rotated meanwhile (the
// index changed, or the set has a hole), so that they follow each other.
func openLogFiles(path string) ([]*logFile, error) {
	for attempt := 1; ; attempt++ {
		before := readIndex(path)
		list, err := openNamed(path)
		if err != nil {
			return nil, err
		}
		x := readIndex(path)
		if x == nil {
			return list, nil
		}
		label(list, x)
		if (x.equal(before) && contiguous(list)) || attempt == openAttempts {
			// Files the index does not know are older than those it does
			// (on their way out): they come first.
			slices.SortStableFunc(list, func(a, b *logFile) int { return cmp.Compare(a.seq, b.seq) })
			return list, nil
		}
		for _, lf := range list {
			lf.f.Close()
		}
	}
}

// openNamed opens path, path.1, ... and returns them oldest first, as
// their names say; a file seen twice (a rotation during the opening) is
// kept once.
func openNamed(path string) ([]*logFile, error) {
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
		list = append(list, &logFile{f: f, fi: fi, first: -1})
	}
	if len(list) == 0 {
		return nil, notFound(path, firstErr)
	}
	slices.Reverse(list)
	return list, nil
}

// label numbers the files by the index x.
func label(list []*logFile, x *rotIndex) {
	for _, lf := range list {
		lf.seq, lf.first = 0, -1
		if r, ok := x.byIno(inode(lf.fi)); ok {
			lf.seq, lf.first = r.seq, r.first
		}
	}
}

// contiguous reports whether the numbered files follow each other.
func contiguous(list []*logFile) bool {
	var last int64
	for _, lf := range list {
		if lf.seq == 0 {
			continue
		}
		if last != 0 && lf.seq != last+1 {
			return false
		}
		last = lf.seq
	}
	return true
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

	cur   *logFile
	start int64 // where reading cur began
	lines int64 // lines of cur decoded since
	f     *os.File
	buf   []byte
	r, w  int   // unread data is buf[r:w]
	read  int64 // bytes read from files so far (progress, for polling)
	skip  int   // pieces to drop from the next decoded line (Tail)
}

// open makes f the file being read, from offset off. Any incomplete line of
// the previous file is dropped.
func (rd *reader) open(lf *logFile, off int64) error {
	if off > 0 {
		if _, err := lf.f.Seek(off, io.SeekStart); err != nil {
			return fmt.Errorf("logfile: %w", err)
		}
	}
	rd.cur, rd.start, rd.lines = lf, off, 0
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
	if !ok {
		return nil
	}
	rd.lines += decodedLines(&rd.dec)
	if !rd.inRange(t) {
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
// replace it, until the writer is done or ctx is cancelled. It looks again
// at once while output comes, else when the log's directory changes
// (inotify), and at least every recheck: how long a stopped writer
// (Done), or Until, may take to be noticed.
func (rd *reader) follow(cur **logFile) error {
	w := Watch(rd.path, 0)
	defer w.Close()
	timer := time.NewTimer(recheck)
	defer timer.Stop()
	for {
		progress, err := rd.step(cur)
		if err != nil {
			return err
		}
		if progress {
			continue
		}
		if rd.opts.Done != nil && rd.opts.Done() {
			// What the writer wrote before it stopped is there now.
			for progress = true; progress; {
				if progress, err = rd.step(cur); err != nil {
					return err
				}
			}
			return nil
		}
		if !rd.opts.Until.IsZero() && time.Now().After(rd.opts.Until) {
			return nil
		}
		timer.Reset(recheck)
		select {
		case <-rd.ctx.Done():
			return rd.ctx.Err()
		case <-w.Wake():
		case <-timer.C:
		}
	}
}

// step reads what the file being read holds now, and moves on to the
// files that follow it; it reports whether there was anything.
func (rd *reader) step(cur **logFile) (bool, error) {
	before := rd.read
	if err := rd.pump(); err != nil {
		return false, err
	}
	moved, err := rd.advance(cur)
	return moved || rd.read != before, err
}

// endLine returns the number of lines written to the log up to the end
// of the file being read (read to its end), or -1 if that is not known.
func (rd *reader) endLine() (int64, error) {
	lf := rd.cur
	if lf.first < 0 {
		return -1, nil
	}
	n := lf.first + rd.lines
	if rd.start > 0 {
		before, err := countLines(lf.f, 0, rd.start)
		if err != nil {
			return -1, err
		}
		n += before
	}
	return n, nil
}

// cross is the step from the file being read, read to its end, to next:
// if files between them were dropped, a Lost marker says so.
func (rd *reader) cross(prev, next *logFile) error {
	if prev.seq == 0 || next.seq == 0 || next.seq == prev.seq+1 {
		return nil
	}
	lost := int64(-1)
	end, err := rd.endLine()
	if err != nil {
		return err
	}
	if end >= 0 && next.first > end {
		lost = next.first - end
	}
	return rd.fn(Entry{Lost: lost})
}

// advance moves on from *cur, read to its end, to the file that follows
// it, if the writer has started one: it reads the files that follow, in
// order, and leaves *cur as the last. It reports whether it moved.
func (rd *reader) advance(cur **logFile) (bool, error) {
	fi, err := os.Stat(rd.path)
	if err == nil && os.SameFile(fi, (*cur).fi) {
		return false, nil // not rotated
	}
	x := readIndex(rd.path)
	if x != nil && (*cur).seq == 0 {
		// Opened before the index existed: find it there now.
		label([]*logFile{*cur}, x)
	}
	if x == nil || (*cur).seq == 0 {
		return rd.switchByName(cur)
	}
	moved := false
	for x != nil && (*cur).seq < x.newest().seq {
		// The index lists a newer file only once the writer is done
		// with *cur: read what is left of it.
		if err := rd.pump(); err != nil {
			return moved, err
		}
		r, _ := x.after((*cur).seq)
		next := openRec(rd.path, r)
		if next == nil {
			// Rotated again while we looked: look again next time.
			return moved, nil
		}
		if err := rd.cross(*cur, next); err != nil {
			next.f.Close()
			return moved, err
		}
		(*cur).f.Close()
		*cur = next
		moved = true
		if err := rd.open(next, 0); err != nil {
			return moved, err
		}
		if err := rd.pump(); err != nil {
			return moved, err
		}
		x = readIndex(rd.path)
	}
	return moved, nil
}

// openRec opens the file the index lists as r: the name that holds its
// inode, checked by reading the index again (the inode still means that
// file). nil if it is not found now.
func openRec(path string, r fileRec) *logFile {
	for i := 0; ; i++ {
		f, err := os.Open(rotatedName(path, i))
		if err != nil {
			if i == 0 && errors.Is(err, fs.ErrNotExist) {
				continue // being replaced
			}
			return nil
		}
		fi, err := f.Stat()
		if err != nil || inode(fi) != r.ino {
			f.Close()
			if err != nil {
				return nil
			}
			continue
		}
		if x := readIndex(path); x != nil {
			if now, ok := x.bySeq(r.seq); ok && now.ino == r.ino {
				return &logFile{f: f, fi: fi, seq: r.seq, first: r.first}
			}
		}
		f.Close()
		return nil
	}
}

// switchByName follows a rotation of a log without an index (written by
// Docker or an older berth) by names alone: it reads *cur to its end, then
// every newer file in order, and leaves *cur as the newest one.
func (rd *reader) switchByName(cur **logFile) (bool, error) {
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
	slices.Reverse(names)
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
		next = append(next, &logFile{f: f, fi: fi, first: -1})
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
