package logfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"
)

// flushThreshold is the buffered size above which Write flushes on its own.
const flushThreshold = 64 << 10

// Options control rotation.
type Options struct {
	// MaxSize is the size in bytes a log file may reach before it is
	// rotated; 0 means unlimited. A single entry larger than MaxSize is
	// still written whole, to a file of its own.
	MaxSize int64
	// MaxFile is the number of files kept, the current one included:
	// rotated files are <path>.1 (newest) to <path>.<MaxFile-1> (oldest).
	// MaxFile <= 1 keeps no rotated file: the log is replaced by an empty
	// one when it fills up.
	MaxFile int
}

// Writer appends entries to a log file, rotating it by size like Docker's
// json-file driver: when the current file would exceed MaxSize bytes, it is
// renamed to <path>.1 (older ones shifted to .2 ... up to MaxFile-1, the
// oldest dropped), and a new file is started. A log that rotates has a
// rotation index beside it (see index.go), rewritten before each rotation,
// by which readers follow the files and learn what was dropped.
//
// Entries are buffered; they reach the file when more than 64 KiB is pending,
// on Flush and on Close. A Writer is safe for concurrent use (stdout and
// stderr may be pumped by different goroutines).
type Writer struct {
	mu   sync.Mutex
	path string
	opts Options
	f    *os.File
	size int64  // bytes in the current file (not counting buf)
	buf  []byte // encoded entries not yet written
	err  error  // set once closed

	// With rotation: the files kept (oldest first, the current one last),
	// the lines written to files in all, and those waiting in buf.
	files   []fileRec
	lines   int64
	pending int64
}

// NewWriter opens (creating if needed) the log at path for appending. If the
// file ends with an incomplete line (the previous writer died mid-write), the
// fragment is cut off so that new entries start on a line of their own.
func NewWriter(path string, opts Options) (*Writer, error) {
	if opts.MaxSize > 0 {
		finishRotation(path)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("logfile: open: %w", err)
	}
	size, err := repairTail(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("logfile: %s: %w", path, err)
	}
	w := &Writer{path: path, opts: opts, f: f, size: size, buf: make([]byte, 0, 2*flushThreshold)}
	if opts.MaxSize > 0 {
		if err := w.loadIndex(); err != nil {
			f.Close()
			return nil, fmt.Errorf("logfile: %s: %w", path, err)
		}
	}
	return w, nil
}

// finishRotation completes a rotation that a writer killed in the middle
// of one left: the new file is made under a temporary name first, and
// only renamed to path last.
func finishRotation(path string) {
	tmp := path + ".new"
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		_ = os.Rename(tmp, path)
		return
	}
	_ = os.Remove(tmp)
}

// loadIndex takes up the rotation index of the files on disk, or makes
// one: the files keep their numbers when the index knows them all, in
// order; otherwise (no index yet, or a writer died between writing it and
// renaming) they are numbered afresh after every number used before, and
// their lines counted.
func (w *Writer) loadIndex() error {
	old := readIndex(w.path)
	fi, err := w.f.Stat()
	if err != nil {
		return err
	}
	// The files on disk, newest first: path, path.1, ...
	disk := []os.FileInfo{fi}
	for i := 1; ; i++ {
		fi, err := os.Stat(rotatedName(w.path, i))
		if err != nil {
			break
		}
		disk = append(disk, fi)
	}
	if old != nil {
		// Known files, newest first, down to the first the index does not
		// know (older ones are on their way out: not listed).
		var known []fileRec
		for _, fi := range disk {
			r, ok := old.byIno(inode(fi))
			if !ok || (len(known) > 0 && r.seq != known[len(known)-1].seq-1) {
				break
			}
			known = append(known, r)
		}
		if len(known) > 0 && inode(disk[0]) == known[0].ino {
			slices.Reverse(known)
			w.files = known
			cur := known[len(known)-1]
			if old.endIno == cur.ino && old.endSize == w.size {
				w.lines = old.endLines
			} else {
				n, err := countLines(w.f, 0, w.size)
				if err != nil {
					return err
				}
				w.lines = cur.first + n
			}
			return w.writeIndex(w.files, false)
		}
	}
	// Number the files afresh, oldest first.
	seq := int64(0)
	if old != nil {
		seq = old.newest().seq
	}
	w.files, w.lines = nil, 0
	for i := len(disk) - 1; i >= 0; i-- {
		var n int64
		if i == 0 {
			n, err = countLines(w.f, 0, w.size)
		} else {
			n, err = countFileLines(rotatedName(w.path, i))
		}
		if err != nil {
			return err
		}
		seq++
		w.files = append(w.files, fileRec{seq: seq, ino: inode(disk[i]), first: w.lines})
		w.lines += n
	}
	return w.writeIndex(w.files, false)
}

func countFileLines(name string) (int64, error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, nil // gone meanwhile: nothing to count
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return countLines(f, 0, fi.Size())
}

// writeIndex records files as the files kept; closing adds where the
// current file ends and the lines written in all.
func (w *Writer) writeIndex(files []fileRec, closing bool) error {
	x := rotIndex{files: files}
	if closing {
		x.endIno, x.endSize, x.endLines = files[len(files)-1].ino, w.size, w.lines
	}
	return x.write(w.path)
}

// repairTail truncates f after its last '\n' and returns the resulting size.
func repairTail(f *os.File) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := fi.Size()
	if size == 0 {
		return 0, nil
	}
	var block [64 << 10]byte
	end := size
	for end > 0 {
		n := int64(len(block))
		if n > end {
			n = end
		}
		b := block[:n]
		if _, err := f.ReadAt(b, end-n); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			end = end - n + int64(i) + 1
			break
		}
		end -= n
	}
	if end == size {
		return size, nil
	}
	if err := f.Truncate(end); err != nil {
		return 0, err
	}
	return end, nil
}

