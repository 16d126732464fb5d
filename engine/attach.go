package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"berth/containers/attach"
	"berth/errdefs"
)

// An attach session joins a caller's streams to a container's main process
// (through its monitor: run, start -a, attach) or to an exec'd process's
// terminal (exec -t). The caller owns its terminal: raw mode, and noticing
// size changes and signals. The session does the rest: it copies input,
// watches it for the detach keys, passes sizes and signals on, copies
// output, and ends with the exit code, a detach, or an error.

// DefaultDetachKeys is Docker's Ctrl-p Ctrl-q.
var DefaultDetachKeys = []byte{0x10, 0x11}

// ParseDetachKeys reads Docker's --detach-keys syntax: a comma-separated
// list of single characters or ctrl-<key> (ctrl-a ... ctrl-z, ctrl-@,
// ctrl-[, ctrl-\, ctrl-], ctrl-^, ctrl-_). Empty: the default keys.
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
				return nil, errdefs.InvalidArgument("invalid detach keys %q: unknown character %q", s, k)
			}
		default:
			return nil, errdefs.InvalidArgument("invalid detach keys %q: unknown key %q", s, k)
		}
	}
	return out, nil
}

// Streams are a caller's end of an attach session.
type Streams struct {
	// Stdin is read until it ends or the detach keys are typed. It is the
	// process's input only if the container keeps its stdin open (-i);
	// otherwise it is read for the detach keys alone. Nil: no input, and
	// no detaching.
	Stdin io.Reader
	// Stdout and Stderr take the process's output; nil: not wanted. On a
	// terminal all of it comes on Stdout.
	Stdout, Stderr io.Writer
	// Rows and Cols, when set, size the process's terminal.
	Rows, Cols uint16
	// DetachKeys, typed on Stdin, end the session and leave the container
	// running. Nil: no detaching.
	DetachKeys []byte
	// KeepStdinOpen: the end of Stdin does not end the container's input
	// (the UI takes its terminal back; the next client may type on).
	KeepStdinOpen bool
}

// AttachResult is how a session ended.
type AttachResult struct {
	// ExitCode is the process's exit status as Docker reports it (128+n
	// for signal n); 0 when detached.
	ExitCode int
	// Detached: the detach keys were typed; the process runs on.
	Detached bool
}

// target is what a session pumps: a monitor's connection or an exec'd
// process's terminal.
type target interface {
	io.Writer // the process's input
	closeInput() error
	resize(rows, cols uint16) error
	signal(sig syscall.Signal) error
	// output copies the process's output until it ends and returns its
	// exit code.
	output(stdout, stderr io.Writer) (int, error)
	// close ends the session and makes output return.
	close() error
}

// Session is an attach session, pumping from the moment it is returned.
type Session struct {
	t        target
	done     chan struct{} // closed when the session has ended
	res      AttachResult
	err      error
	detached atomic.Bool
	closed   atomic.Bool
	once     sync.Once

	inputDone chan struct{} // closed when input has stopped reading Stdin
	unread    []byte        // read from Stdin, not the process's: see Unread
}

// newSession starts pumping t with the caller's streams; forward says
// whether Stdin is the process's input or is read for the detach keys only.
func newSession(t target, st Streams, forward bool) *Session {
	s := &Session{t: t, done: make(chan struct{}), inputDone: make(chan struct{})}
	go func() {
		code, err := t.output(st.Stdout, st.Stderr)
		switch {
		case s.detached.Load():
			s.res = AttachResult{Detached: true}
		case s.closed.Load():
			s.err = net.ErrClosed
		default:
			s.res, s.err = AttachResult{ExitCode: code}, err
		}
		s.end()
		close(s.done)
	}()
	if st.Stdin != nil {
		go s.input(st, forward)
	} else {
		close(s.inputDone)
	}
	return s
}

// endedSession is a session whose process had already exited.
func endedSession(code int) *Session {
	s := &Session{done: make(chan struct{}), inputDone: make(chan struct{}), res: AttachResult{ExitCode: code}}
	s.once.Do(func() {})
	close(s.done)
	close(s.inputDone)
	return s
}

