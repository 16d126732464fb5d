package attach

import (
	"bytes"
	"errors"
	"net"
	"testing"
)

func TestFramesRoundTrip(t *testing.T) {
	a, b := net.Pipe()
	ca, cb := NewConn(a), NewClient(b)
	go func() {
		_ = ca.WriteFrame(Stdout, []byte("out"))
		_ = ca.WriteFrame(Resize, EncodeResize(30, 100))
		_ = ca.WriteFrame(Stderr, []byte("err"))
		_ = ca.WriteJSON(Exit, ExitMsg{Code: 3})
		a.Close()
	}()
	typ, p, err := cb.conn.ReadFrame(nil)
	if err != nil || typ != Stdout || string(p) != "out" {
		t.Fatalf("frame 1: %c %q %v", typ, p, err)
	}
	typ, p, err = cb.conn.ReadFrame(nil)
	rows, cols, derr := DecodeResize(p)
	if err != nil || typ != Resize || derr != nil || rows != 30 || cols != 100 {
		t.Fatalf("frame 2: %c %d %d %v %v", typ, rows, cols, err, derr)
	}
	var out, errb bytes.Buffer
	x, err := cb.Output(&out, &errb)
	if err != nil || x.Code != 3 || out.Len() != 0 || errb.String() != "err" {
		t.Fatalf("output: %+v %v, stdout %q stderr %q", x, err, out.String(), errb.String())
	}
}

// A connection that ends before the Exit frame is ErrNoExit, not an exit.
func TestOutputNoExit(t *testing.T) {
	a, b := net.Pipe()
	go func() {
		_ = NewConn(a).WriteFrame(Stdout, []byte("partial"))
		a.Close()
	}()
	var out bytes.Buffer
	if _, err := NewClient(b).Output(&out, nil); !errors.Is(err, ErrNoExit) || out.String() != "partial" {
		t.Fatalf("output %q, err %v; want partial and ErrNoExit", out.String(), err)
	}
}
