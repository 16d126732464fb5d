package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"berth/containers/attach"
	"berth/errdefs"
)

// ErrGone says that no monitor answers for the container: it has exited
// (its container stopped) or died (kill -9). The caller looks at the
// container's record to tell which.
var ErrGone = errors.New("container monitor is gone")

// ErrUnsupported says the monitor does not know the request: an unknown
// op or a newer protocol version (a monitor started by an older berth).
var ErrUnsupported = errors.New("control request not supported by the container's monitor")

// Client sends control requests to one container's monitor. Its calls
// may come from several goroutines; they take turns on the connection.
type Client struct {
	mu   sync.Mutex
	raw  net.Conn
	conn *attach.Conn
	next uint64
	buf  []byte
}

// Dial connects to the monitor of the container whose directory is dir.
// An error wrapping ErrGone means no monitor listens there.
func Dial(ctx context.Context, dir string) (*Client, error) {
	addr, done, err := SocketAddr(dir)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) {
			return nil, fmt.Errorf("%w: %w", ErrGone, err)
		}
		return nil, fmt.Errorf("connect to container monitor: %w", err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", addr)
	done()
	if err != nil {
		// No socket (never made, or removed with its container), or no
		// one listening on it (its monitor died).
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return nil, fmt.Errorf("%w: %w", ErrGone, err)
		}
		return nil, fmt.Errorf("connect to container monitor: %w", err)
	}
	return &Client{raw: conn, conn: attach.NewConn(conn)}, nil
}

// Close ends the connection; a stop already asked for goes on.
func (c *Client) Close() error { return c.raw.Close() }

// Do sends one request and waits for its reply. A reply that reports a
// failure comes back as the error, of the engine's kinds (errdefs). When
// ctx ends first the connection is closed (the monitor carries on with
// what it was asked) and ctx's error returned.
func (c *Client) Do(ctx context.Context, req attach.RequestMsg) (attach.ReplyMsg, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next++
	req.Version, req.ID = attach.Version, c.next
	stop := context.AfterFunc(ctx, func() { c.raw.Close() })
	defer stop()
	if err := c.conn.WriteJSON(attach.Request, req); err != nil {
		return attach.ReplyMsg{}, c.broken(ctx, req.Op, err)
	}
	for {
		typ, p, err := c.conn.ReadFrame(c.buf)
		if err != nil {
			return attach.ReplyMsg{}, c.broken(ctx, req.Op, err)
		}
		c.buf = p
		if typ != attach.Reply {
			continue
		}
		var rep attach.ReplyMsg
		if err := json.Unmarshal(p, &rep); err != nil {
			return rep, fmt.Errorf("%s: bad reply from the container's monitor: %w", req.Op, err)
		}
		if rep.ID != req.ID {
			continue // the late reply of a request whose caller gave up
		}
		return rep, replyError(rep)
	}
}

func (c *Client) broken(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		// The monitor exited before it answered (its container stopped
		// as the request came), or died; a monitor from before control
		// requests also hangs up on one.
		return fmt.Errorf("%s: %w: it closed the connection without answering", op, ErrGone)
	}
	return fmt.Errorf("%s: talk to the container's monitor: %w", op, err)
}

func replyError(rep attach.ReplyMsg) error {
	switch {
	case rep.Error == "" && rep.ErrorKind == "":
		return nil
	case rep.ErrorKind == attach.ErrorNotRunning:
		return errdefs.NotRunning("%s", rep.Error)
	case rep.ErrorKind == attach.ErrorConflict:
		return errdefs.Conflict("%s", rep.Error)
	case rep.ErrorKind == attach.ErrorInvalid:
		return errdefs.InvalidArgument("%s", rep.Error)
	case rep.ErrorKind == attach.ErrorUnsupported:
		return fmt.Errorf("%w: %s", ErrUnsupported, rep.Error)
	}
	return fmt.Errorf("container monitor: %s", rep.Error)
}

// Stop stops the container: sig, up to timeout, then SIGKILL (at once
// when timeout is 0). It returns once the container has stopped for good,
// with its exit code.
func (c *Client) Stop(ctx context.Context, sig syscall.Signal, timeout time.Duration) (int, error) {
	rep, err := c.Do(ctx, attach.RequestMsg{Op: attach.OpStop, Signal: int(sig), Timeout: timeout})
	return rep.ExitCode, err
}

// Kill sends sig to the container's process as a user's kill (the restart
// policy no longer applies); it returns once the signal is delivered.
func (c *Client) Kill(ctx context.Context, sig syscall.Signal) error {
	_, err := c.Do(ctx, attach.RequestMsg{Op: attach.OpKill, Signal: int(sig)})
	return err
}

// Signal passes sig on to the container's process, recording nothing.
func (c *Client) Signal(ctx context.Context, sig syscall.Signal) error {
	_, err := c.Do(ctx, attach.RequestMsg{Op: attach.OpSignal, Signal: int(sig)})
	return err
}

// Pause freezes the container's processes.
func (c *Client) Pause(ctx context.Context) error {
	_, err := c.Do(ctx, attach.RequestMsg{Op: attach.OpPause})
	return err
}

// Unpause thaws a paused container.
func (c *Client) Unpause(ctx context.Context) error {
	_, err := c.Do(ctx, attach.RequestMsg{Op: attach.OpUnpause})
	return err
}

// Resize sizes the container's terminal.
func (c *Client) Resize(ctx context.Context, rows, cols uint16) error {
	_, err := c.Do(ctx, attach.RequestMsg{Op: attach.OpResize, Rows: rows, Cols: cols})
	return err
}