// Write buffers one entry holding p, which came from stream ("stdout" or
// "stderr") at time t. p is not retained.
func (w *Writer) Write(stream string, t time.Time, p []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	// With a size limit, a chunk much larger than it would make one entry
	// that no rotation can bound: split it, at line ends where possible.
	if limit := int(w.opts.MaxSize / 2); limit > 0 {
		for len(p) > limit {
			cut := bytes.LastIndexByte(p[:limit], '\n') + 1
			if cut == 0 {
				cut = limit
			}
			if err := w.writeEntry(stream, t, p[:cut]); err != nil {
				return err
			}
			p = p[cut:]
		}
	}
	return w.writeEntry(stream, t, p)
}

func (w *Writer) writeEntry(stream string, t time.Time, p []byte) error {
	old := len(w.buf)
	b := append(w.buf, `{"log":"`...)
	b = appendString(b, p)
	b = append(b, `","stream":"`...)
	if stream == "stdout" || stream == "stderr" {
		b = append(b, stream...)
	} else {
		b = appendString(b, []byte(stream))
	}
	b = append(b, `","time":"`...)
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, "\"}\n"...)
	w.buf = b

	if w.opts.MaxSize > 0 && w.size+int64(len(b)) > w.opts.MaxSize && w.size+int64(old) > 0 {
		// The new entry does not fit: write what came before it to the
		// current file, rotate, and keep the new entry for the new file.
		if err := w.writeOut(b[:old]); err != nil {
			w.buf, w.pending = b[:0], 0
			return err
		}
		w.lines += w.pending
		w.pending = 0
		n := copy(b, b[old:])
		w.buf = b[:n]
		if err := w.rotate(); err != nil {
			w.buf = w.buf[:0]
			return err
		}
	}
	if w.opts.MaxSize > 0 {
		w.pending += chunkLines(p)
	}
	if len(w.buf) >= flushThreshold {
		return w.flushLocked()
	}
	return nil
}

// Flush writes buffered entries to the file, so that followers see them.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	return w.flushLocked()
}

func (w *Writer) flushLocked() error {
	if len(w.buf) == 0 {
		return nil
	}
	err := w.writeOut(w.buf)
	// On error the buffered entries are dropped: a full disk must not make
	// the monitor's memory grow without bound.
	w.buf = w.buf[:0]
	if err == nil {
		w.lines += w.pending
	}
	w.pending = 0
	return err
}

func (w *Writer) writeOut(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if w.f == nil {
		// A failed rotation left no current file: start one.
		if w.opts.MaxSize > 0 {
			finishRotation(w.path)
		}
		f, err := os.OpenFile(w.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o640)
		if err != nil {
			return fmt.Errorf("logfile: write: %w", err)
		}
		size, err := repairTail(f)
		if err != nil {
			f.Close()
			return fmt.Errorf("logfile: write: %w", err)
		}
		w.f, w.size = f, size
		if w.opts.MaxSize > 0 {
			// The index may name files the rotation did not put in
			// place: take it up again from what is on disk.
			if err := w.loadIndex(); err != nil {
				return fmt.Errorf("logfile: write: %w", err)
			}
		}
	}
	n, err := w.f.Write(b)
	w.size += int64(n)
	if err != nil {
		return fmt.Errorf("logfile: write: %w", err)
	}
	return nil
}

// rotate closes the current file, shifts the rotated ones and starts a new,
// empty current file. The new file is made first, under a temporary name,
// and the index that lists it written, before any rename: a reader that
// sees the current file replaced finds its successor in the index.
func (w *Writer) rotate() error {
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("logfile: rotate: %w", err)
	}
	w.f = nil
	tmp := w.path + ".new"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_APPEND|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("logfile: rotate: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("logfile: rotate: %w", err)
	}
	cur := w.files[len(w.files)-1]
	files := append(slices.Clone(w.files), fileRec{seq: cur.seq + 1, ino: inode(fi), first: w.lines})
	if keep := max(w.opts.MaxFile, 1); len(files) > keep {
		files = files[len(files)-keep:]
	}
	if err := w.writeIndex(files, false); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	w.files = files
	// path.(MaxFile-2) replaces path.(MaxFile-1), and so on down to
	// path -> path.1; rename drops the oldest by replacing it. With
	// MaxFile 1 the new file replaces the old one: a follower holding the
	// old one reads it to its end and then finds the new one.
	for i := w.opts.MaxFile - 1; i >= 1; i-- {
		src := rotatedName(w.path, i-1)
		if err := os.Rename(src, rotatedName(w.path, i)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			f.Close()
			return fmt.Errorf("logfile: rotate: %w", err)
		}
	}
	if err := os.Rename(tmp, w.path); err != nil {
		f.Close()
		return fmt.Errorf("logfile: rotate: %w", err)
	}
	w.f, w.size = f, 0
	return nil
}

// Close flushes buffered entries and closes the file. Later calls return an
// error.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	err := w.flushLocked()
	w.err = errors.New("logfile: writer closed")
	if w.f != nil {
		if cerr := w.f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("logfile: close: %w", cerr)
		}
		w.f = nil
		if w.opts.MaxSize > 0 && err == nil {
			// Where the file ends and how many lines were written, so
			// that the next Writer need not count them.
			err = w.writeIndex(w.files, true)
		}
	}
	return err
}

// rotatedName returns path for n == 0 and path.n otherwise.
func rotatedName(path string, n int) string {
	if n == 0 {
		return path
	}
	return path + "." + strconv.Itoa(n)
}
