// Package logfile stores a container's output in Docker's json-file format and
// reads it back.
//
// Each line of a log file is one JSON object:
//
//	{"log":"<chunk text>","stream":"stdout","time":"2024-01-02T03:04:05.123456789Z"}
//
// Unlike Docker, which writes one object per output line, berth writes one
// object per chunk read from the container's pipe or pty: a chunk may hold many
// lines or part of one. Readers split chunks back into lines.
//
// The encoder and the decoder are hand-written for speed; any line the fast
// decoder does not recognise is handed to encoding/json, so files written by
// Docker itself can be read too.
//
// A log rotated by size (Options) has a rotation index beside it (index.go)
// that numbers its files and counts their lines: a follower holds the file
// it reads across renames, finds the next by identity, and knows how many
// lines were dropped when the writer got more than max-file files ahead of
// it (Entry.Lost, Line.Lost). A Watcher (inotify on the log's directory)
// wakes followers and viewers when the log changes.
package logfile

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// SWAR constants: a byte repeated in every lane of a uint64.
const (
	lanes01 = 0x0101010101010101
	lanes80 = 0x8080808080808080
)

// specialLanes reports, as a mask with bit 7 of a lane set, the lanes of x
// that hold a byte the JSON string encoder cannot copy as is: a control
// character, '"', '\\', or a byte >= 0x80. The lowest set lane is always a
// real hit (higher lanes may be false positives after a real one).
func specialLanes(x uint64) uint64 {
	ctl := (x - lanes01*0x20) &^ x       // byte < 0x20 (or >= 0x80, also wanted)
	q := x ^ (lanes01 * '"')             // zero lane where '"'
	bs := x ^ (lanes01 * '\\')           // zero lane where '\\'
	qz := (q - lanes01) &^ q             // high bit where q lane == 0
	bz := (bs - lanes01) &^ bs           // high bit where bs lane == 0
	return (ctl | qz | bz | x) & lanes80 // x&lanes80: bytes >= 0x80
}

// appendString appends s to dst as the body of a JSON string (without the
// surrounding quotes). '"', '\\' and control characters are escaped (\n, \r,
// \t short, others as \u00XX); invalid UTF-8 bytes become \ufffd, one per
// byte, as encoding/json does. Everything else, including valid multi-byte
// UTF-8, is copied unchanged.
//
// A chunk boundary can split a multi-byte UTF-8 sequence: the encoder sees
// one chunk at a time, so both halves are invalid on their own and each byte
// becomes U+FFFD. Docker's json-file driver behaves the same way.
func appendString(dst, s []byte) []byte {
	start := 0 // start of the pending run of bytes copied verbatim
	i := 0
	for i < len(s) {
		// Fast path: skip 8 plain ASCII bytes at a time.
		for i+8 <= len(s) {
			m := specialLanes(binary.LittleEndian.Uint64(s[i:]))
			if m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		switch {
		case c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf:
			i++
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, s[start:i]...)
				dst = append(dst, `\ufffd`...)
				i++
				start = i
			} else {
				i += size
			}
		default:
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
		}
	}
	return append(dst, s[start:]...)
}
