package attach

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Client is a client's end of a connection to a container's monitor: the
// frames a client sends, and the reading of what the monitor sends. What
// a session does with them (input, detach keys, resizes) is the engine's.
type Client struct {
	conn *Conn
	c    io.Closer
}

// NewClient frames rw; Close closes it.
func NewClient(rw io.ReadWriteCloser) *Client {
	return &Client{conn: NewConn(rw), c: rw}
}

// Hello sends the first frame: what the client wants to receive.
func (c *Client) Hello(h HelloMsg) error { return c.conn.WriteJSON(Hello, h) }

// Write sends p as input for the container.
func (c *Client) Write(p []byte) (int, error) {
	if err := c.conn.WriteFrame(Stdin, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// CloseStdin tells the monitor that the client's input ended.
func (c *Client) CloseStdin() error { return c.conn.WriteFrame(CloseStdin, nil) }

// Resize sizes the container's terminal.
func (c *Client) Resize(rows, cols uint16) error {
	return c.conn.WriteFrame(Resize, EncodeResize(rows, cols))
}

// Signal asks the monitor to signal the container's process.
func (c *Client) Signal(sig int) error { return c.conn.WriteFrame(Signal, EncodeSignal(sig)) }

// Close ends the connection; a read in progress returns.
func (c *Client) Close() error { return c.c.Close() }

// WaitStarted reads until the container runs (true) or the monitor says
// how it ended (false, with its Exit frame). Output before either is
// dropped: a session asks for it only once the container runs.
func (c *Client) WaitStarted() (bool, ExitMsg, error) {
	var buf []byte
	for {
		typ, p, err := c.conn.ReadFrame(buf)
		if err != nil {
			return false, ExitMsg{}, err
		}
		buf = p
		switch typ {
		case Started:
			return true, ExitMsg{}, nil
		case Exit:
			var x ExitMsg
			if err := json.Unmarshal(p, &x); err != nil {
				return false, x, fmt.Errorf("attach: bad exit frame: %w", err)
			}
			return false, x, nil
		}
	}
}

// ErrNoExit: the connection ended before the monitor said how the
// container exited (the monitor was killed, or the client closed it).
var ErrNoExit = errors.New("connection to the container's monitor ended before the container exited")

// Output copies the container's output to stdout and stderr (nil: dropped)
// until the monitor's Exit frame, and returns it.
func (c *Client) Output(stdout, stderr io.Writer) (ExitMsg, error) {
	var buf []byte
	for {
		typ, p, err := c.conn.ReadFrame(buf)
		if errors.Is(err, io.EOF) {
			return ExitMsg{}, ErrNoExit
		}
		if err != nil {
			return ExitMsg{}, err
		}
		buf = p
		var w io.Writer
		switch typ {
		case Stdout:
			w = stdout
		case Stderr:
			w = stderr
		case Exit:
			var x ExitMsg
			if err := json.Unmarshal(p, &x); err != nil {
				return x, fmt.Errorf("attach: bad exit frame: %w", err)
			}
			return x, nil
		}
		if w != nil {
			if _, err := w.Write(p); err != nil {
				return ExitMsg{}, fmt.Errorf("write the container's output: %w", err)
			}
		}
	}
}
