package attach

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
)

// DefaultDetachKeys is Docker's Ctrl-p Ctrl-q.
var DefaultDetachKeys = []byte{0x10, 0x11}

// ParseDetachKeys reads Docker's --detach-keys syntax: a comma-separated
// list of single characters or ctrl-<key> (ctrl-a ... ctrl-z, ctrl-@,
// ctrl-[, ctrl-\, ctrl-], ctrl-^, ctrl-_).
func ParseDetachKeys(s string) ([]byte, error) {
	if s == "" {
		return DefaultDetachKeys, nil
	}
	var out []byte
	for _, k := range strings.Split(s, ",") {
		switch {
		case len(k) == 1:
			out = append(out, k[0])
		case strings.HasPrefix(k, "ctrl-") && len(k) == 6:
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				out = append(out, c-'a'+1)
			case c == '@':
				out = append(out, 0)
			case c >= '[' && c <= '_':
				out = append(out, c-'['+27)
			default:
				return nil, fmt.Errorf("invalid detach keys %q: unknown character %q", s, k)
			}
		default:
			return nil, fmt.Errorf("invalid detach keys %q: unknown key %q", s, k)
		}
	}
	return out, nil
}

// StreamOptions says where a session's streams go.
type StreamOptions struct {
	Stdin          io.Reader // nil: send no input
	Stdout, Stderr io.Writer
	// DetachKeys, when typed on Stdin, end the session and leave the
	// container running. Nil: no detaching.
	DetachKeys []byte
	// KeepStdinOpen: don't tell the monitor when Stdin reaches its end.
	KeepStdinOpen bool
}

// Result is how a session ended.
type Result struct {
	Exit     *ExitMsg // nil when detached or the connection broke
	Detached bool
	Pid      int // from a Started frame, if one came
}

// ErrDetached is never returned; Result.Detached reports detaching.

// Stream pumps a session until the container exits, the user detaches or
// the connection ends. It closes closer (the connection) when it returns.
func (c *Conn) Stream(opts StreamOptions, closer io.Closer) (Result, error) {
	defer closer.Close()
	var detached atomic.Bool
	if opts.Stdin != nil {
		go func() {
			if c.pumpStdin(opts.Stdin, opts.DetachKeys) {
				detached.Store(true)
				closer.Close()
				return
			}
			if !opts.KeepStdinOpen {
				_ = c.WriteFrame(CloseStdin, nil)
			}
		}()
	}
	var res Result
	var buf []byte
	for {
		typ, p, err := c.ReadFrame(buf)
		if err != nil {
			if detached.Load() {
				res.Detached = true
				return res, nil
			}
			if errors.Is(err, io.EOF) {
				return res, errors.New("connection to the container's monitor ended before the container exited")
			}
			return res, err
		}
		buf = p
		switch typ {
		case Stdout:
			if opts.Stdout != nil {
				if _, err := opts.Stdout.Write(p); err != nil {
					return res, err
				}
			}
		case Stderr:
			if opts.Stderr != nil {
				if _, err := opts.Stderr.Write(p); err != nil {
					return res, err
				}
			}
		case Started:
			var s StartedMsg
			if json.Unmarshal(p, &s) == nil {
				res.Pid = s.Pid
			}
		case Exit:
			var x ExitMsg
			if err := json.Unmarshal(p, &x); err != nil {
				return res, fmt.Errorf("attach: bad exit frame: %w", err)
			}
			res.Exit = &x
			return res, nil
		}
	}
}

// pumpStdin sends input until EOF (false) or the detach sequence (true).
func (c *Conn) pumpStdin(r io.Reader, keys []byte) bool {
	detached, _ := CopyInput(frameWriter{c}, r, keys)
	return detached
}

type frameWriter struct{ c *Conn }

func (w frameWriter) Write(p []byte) (int, error) {
	if err := w.c.WriteFrame(Stdin, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// CopyInput copies src to dst until src ends (false) or the detach key
// sequence is read (true). Keys that start the sequence are held back until
// it is complete or broken; a broken sequence is passed on as input.
func CopyInput(dst io.Writer, src io.Reader, keys []byte) (bool, error) {
	buf := make([]byte, 32<<10)
	var send []byte
	matched := 0
	for {
		n, err := src.Read(buf)
		if n > 0 {
			out := buf[:n]
			if len(keys) > 0 {
				send = send[:0]
				for _, b := range buf[:n] {
					if b == keys[matched] {
						matched++
						if matched == len(keys) {
							if len(send) > 0 {
								_, _ = dst.Write(send)
							}
							return true, nil
						}
						continue
					}
					send = append(send, keys[:matched]...)
					matched = 0
					if b == keys[0] {
						matched = 1
						continue
					}
					send = append(send, b)
				}
				out = send
			}
			if len(out) > 0 {
				if _, werr := dst.Write(out); werr != nil {
					return false, werr
				}
			}
		}
		if err != nil {
			if err == io.EOF {
				return false, nil
			}
			return false, err
		}
	}
}
