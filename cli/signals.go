package cli

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"berth/engine"
)

// How an attached command treats the signals it gets, as Docker's CLI
// does. With proxying (--sig-proxy, the default of run and attach), every
// signal goes to the container's process, and the command goes on waiting
// for it; the third SIGINT or SIGTERM ends the command anyway ("got 3
// SIGTERM/SIGINTs, forcefully exiting", exit 1). Without proxying, the
// first SIGINT or SIGTERM ends it at once, exit 128+n. Either way the
// container runs on: its monitor, not this command, holds it.

// caughtSignals are the signals a command catches, from before its session
// opens (they wait in the channel) until release.
type caughtSignals struct {
	proxy bool
	ch    chan os.Signal
	a     *app
}

// catchSignals starts catching: every signal with proxy, else SIGINT and
// SIGTERM.
func (a *app) catchSignals(proxy bool) *caughtSignals {
	c := &caughtSignals{proxy: proxy, ch: make(chan os.Signal, 128), a: a}
	if proxy {
		signal.Notify(c.ch)
	} else {
		signal.Notify(c.ch, syscall.SIGINT, syscall.SIGTERM)
	}
	return c
}

// handle acts on the signals from now on: passes them to s (with proxy)
// and calls stop with the command's exit status when they end it.
func (c *caughtSignals) handle(s *engine.Session, stop func(error)) {
	go func() {
		terms := 0
		for sig := range c.ch {
			n, ok := sig.(syscall.Signal)
			if !ok {
				continue
			}
			if c.proxy && s != nil && proxied(n) {
				_ = s.Signal(n)
			}
			if n != syscall.SIGINT && n != syscall.SIGTERM {
				continue
			}
			terms++
			switch {
			case !c.proxy:
				stop(&statusError{code: 128 + int(n)})
			case terms >= 3:
				fmt.Fprint(c.a.stderr, "\ngot 3 SIGTERM/SIGINTs, forcefully exiting\n")
				stop(&statusError{code: 1})
			}
		}
	}()
}

// release stops catching.
func (c *caughtSignals) release() {
	signal.Stop(c.ch)
	close(c.ch)
}

// proxied tells whether a signal we get is passed on: not SIGCHLD and
// SIGPIPE, which are this process's own, nor SIGURG, which Go's runtime
// sends itself to preempt goroutines (as Docker's CLI skips them).
func proxied(sig syscall.Signal) bool {
	switch sig {
	case syscall.SIGCHLD, syscall.SIGPIPE, syscall.SIGURG:
		return false
	}
	return true
}

// checkTty refuses, as Docker does, a session on the container's terminal
// (-t) fed from our input (-i) when that input is not a terminal: the
// container would wait on a terminal no one types on.
func (a *app) checkTty(attachStdin, tty bool) error {
	if !tty || !attachStdin {
		return nil
	}
	if _, ok := ourTerminal(a.stdin); ok {
		return nil
	}
	return &statusError{code: 1, msg: "the input device is not a TTY"}
}
