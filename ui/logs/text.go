package logs

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

// display turns a log line's bytes into text that is safe to draw: what a
// terminal would have shown, on one line. A CR before the end keeps what
// follows it (progress bars redraw the line); escape sequences are dropped
// (colours would fight the pane's own, and a cursor move would break the
// screen); tabs become spaces to the next multiple of 8; other control
// characters show as their Unicode pictures (␀, ␛); invalid UTF-8 as �.
// It reports whether the result is plain ASCII, where cells are bytes.
func display(b []byte) (string, bool) {
	b = bytes.TrimSuffix(b, []byte{'\r'})
	if i := bytes.LastIndexByte(b, '\r'); i >= 0 {
		b = b[i+1:]
	}
	clean := true
	for _, c := range b {
		if c < 0x20 || c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return string(b), true
	}
	s := string(b)
	if strings.IndexByte(s, 0x1b) >= 0 || strings.Contains(s, "\u009b") {
		s = ansi.Strip(s)
	}
	var out strings.Builder
	out.Grow(len(s))
	col, ascii := 0, true
	for _, r := range s { // invalid bytes come as utf8.RuneError: �
		switch {
		case r == '\t':
			n := 8 - col%8
			out.WriteString("        "[:n])
			col += n
			continue
		case r < 0x20:
			r = 0x2400 + r // ␀ .. ␟
		case r == 0x7f:
			r = '␡'
		case r >= 0x80 && r < 0xa0:
			r = utf8.RuneError
		}
		out.WriteRune(r)
		if r < utf8.RuneSelf {
			col++
		} else {
			ascii = false
			col += ansi.StringWidth(string(r))
		}
	}
	return out.String(), ascii
}

// cellSpan finds the bytes of s drawn in cells [from, to): a wide
// character cut by either edge is left out, and pad says how many blank
// cells stand in for it on the left and on the right.
func cellSpan(s string, ascii bool, from, to int) (a, b, padL, padR int) {
	if ascii {
		a, b = min(from, len(s)), min(to, len(s))
		return a, b, 0, 0
	}
	a, b = len(s), len(s)
	col := 0
	for i := 0; i < len(s); {
		cl, w := ansi.FirstGraphemeCluster(s[i:], ansi.GraphemeWidth)
		if len(cl) == 0 {
			break
		}
		if col >= from && a == len(s) {
			a, padL = i, col-from
		}
		if col+w > to {
			b = i
			if col < to && a <= i {
				padR = to - col
			}
			break
		}
		col += w
		i += len(cl)
	}
	if a > b {
		a = b
	}
	return a, b, padL, padR
}

// wrapRows returns where each row of s starts (byte offsets) when it is
// wrapped at w cells; an empty s is one row.
func wrapRows(s string, ascii bool, w int) []int {
	w = max(w, 1)
	if ascii {
		n := max((len(s)+w-1)/w, 1)
		rows := make([]int, n)
		for i := range rows {
			rows[i] = i * w
		}
		return rows
	}
	rows := []int{0}
	col := 0
	for i := 0; i < len(s); {
		cl, cw := ansi.FirstGraphemeCluster(s[i:], ansi.GraphemeWidth)
		if len(cl) == 0 {
			break
		}
		if col+cw > w && col > 0 {
			rows = append(rows, i)
			col = 0
		}
		col += cw
		i += len(cl)
	}
	return rows
}

// findAll returns the byte ranges of s that match q ignoring case (q
// already lower-cased), in order and not overlapping.
func findAll(s, q string) [][2]int {
	if q == "" {
		return nil
	}
	var out [][2]int
	if isASCII(s) && isASCII(q) {
		low := strings.ToLower(s)
		for i := 0; ; {
			j := strings.Index(low[i:], q)
			if j < 0 {
				return out
			}
			out = append(out, [2]int{i + j, i + j + len(q)})
			i += j + len(q)
		}
	}
	// Compare rune by rune, lowering both sides, so offsets stay those of s.
	qr := []rune(q)
	for i := 0; i < len(s); {
		if end, ok := matchAt(s, i, qr); ok {
			out = append(out, [2]int{i, end})
			i = end
			continue
		}
		_, n := utf8.DecodeRuneInString(s[i:])
		i += n
	}
	return out
}

func matchAt(s string, i int, q []rune) (int, bool) {
	for _, want := range q {
		if i >= len(s) {
			return 0, false
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if unicode.ToLower(r) != want {
			return 0, false
		}
		i += n
	}
	return i, true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