func (s *Session) end() {
	s.once.Do(func() {
		if s.t != nil {
			_ = s.t.close()
		}
	})
}

// input copies Stdin until it ends or the detach keys come.
func (s *Session) input(st Streams, forward bool) {
	var dst io.Writer = io.Discard
	if forward {
		dst = s.t
	}
	defer close(s.inputDone)
	detached, unread, err := copyInput(dst, st.Stdin, st.DetachKeys, s.done)
	s.unread = unread
	if detached {
		s.detached.Store(true)
		s.end()
		return
	}
	if forward && !st.KeepStdinOpen && !errors.Is(err, errSessionEnded) {
		_ = s.t.closeInput()
	}
}

// Wait returns how the session ended: the process's exit code, or a
// detach. A container that could not start is a *StartError (with its
// code in the result too). Cancelling ctx ends the session as Close does.
func (s *Session) Wait(ctx context.Context) (AttachResult, error) {
	select {
	case <-s.done:
		return s.res, s.err
	case <-ctx.Done():
		s.Close()
		<-s.done
		return AttachResult{}, ctx.Err()
	}
}

// Unread returns what the session read from Stdin but did not pass on:
// the keys typed after the detach keys in the same read, or read once the
// session had ended. They are the caller's (the UI's next keys). It waits
// until the session stops reading Stdin, so call it after Wait, once the
// caller has interrupted its Stdin's Read in progress, if any.
func (s *Session) Unread() []byte {
	<-s.inputDone
	return s.unread
}

// Resize sizes the process's terminal: the caller's terminal changed.
func (s *Session) Resize(rows, cols uint16) error {
	if s.t == nil {
		return net.ErrClosed
	}
	return s.t.resize(rows, cols)
}

// Signal sends sig to the process (a signal the caller received).
func (s *Session) Signal(sig syscall.Signal) error {
	if s.t == nil {
		return net.ErrClosed
	}
	return s.t.signal(sig)
}

// Close ends the session without waiting for the process, which runs on
// (an exec'd process loses its terminal). Wait then returns net.ErrClosed.
func (s *Session) Close() error {
	s.closed.Store(true)
	s.end()
	return nil
}

// errSessionEnded: input stopped because the session ended.
var errSessionEnded = errors.New("attach session ended")

// copyInput copies src to dst until src ends (false) or the detach keys
// are read (true), and stops reading once done is closed: a Read in
// progress then is the caller's to interrupt. It returns what it read and
// did not pass on: what followed the detach keys in their read, or what a
// Read returned after done was closed.
func copyInput(dst io.Writer, src io.Reader, keys []byte, done <-chan struct{}) (bool, []byte, error) {
	d := detacher{keys: keys}
	buf := make([]byte, 32<<10)
	var out []byte
	for {
		select {
		case <-done:
			return false, nil, errSessionEnded
		default:
		}
		n, rerr := src.Read(buf)
		select {
		case <-done:
			return false, bytes.Clone(buf[:n]), errSessionEnded
		default:
		}
		if n > 0 {
			var used int
			out, used = d.feed(out[:0], buf[:n])
			if len(out) > 0 {
				if _, err := dst.Write(out); err != nil {
					return false, nil, fmt.Errorf("write input: %w", err)
				}
			}
			if used >= 0 {
				return true, bytes.Clone(buf[used:n]), nil
			}
		}
		if rerr != nil {
			// Keys held back at the end were input after all.
			if held := d.keys[:d.matched]; len(held) > 0 {
				if _, err := dst.Write(held); err != nil {
					return false, nil, fmt.Errorf("write input: %w", err)
				}
			}
			if rerr == io.EOF {
				return false, nil, nil
			}
			return false, nil, fmt.Errorf("read input: %w", rerr)
		}
	}
}

// detacher finds the detach keys in input that comes in pieces: bytes
// that begin the sequence are held back until it completes or breaks, and
// a broken start is input after all.
type detacher struct {
	keys    []byte
	matched int // keys[:matched] are held back
}

