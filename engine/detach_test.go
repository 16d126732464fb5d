package engine

import (
	"bytes"
	"io"
	"testing"
)

// chunks reads as one Read per piece, as keys come from a terminal.
type chunks struct{ pieces []string }

func (c *chunks) Read(p []byte) (int, error) {
	if len(c.pieces) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.pieces[0])
	c.pieces = c.pieces[1:]
	return n, nil
}

func TestCopyInputDetachKeys(t *testing.T) {
	for _, tc := range []struct {
		keys     string
		in       []string
		out      string
		detached bool
		unread   string
	}{
		{"\x10\x11", []string{"hello"}, "hello", false, ""},
		{"\x10\x11", []string{"ab\x10\x11cd"}, "ab", true, "cd"},       // cd is the caller's
		{"\x10\x11", []string{"ab\x10", "\x11", "cd"}, "ab", true, ""}, // split across reads
		{"\x10\x11", []string{"a\x10b"}, "a\x10b", false, ""},          // a broken start is input
		{"\x10\x11", []string{"a\x10", "b"}, "a\x10b", false, ""},
		{"\x10\x11", []string{"a\x10\x10\x11"}, "a\x10", true, ""}, // starts again on the key itself
		{"\x10\x11", []string{"end\x10"}, "end\x10", false, ""},    // held at the end: input
		{"aab", []string{"aa", "abx"}, "a", true, "x"},             // a tail of the held keys begins it
		{"aab", []string{"aaac"}, "aaac", false, ""},
		{"", []string{"\x10\x11"}, "\x10\x11", false, ""}, // no keys: no detaching
	} {
		var out bytes.Buffer
		d, unread, err := copyInput(&out, &chunks{append([]string{}, tc.in...)}, []byte(tc.keys), nil)
		if err != nil || d != tc.detached || out.String() != tc.out || string(unread) != tc.unread {
			t.Errorf("keys %q, reads %q: detached %v, passed %q, unread %q, err %v; want %v, %q, %q", tc.keys, tc.in, d, out.String(), unread, err, tc.detached, tc.out, tc.unread)
		}
	}
}
