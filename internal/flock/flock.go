// Package flock takes flock(2) locks whose wait a context can end.
//
// A blocking flock cannot be called off: Go's signal handlers restart it
// (SA_RESTART), and closing the descriptor does not wake it. A goroutine
// left blocked in it after its caller gave up would live, holding a
// descriptor, until the holder lets go, and then take the lock for
// nobody. So a wait that can be cancelled tries the lock without blocking
// and sleeps between tries, checking the context: nothing is left behind
// when it ends. A context that can never be done waits in the kernel,
// queued with the other waiters.
package flock

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// maxDelay bounds the time between two tries: the most a waiter can lag
// behind the release of a contended lock.
const maxDelay = 10 * time.Millisecond

var waiting atomic.Int64

// Waiting reports how many lock waits of this process are in progress:
// callers that found the lock held and have not got it yet.
func Waiting() int { return int(waiting.Load()) }

// Lock opens path (creating it, mode 0600) and locks it, exclusive or
// shared. unlock releases the lock and closes the file. A wait ended by
// ctx returns ctx.Err(), a failed flock its errno.
func Lock(ctx context.Context, path string, exclusive bool) (unlock func(), err error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	if err := Wait(ctx, fd, how); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return func() { unix.Close(fd) }, nil
}

// Wait takes a flock (how: LOCK_EX or LOCK_SH) on fd, waiting while
// another open file holds a conflicting one, until ctx is done.
func Wait(ctx context.Context, fd, how int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := try(fd, how|unix.LOCK_NB)
	if err != unix.EWOULDBLOCK {
		return err
	}
	waiting.Add(1)
	defer waiting.Add(-1)
	if ctx.Done() == nil {
		return try(fd, how)
	}
	delay := time.Millisecond / 4
	t := time.NewTimer(delay)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		if err := try(fd, how|unix.LOCK_NB); err != unix.EWOULDBLOCK {
			return err
		}
		delay = min(2*delay, maxDelay)
		t.Reset(delay)
	}
}

// try is one flock call, repeated when a signal interrupts it.
func try(fd, how int) error {
	for {
		err := unix.Flock(fd, how)
		if err != unix.EINTR {
			return err
		}
	}
}
