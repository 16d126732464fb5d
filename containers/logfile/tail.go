package logfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// tailBlock is the size of the blocks read backwards when looking for the
// start of the last N lines.
const tailBlock = 64 << 10

// tailPos is where forward reading starts: file index, byte offset of a JSON
// line in it, and how many pieces of that line to drop.
type tailPos struct {
	file int
	off  int64
	skip int
}

// tailStart reads the files (oldest first) backwards from the end, in
// blocks, decoding complete JSON lines until the content seen holds n line
// ends, and returns where the last n lines start. Memory use is bounded by
// the block size and the longest JSON line, not by the size of the log.
//
// A line end is a piece ending in '\n', or the very last piece of the log
// (an unterminated last line still counts as a line). Lines outside
// Since/Until, and lines that cannot be decoded, are not counted, as the
// forward reader will not deliver them.
func (rd *reader) tailStart(files []*logFile, n int) (tailPos, error) {
	need := n + 1 // stop at the line end before the first wanted line
	have := 0
	seenLast := false // whether the last piece of the log has been seen
	var cur, spare []byte
	for fi := len(files) - 1; fi >= 0; fi-- {
		f := files[fi].f
		st, err := f.Stat()
		if err != nil {
			return tailPos{}, fmt.Errorf("logfile: %w", err)
		}
		pos := st.Size()
		carry := cur[:0] // bytes [pos, end) not yet processed
		trimmed := false // whether the incomplete tail has been cut
		for pos > 0 {
			bn := min(int64(tailBlock), pos)
			pos -= bn
			size := int(bn) + len(carry)
			if cap(spare) < size {
				spare = make([]byte, size, size+tailBlock)
			}
			data := spare[:size]
			copy(data[bn:], carry)
			if _, err := f.ReadAt(data[:bn], pos); err != nil && !errors.Is(err, io.EOF) {
				return tailPos{}, fmt.Errorf("logfile: %w", err)
			}
			cur, spare = spare, cur
			if !trimmed {
				j := bytes.LastIndexByte(data, '\n')
				if j < 0 {
					carry = data
					continue
				}
				data = data[:j+1]
				trimmed = true
			}
			// data ends with '\n'; take complete lines from the end.
			e := len(data) - 1
			for e >= 0 {
				s := bytes.LastIndexByte(data[:e], '\n')
				if s < 0 && pos > 0 {
					break // first line may continue in the previous block
				}
				line := data[s+1 : e]
				off := pos + int64(s+1)
				e = s
				_, t, ok := rd.dec.decode(line)
				if !ok || !rd.inRange(t) || len(rd.dec.out) == 0 {
					continue
				}
				ends := len(rd.dec.ends)
				pieces := ends
				trailing := ends == 0 || rd.dec.ends[ends-1] != len(rd.dec.out)
				if trailing {
					pieces++
				}
				lineEnds := ends
				if trailing && !seenLast {
					lineEnds++
				}
				seenLast = true
				if have+lineEnds >= need {
					r := need - have // which line end of this entry, from its end
					p := pieces - (r - 1)
					if trailing && lineEnds == ends {
						p-- // last piece is not a line end
					}
					return tailPos{file: fi, off: off, skip: p}, nil
				}
				have += lineEnds
			}
			if e < 0 {
				carry = data[:0]
			} else {
				carry = data[:e+1]
			}
		}
	}
	return tailPos{}, nil
}