// feed appends to out the input in p to pass on, and returns how many
// bytes of p it took to complete the sequence, or -1 if p did not (what
// follows it is not input).
func (d *detacher) feed(out, p []byte) ([]byte, int) {
	if len(d.keys) == 0 {
		return append(out, p...), -1
	}
	for i, b := range p {
		var done bool
		if out, done = d.feedByte(out, b); done {
			return out, i + 1
		}
	}
	return out, -1
}

func (d *detacher) feedByte(out []byte, b byte) ([]byte, bool) {
	if b == d.keys[d.matched] {
		d.matched++
		return out, d.matched == len(d.keys)
	}
	if d.matched == 0 {
		return append(out, b), false
	}
	// The first held key is input; the rest and b may begin the sequence
	// again (ctrl-p ctrl-p ctrl-q detaches). Fewer than len(keys) bytes are
	// fed again, so they cannot complete it.
	again := append(append(make([]byte, 0, d.matched), d.keys[1:d.matched]...), b)
	out = append(out, d.keys[0])
	d.matched = 0
	for _, a := range again {
		out, _ = d.feedByte(out, a)
	}
	return out, false
}

// monitorTarget is a session with a container's main process, through
// its monitor.
type monitorTarget struct{ c *attach.Client }

func (t monitorTarget) Write(p []byte) (int, error)     { return t.c.Write(p) }
func (t monitorTarget) closeInput() error               { return t.c.CloseStdin() }
func (t monitorTarget) resize(rows, cols uint16) error  { return t.c.Resize(rows, cols) }
func (t monitorTarget) signal(sig syscall.Signal) error { return t.c.Signal(int(sig)) }
func (t monitorTarget) close() error                    { return t.c.Close() }

func (t monitorTarget) output(stdout, stderr io.Writer) (int, error) {
	x, err := t.c.Output(stdout, stderr)
	if err != nil {
		return 0, err
	}
	if x.Error != "" {
		return x.Code, &StartError{Code: x.Code, Message: x.Error}
	}
	return x.Code, nil
}

// ptyTarget is a session with an exec'd process's terminal, whose master
// this process holds.
type ptyTarget struct {
	p      *ExecProcess
	closed chan struct{}
	once   sync.Once
}

func newPtyTarget(p *ExecProcess) *ptyTarget {
	return &ptyTarget{p: p, closed: make(chan struct{})}
}

func (t *ptyTarget) Write(b []byte) (int, error) { return t.p.Pty.Write(b) }

// closeInput does nothing: a terminal's input has no end to pass on.
func (t *ptyTarget) closeInput() error { return nil }

func (t *ptyTarget) resize(rows, cols uint16) error { return setWinsize(t.p.Pty, rows, cols) }

func (t *ptyTarget) signal(sig syscall.Signal) error { return t.p.Cmd.Process.Signal(sig) }

// close lets go of the terminal: closing the master hangs the process up,
// as closing a terminal window does. It is not waited for (one that
// ignores SIGHUP would hold the caller); it is reaped when it ends.
func (t *ptyTarget) close() error {
	var err error
	t.once.Do(func() {
		close(t.closed)
		err = t.p.Pty.Close()
	})
	return err
}

func (t *ptyTarget) output(stdout, _ io.Writer) (int, error) {
	if stdout == nil {
		stdout = io.Discard
	}
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(stdout, t.p.Pty) // ends with EIO once the process and its children are gone
		close(copied)
	}()
	var code int
	var werr error
	waited := make(chan struct{})
	go func() {
		code, werr = t.p.Wait()
		close(waited)
	}()
	select {
	case <-waited:
	case <-t.closed:
		return 0, net.ErrClosed
	}
	select {
	case <-copied:
	case <-t.closed:
		return 0, net.ErrClosed
	}
	return code, werr
}

// setWinsize sizes the terminal whose master is f, without taking f out of
// non-blocking mode as f.Fd() would.
func setWinsize(f *os.File, rows, cols uint16) error {
	sc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("resize terminal: %w", err)
	}
	var ierr error
	if err := sc.Control(func(fd uintptr) {
		ierr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
	}); err != nil {
		return fmt.Errorf("resize terminal: %w", err)
	}
	if ierr != nil {
		return fmt.Errorf("resize terminal: %w", ierr)
	}
	return nil
}
