// Package attach is the wire protocol between a container's monitor and the
// clients attached to it (berth run, berth attach, the UI) or controlling
// it (the engine's stop, kill, pause, restart, rm). A connection is a unix stream
// socket carrying frames: one type byte, a big-endian uint32 length, then
// the payload.
//
// A connection's first frame says what it is for: Hello opens an attach
// session (output and the Exit frame follow); Request opens a control
// connection, which gets nothing but a Reply for each Request. Requests
// may also come on an attach session, after its Hello.
package attach

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// Frame types. Client to monitor: Hello, Stdin, CloseStdin, Resize, Signal,
// Request. Monitor to client: Started, Stdout, Stderr, Exit, Reply.
// Resize and Signal are the one-way forms an attach session sends as the
// terminal changes or a signal is proxied: the monitor handles them as
// the Request of the same op, with no Reply. A peer ignores frame types
// it does not know.
const (
	Hello      byte = 'H'
	Stdin      byte = 'I'
	CloseStdin byte = 'C'
	Resize     byte = 'R'
	Signal     byte = 'K'
	Request    byte = 'Q'
	Started    byte = 'S'
	Stdout     byte = 'O'
	Stderr     byte = 'E'
	Exit       byte = 'X'
	Reply      byte = 'A'
)

// maxFrame bounds a frame so a broken peer cannot make us allocate wildly.
const maxFrame = 1 << 20

// HelloMsg is the first frame a client sends: what it wants to receive.
type HelloMsg struct {
	Stdin  bool `json:"stdin"`
	Stdout bool `json:"stdout"`
	Stderr bool `json:"stderr"`
	// Rows and Cols, when set, size the container's terminal.
	Rows uint16 `json:"rows,omitempty"`
	Cols uint16 `json:"cols,omitempty"`
}

// ExitMsg ends a session: the container's exit, or why it could not start.
type ExitMsg struct {
	Code      int    `json:"code"`
	Error     string `json:"error,omitempty"`
	OOMKilled bool   `json:"oomKilled,omitempty"`
}

// StartedMsg tells the client the container's process runs.
type StartedMsg struct {
	Pid int `json:"pid"`
}

// ResizeMsg is a terminal size.
type ResizeMsg struct {
	Rows uint16 `json:"rows"`
	Cols uint16 `json:"cols"`
}

// Version is the control protocol this package speaks: a monitor answers
// a Request of a newer version with ErrorUnsupported instead of guessing
// at fields it does not know. Add ops and optional fields freely; bump it
// when an existing op changes meaning.
const Version = 1

// Control ops. Every control request, now and later (health checks, the
// network's work), is one RequestMsg answered by one ReplyMsg.
const (
	// OpStop records that a user stopped the container (its restart
	// policy no longer applies and a pending restart is called off),
	// sends Signal, waits up to Timeout, then kills. The reply comes
	// once the container has stopped.
	OpStop = "stop"
	// OpKill records the stop as OpStop does and sends Signal; the reply
	// comes once the signal is delivered.
	OpKill = "kill"
	// OpSignal passes Signal on to the container's process (an attached
	// client proxying its own signals); nothing is recorded.
	OpSignal = "signal"
	// OpResize sizes the container's terminal to Rows x Cols.
	OpResize = "resize"
	// OpPause freezes every process of the container; OpUnpause thaws
	// them.
	OpPause   = "pause"
	OpUnpause = "unpause"
)

// RequestMsg is one control request.
type RequestMsg struct {
	Version int `json:"v"`
	// ID is echoed in the reply, so that replies to requests sent on one
	// connection without waiting can be told apart.
	ID     uint64 `json:"id"`
	Op     string `json:"op"`
	Signal int    `json:"signal,omitempty"`
	// Timeout (OpStop) is how long the process has after Signal before
	// it is killed; zero kills at once.
	Timeout time.Duration `json:"timeout,omitempty"`
	Rows    uint16        `json:"rows,omitempty"`
	Cols    uint16        `json:"cols,omitempty"`
}

// Error kinds of a ReplyMsg, so that the client can give the engine's
// error kinds (errdefs) back.
const (
	ErrorNotRunning  = "not-running" // nothing runs to take the request
	ErrorConflict    = "conflict"    // not now: already paused, not paused
	ErrorInvalid     = "invalid"     // a bad signal or size
	ErrorUnsupported = "unsupported" // unknown op or newer version
	ErrorFailed      = "failed"      // the monitor tried and failed
)

// ReplyMsg answers one RequestMsg. Error is empty on success.
type ReplyMsg struct {
	Version   int    `json:"v"`
	ID        uint64 `json:"id"`
	Error     string `json:"error,omitempty"`
	ErrorKind string `json:"errorKind,omitempty"`
	// Status and ExitCode are the container's, as the monitor recorded
	// them when it answered (after a stop: how it ended).
	Status   string `json:"status,omitempty"`
	ExitCode int    `json:"exitCode"`
}

// Conn frames a byte stream. Writes are safe from several goroutines; reads
// belong to one goroutine.
type Conn struct {
	rw  io.ReadWriter
	r   *bufio.Reader
	wmu sync.Mutex
	buf []byte
}

// NewConn wraps rw.
func NewConn(rw io.ReadWriter) *Conn {
	return &Conn{rw: rw, r: bufio.NewReaderSize(rw, 64<<10)}
}

// WriteFrame sends one frame.
func (c *Conn) WriteFrame(typ byte, payload []byte) error {
	if len(payload) > maxFrame {
		return fmt.Errorf("attach: frame of %d bytes exceeds %d", len(payload), maxFrame)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	need := 5 + len(payload)
	if cap(c.buf) < need {
		c.buf = make([]byte, need)
	}
	b := c.buf[:need]
	b[0] = typ
	binary.BigEndian.PutUint32(b[1:5], uint32(len(payload)))
	copy(b[5:], payload)
	_, err := c.rw.Write(b)
	return err
}

// WriteJSON sends v as the payload of one frame.
func (c *Conn) WriteJSON(typ byte, v any) error {
	p, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.WriteFrame(typ, p)
}

// ReadFrame returns the next frame. The payload is valid until the next call
// when buf is reused: pass the previous payload back as buf.
func (c *Conn) ReadFrame(buf []byte) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("attach: frame of %d bytes exceeds %d", n, maxFrame)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(c.r, buf); err != nil {
		return 0, nil, fmt.Errorf("attach: short frame: %w", err)
	}
	return hdr[0], buf, nil
}

// EncodeResize packs a terminal size into a Resize payload.
func EncodeResize(rows, cols uint16) []byte {
	var b [4]byte
	binary.BigEndian.PutUint16(b[0:], rows)
	binary.BigEndian.PutUint16(b[2:], cols)
	return b[:]
}

// DecodeResize unpacks a Resize payload.
func DecodeResize(p []byte) (rows, cols uint16, err error) {
	if len(p) != 4 {
		return 0, 0, fmt.Errorf("attach: resize payload of %d bytes, want 4", len(p))
	}
	return binary.BigEndian.Uint16(p[0:]), binary.BigEndian.Uint16(p[2:]), nil
}

// EncodeSignal packs a signal number.
func EncodeSignal(sig int) []byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(sig))
	return b[:]
}

// DecodeSignal unpacks a Signal payload.
func DecodeSignal(p []byte) (int, error) {
	if len(p) != 4 {
		return 0, fmt.Errorf("attach: signal payload of %d bytes, want 4", len(p))
	}
	return int(binary.BigEndian.Uint32(p)), nil
}
