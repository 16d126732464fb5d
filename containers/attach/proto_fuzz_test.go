package attach

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"runtime"
	"testing"
)

// The monitor reads frames from any process that can open its socket, and
// a client reads whatever the socket's other end sends: a frame header is
// a length the peer chooses. FuzzReadFrame checks that decoding never
// panics and that no claimed length makes the reader allocate more than
// maxFrame, whatever the bytes.

// frame builds one raw frame, its length field as given.
func frame(typ byte, n uint32, payload []byte) []byte {
	b := make([]byte, 5, 5+len(payload))
	b[0] = typ
	binary.BigEndian.PutUint32(b[1:], n)
	return append(b, payload...)
}

func FuzzReadFrame(f *testing.F) {
	hello, _ := json.Marshal(HelloMsg{Stdin: true, Stdout: true, Rows: 24, Cols: 80})
	exit, _ := json.Marshal(ExitMsg{Code: 137, Error: "killed", OOMKilled: true})
	started, _ := json.Marshal(StartedMsg{Pid: 42})
	stop, _ := json.Marshal(RequestMsg{Version: Version, ID: 7, Op: OpStop, Signal: 15, Timeout: 10e9})
	reply, _ := json.Marshal(ReplyMsg{Version: Version, ID: 7, Status: "exited", ExitCode: 143})
	seeds := [][]byte{
		nil,
		frame(Hello, uint32(len(hello)), hello),
		append(frame(Stdout, 3, []byte("hi\n")), frame(Exit, uint32(len(exit)), exit)...),
		append(frame(Started, uint32(len(started)), started), frame(Stderr, 1, []byte("!"))...),
		frame(Resize, 4, EncodeResize(24, 80)),
		frame(Signal, 4, EncodeSignal(15)),
		frame(CloseStdin, 0, nil),
		frame(Request, uint32(len(stop)), stop),
		frame(Reply, uint32(len(reply)), reply),
		frame(Request, 9, []byte(`{"op":"st`)),             // cut short
		frame(Stdout, 0xffffffff, []byte("4 GiB claimed")), // must not be allocated
		frame(Stdout, maxFrame, []byte("1 MiB claimed, 17 bytes sent")),
		frame(Stdout, maxFrame+1, nil),
		frame(Exit, 5, []byte("{bad}")),
		frame(Resize, 3, []byte{1, 2, 3}),
		{Stdout, 0, 0},
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)

		// As the monitor reads a client: frames until an error, each
		// payload decoded as its type says.
		c := NewConn(struct {
			io.Reader
			io.Writer
		}{bytes.NewReader(data), io.Discard})
		var buf []byte
		for {
			typ, p, err := c.ReadFrame(buf)
			if err != nil {
				break
			}
			if len(p) > maxFrame {
				t.Fatalf("frame of %d bytes read, over the %d limit", len(p), maxFrame)
			}
			buf = p
			switch typ {
			case Hello:
				var h HelloMsg
				_ = json.Unmarshal(p, &h)
			case Resize:
				_, _, _ = DecodeResize(p)
			case Signal:
				_, _ = DecodeSignal(p)
			case Request:
				var r RequestMsg
				_ = json.Unmarshal(p, &r)
			}
		}

		// As a client reads the monitor: its output to the end.
		var out bytes.Buffer
		cl := NewClient(struct {
			io.Reader
			io.Writer
			io.Closer
		}{bytes.NewReader(data), io.Discard, io.NopCloser(nil)})
		_, _ = cl.Output(&out, &out)
		if out.Len() > len(data) {
			t.Fatalf("%d bytes of output from %d bytes of input", out.Len(), len(data))
		}

		// Two readers and their buffers (bufio's 64 KiB, at most one
		// maxFrame payload each, the output): a claimed length must not
		// count. The bound is loose so that other goroutines of the fuzz
		// worker cannot trip it.
		runtime.ReadMemStats(&after)
		if grown := after.TotalAlloc - before.TotalAlloc; grown > 4*maxFrame+uint64(8*len(data)) {
			t.Fatalf("decoding %d bytes allocated %d bytes", len(data), grown)
		}
	})
}

// FuzzFrameRoundTrip checks that what WriteFrame sends ReadFrame returns
// unchanged, one frame after the other: a payload is never split, merged
// or cut, whatever bytes it holds.
func FuzzFrameRoundTrip(f *testing.F) {
	f.Add(Stdout, []byte("hello\n"), Stderr, []byte{})
	f.Add(Stdin, []byte{0, 0, 0, 5, 'X'}, Exit, []byte(`{"code":0}`))
	f.Fuzz(func(t *testing.T, typ1 byte, p1 []byte, typ2 byte, p2 []byte) {
		var wire bytes.Buffer
		w := NewConn(struct {
			io.Reader
			io.Writer
		}{nil, &wire})
		if err := w.WriteFrame(typ1, p1); err != nil {
			t.Fatal(err)
		}
		if err := w.WriteFrame(typ2, p2); err != nil {
			t.Fatal(err)
		}
		r := NewConn(struct {
			io.Reader
			io.Writer
		}{&wire, io.Discard})
		for i, want := range []struct {
			typ byte
			p   []byte
		}{{typ1, p1}, {typ2, p2}} {
			typ, p, err := r.ReadFrame(nil)
			if err != nil || typ != want.typ || !bytes.Equal(p, want.p) {
				t.Fatalf("frame %d: got %q %q, %v; want %q %q", i, typ, p, err, want.typ, want.p)
			}
		}
		if _, _, err := r.ReadFrame(nil); err != io.EOF {
			t.Fatalf("after the last frame: %v, want EOF", err)
		}
	})
}
