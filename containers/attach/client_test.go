package attach

import (
	"bytes"
	"net"
	"strings"
	"testing"
)

func TestParseDetachKeys(t *testing.T) {
	for in, want := range map[string][]byte{
		"":              {0x10, 0x11},
		"ctrl-p,ctrl-q": {0x10, 0x11},
		"ctrl-a,x":      {0x01, 'x'},
		"ctrl-@":        {0},
		"ctrl-\\":       {28},
	} {
		got, err := ParseDetachKeys(in)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"ctrl-", "ctrl-1", "abc", "ctrl-pq"} {
		if _, err := ParseDetachKeys(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCopyInputDetach(t *testing.T) {
	keys := []byte{0x10, 0x11}
	for _, tc := range []struct {
		in       string
		out      string
		detached bool
	}{
		{"hello", "hello", false},
		{"ab\x10\x11cd", "ab", true},
		{"a\x10b", "a\x10b", false},      // a broken sequence is input
		{"a\x10\x10\x11", "a\x10", true}, // restart on the key itself
	} {
		var out bytes.Buffer
		d, err := CopyInput(&out, strings.NewReader(tc.in), keys)
		if err != nil || d != tc.detached || out.String() != tc.out {
			t.Errorf("%q: detached %v out %q err %v; want %v %q", tc.in, d, out.String(), err, tc.detached, tc.out)
		}
	}
}

func TestFramesRoundTrip(t *testing.T) {
	a, b := net.Pipe()
	ca, cb := NewConn(a), NewConn(b)
	go func() {
		_ = ca.WriteFrame(Stdout, []byte("out"))
		_ = ca.WriteFrame(Resize, EncodeResize(30, 100))
		_ = ca.WriteJSON(Exit, ExitMsg{Code: 3})
		a.Close()
	}()
	typ, p, err := cb.ReadFrame(nil)
	if err != nil || typ != Stdout || string(p) != "out" {
		t.Fatalf("frame 1: %c %q %v", typ, p, err)
	}
	typ, p, err = cb.ReadFrame(nil)
	rows, cols, derr := DecodeResize(p)
	if err != nil || typ != Resize || derr != nil || rows != 30 || cols != 100 {
		t.Fatalf("frame 2: %c %d %d %v %v", typ, rows, cols, err, derr)
	}
	res, err := cb.Stream(StreamOptions{}, b)
	if err != nil || res.Exit == nil || res.Exit.Code != 3 {
		t.Fatalf("stream: %+v %v", res, err)
	}
}
