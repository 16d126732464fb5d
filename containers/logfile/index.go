package logfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"syscall"
)

// The rotation index, <path>.idx, names the files of a rotating log by
// sequence number, so that a reader can tell which file follows the one it
// has read, and whether files it never reached were dropped:
//
//	berth-log-index 1
//	end <inode> <size> <lines>
//	<seq> <inode> <first>        one line per file kept, oldest first
//
// seq is 1 for the log's first file and grows by one per rotation; first
// is the number of lines ended (a '\n' written) in the log before the
// file's first entry. A line split between two files counts in the one
// holding its end. The last file listed is the current one. "end" is the current file as the Writer left it when it closed (its
// size and the lines written in all), which spares the next Writer
// counting the lines again; a size that no longer matches means it was
// not closed cleanly.
//
// The Writer rewrites the index (a new file renamed over the old) before
// each rotation renames anything: a reader that finds the current file
// replaced finds its successor listed. A reader goes by inode, not by name:
// it opens the name holding the inode listed, then reads the index again
// to check that the inode still means that file (an inode is reused once
// its file is gone).
const indexMagic = "berth-log-index 1"

// fileRec is one file of a rotating log.
type fileRec struct {
	seq   int64
	ino   uint64
	first int64
}

// rotIndex is the content of a rotation index.
type rotIndex struct {
	files             []fileRec // oldest first; the last is the current file
	endIno            uint64
	endSize, endLines int64
}

func indexPath(path string) string { return path + ".idx" }

// readIndex reads the index of the log at path; nil if there is none (the
// log does not rotate, or was written by a Docker or an older berth) or it
// cannot be read.
func readIndex(path string) *rotIndex {
	b, err := os.ReadFile(indexPath(path))
	if err != nil {
		return nil
	}
	x, err := parseIndex(b)
	if err != nil {
		return nil
	}
	return x
}

func parseIndex(b []byte) (*rotIndex, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	if !sc.Scan() || sc.Text() != indexMagic {
		return nil, errors.New("not a log index")
	}
	x := &rotIndex{}
	if !sc.Scan() {
		return nil, errors.New("log index: no end line")
	}
	if _, err := fmt.Sscanf(sc.Text(), "end %d %d %d", &x.endIno, &x.endSize, &x.endLines); err != nil {
		return nil, fmt.Errorf("log index: %w", err)
	}
	for sc.Scan() {
		var r fileRec
		if _, err := fmt.Sscanf(sc.Text(), "%d %d %d", &r.seq, &r.ino, &r.first); err != nil {
			return nil, fmt.Errorf("log index: %w", err)
		}
		if n := len(x.files); r.seq <= 0 || (n > 0 && r.seq != x.files[n-1].seq+1) {
			return nil, errors.New("log index: sequence numbers out of order")
		}
		x.files = append(x.files, r)
	}
	if len(x.files) == 0 {
		return nil, errors.New("log index: no files")
	}
	return x, sc.Err()
}

// write replaces the index of the log at path.
func (x *rotIndex) write(path string) error {
	b := make([]byte, 0, 64+32*len(x.files))
	b = append(b, indexMagic...)
	b = fmt.Appendf(b, "\nend %d %d %d\n", x.endIno, x.endSize, x.endLines)
	for _, r := range x.files {
		b = strconv.AppendInt(b, r.seq, 10)
		b = append(b, ' ')
		b = strconv.AppendUint(b, r.ino, 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, r.first, 10)
		b = append(b, '\n')
	}
	tmp := indexPath(path) + ".new"
	if err := os.WriteFile(tmp, b, 0o640); err != nil {
		return fmt.Errorf("logfile: write index: %w", err)
	}
	if err := os.Rename(tmp, indexPath(path)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("logfile: write index: %w", err)
	}
	return nil
}

func (x *rotIndex) equal(y *rotIndex) bool {
	if x == nil || y == nil {
		return x == y
	}
	if x.endIno != y.endIno || x.endSize != y.endSize || x.endLines != y.endLines || len(x.files) != len(y.files) {
		return false
	}
	for i := range x.files {
		if x.files[i] != y.files[i] {
			return false
		}
	}
	return true
}

func (x *rotIndex) newest() fileRec { return x.files[len(x.files)-1] }

// bySeq returns the file numbered seq, if kept.
func (x *rotIndex) bySeq(seq int64) (fileRec, bool) {
	if i := seq - x.files[0].seq; i >= 0 && i < int64(len(x.files)) {
		return x.files[i], true
	}
	return fileRec{}, false
}

func (x *rotIndex) byIno(ino uint64) (fileRec, bool) {
	for _, r := range x.files {
		if r.ino == ino {
			return r, true
		}
	}
	return fileRec{}, false
}

// after returns the oldest file kept that is newer than seq.
func (x *rotIndex) after(seq int64) (fileRec, bool) {
	for _, r := range x.files {
		if r.seq > seq {
			return r, true
		}
	}
	return fileRec{}, false
}

func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// countLines counts the lines ended ('\n') in the entries in f's bytes
// [from, to): how the index's numbers are kept when the Writer
// could not keep them itself, and how a reader that started inside a file
// learns how many lines came before.
func countLines(f *os.File, from, to int64) (int64, error) {
	var dec decoder
	buf := make([]byte, 256<<10)
	var n int64
	carry := 0
	for off := from; off < to; {
		m := int(min(int64(len(buf)-carry), to-off))
		got, err := f.ReadAt(buf[carry:carry+m], off)
		off += int64(got)
		data := buf[:carry+got]
		for {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				break
			}
			n += entryLines(&dec, data[:i])
			data = data[i+1:]
		}
		carry = copy(buf, data)
		if carry == len(buf) {
			// A line longer than the buffer: grow it.
			buf = append(buf, make([]byte, len(buf))...)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("logfile: %w", err)
		}
		if got == 0 {
			break
		}
	}
	return n, nil
}

// entryLines decodes one JSON line and returns how many lines it ends.
func entryLines(dec *decoder, line []byte) int64 {
	if _, _, ok := dec.decode(line); !ok {
		return 0
	}
	return decodedLines(dec)
}

// decodedLines is the number of lines the entry dec holds ends.
func decodedLines(dec *decoder) int64 { return int64(len(dec.ends)) }

// chunkLines is the number of lines an entry holding p ends.
func chunkLines(p []byte) int64 { return int64(bytes.Count(p, []byte{'\n'})) }
