package logfile

import (
	"bytes"
	"encoding/json"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// decoder turns one JSON line of a log file into its stream, time and
// content. The fast path handles exactly the shape the Writer produces
// ({"log":"...","stream":"...","time":"..."}); anything else goes through
// encoding/json. Buffers are reused from line to line.
//
// The fast path trusts the bytes between escapes: raw control characters or
// invalid UTF-8 inside the string (which no conforming writer produces) are
// passed through rather than rejected or replaced.
type decoder struct {
	out  []byte // content of the last decoded line
	ends []int  // offsets in out just past each '\n'

	// Time cache: lines written within the same minute share their first
	// 16 bytes ("2006-01-02T15:04"), so only seconds and fraction are parsed.
	tprefix [16]byte
	tbase   time.Time
	tvalid  bool
}

const logPrefix = `{"log":"`

// decode decodes line (without its '\n'). On success the content is in d.out
// and its line ends in d.ends.
func (d *decoder) decode(line []byte) (stream string, t time.Time, ok bool) {
	stream, t, ok = d.fast(line)
	if !ok {
		stream, t, ok = d.slow(line)
	}
	return stream, t, ok
}

func (d *decoder) fast(line []byte) (stream string, t time.Time, ok bool) {
	if !bytes.HasPrefix(line, []byte(logPrefix)) {
		return "", t, false
	}
	s := line[len(logPrefix):]
	out, ends := d.out[:0], d.ends[:0]

	q := bytes.IndexByte(s, '"')
	if q < 0 {
		return "", t, false
	}
	i := 0
	for {
		b := bytes.IndexByte(s[i:q], '\\')
		if b < 0 {
			out = append(out, s[i:q]...)
			break
		}
		b += i
		out = append(out, s[i:b]...)
		if b+1 >= len(s) {
			return "", t, false
		}
		i = b + 2
		switch c := s[b+1]; c {
		case 'n':
			out = append(out, '\n')
			ends = append(ends, len(out))
		case '"':
			out = append(out, '"')
			// The quote found was this escaped one: look further.
			j := bytes.IndexByte(s[i:], '"')
			if j < 0 {
				return "", t, false
			}
			q = i + j
		case '\\', '/':
			out = append(out, c)
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'u':
			r, n := unquoteU(s[b:q])
			if n == 0 {
				return "", t, false
			}
			i = b + n
			out = utf8.AppendRune(out, r)
			if r == '\n' {
				ends = append(ends, len(out))
			}
		default:
			return "", t, false
		}
	}
	d.out, d.ends = out, ends
	rest := s[q+1:]

	const streamKey = `,"stream":"`
	if !bytes.HasPrefix(rest, []byte(streamKey)) {
		return "", t, false
	}
	rest = rest[len(streamKey):]
	e := bytes.IndexByte(rest, '"')
	if e < 0 || bytes.IndexByte(rest[:e], '\\') >= 0 {
		return "", t, false
	}
	stream = internStream(rest[:e])
	rest = rest[e+1:]

	const timeKey = `,"time":"`
	if !bytes.HasPrefix(rest, []byte(timeKey)) {
		return "", t, false
	}
	rest = rest[len(timeKey):]
	e = bytes.IndexByte(rest, '"')
	if e < 0 {
		return "", t, false
	}
	t, ok = d.parseTime(rest[:e])
	if !ok {
		return "", t, false
	}
	rest = rest[e+1:]
	if len(rest) != 1 {
		rest = bytes.TrimRight(rest, " \t\r")
	}
	if len(rest) != 1 || rest[0] != '}' {
		return "", t, false
	}
	return stream, t, true
}

// unquoteU decodes a \uXXXX escape (or a surrogate pair of them) at the
// start of s, returning the rune and the number of bytes used (0: invalid).
// Lone surrogates become U+FFFD, as in encoding/json.
func unquoteU(s []byte) (rune, int) {
	r := hex4(s)
	if r < 0 {
		return 0, 0
	}
	if !utf16.IsSurrogate(r) {
		return r, 6
	}
	if len(s) >= 12 && s[6] == '\\' && s[7] == 'u' {
		if r2 := hex4(s[6:]); r2 >= 0 {
			if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
				return dec, 12
			}
		}
	}
	return utf8.RuneError, 6
}

// hex4 parses the four hex digits of a \uXXXX escape at the start of s.
func hex4(s []byte) rune {
	if len(s) < 6 {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

func internStream(b []byte) string {
	switch string(b) {
	case "stdout":
		return "stdout"
	case "stderr":
		return "stderr"
	}
	return string(b)
}

// parseTime parses the RFC 3339 UTC timestamps the Writer produces
// ("2006-01-02T15:04:05.999999999Z"), caching the minute; anything else goes
// through time.Parse.
func (d *decoder) parseTime(b []byte) (time.Time, bool) {
	if len(b) >= 20 && b[16] == ':' && b[len(b)-1] == 'Z' {
		if !d.tvalid || !bytes.Equal(b[:16], d.tprefix[:]) {
			t, err := time.Parse(time.RFC3339Nano, string(b))
			if err != nil {
				return time.Time{}, false
			}
			t = t.UTC()
			copy(d.tprefix[:], b[:16])
			d.tbase = t.Truncate(time.Minute)
			d.tvalid = true
			return t, true
		}
		if ns, ok := secFrac(b[17 : len(b)-1]); ok {
			return d.tbase.Add(time.Duration(ns)), true
		}
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// secFrac parses "SS" or "SS.fffffffff" into nanoseconds.
func secFrac(b []byte) (int64, bool) {
	if len(b) < 2 || !isDigit(b[0]) || !isDigit(b[1]) {
		return 0, false
	}
	sec := int64(b[0]-'0')*10 + int64(b[1]-'0')
	if sec > 59 {
		return 0, false
	}
	ns := sec * int64(time.Second)
	if len(b) == 2 {
		return ns, true
	}
	f := b[2:]
	if f[0] != '.' || len(f) < 2 || len(f) > 10 {
		return 0, false
	}
	var frac int64
	for _, c := range f[1:] {
		if !isDigit(c) {
			return 0, false
		}
		frac = frac*10 + int64(c-'0')
	}
	for k := len(f) - 1; k < 9; k++ {
		frac *= 10
	}
	return ns + frac, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// jsonEntry is the shape encoding/json decodes, for the slow path.
type jsonEntry struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

func (d *decoder) slow(line []byte) (stream string, t time.Time, ok bool) {
	var e jsonEntry
	if err := json.Unmarshal(line, &e); err != nil {
		return "", t, false
	}
	d.out = append(d.out[:0], e.Log...)
	d.ends = d.ends[:0]
	for i, c := range d.out {
		if c == '\n' {
			d.ends = append(d.ends, i+1)
		}
	}
	return internStream([]byte(e.Stream)), e.Time, true
}
