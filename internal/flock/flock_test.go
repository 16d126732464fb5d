package flock_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"berth/internal/flock"
	"berth/internal/flock/flocktest"
)

// hold locks path exclusively through an open file of its own, as another
// process would, and returns what lets go.
func hold(t *testing.T, path string) (release func()) {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	released := false
	t.Cleanup(func() {
		if !released {
			unix.Close(fd)
		}
	})
	return func() { released = true; unix.Close(fd) }
}

// heldBySomeone reports whether path is locked by another open file.
func heldBySomeone(t *testing.T, path string) bool {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	return unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) != nil
}

func TestCancelEndsTheWait(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	release := hold(t, path)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		unlock, err := flock.Lock(ctx, path, true)
		if err == nil {
			unlock()
		}
		done <- err
	}()
	flocktest.UntilWaiting(t, 1, done)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || err != ctx.Err() {
		t.Fatalf("cancelled wait: %v, want ctx.Err()", err)
	}
	if n := flock.Waiting(); n != 0 {
		t.Errorf("%d waits still counted after the cancel", n)
	}
	// Nothing of the cancelled wait lingers to take the lock once it is free.
	release()
	if heldBySomeone(t, path) {
		t.Error("the lock is held after its holder let go and the waiter gave up")
	}
}

func TestDeadlineEndsTheWait(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	hold(t, path)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := flock.Lock(ctx, path, false); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("shared lock past its deadline: %v, want context.DeadlineExceeded", err)
	}
}

func TestWaitGetsTheReleasedLock(t *testing.T) {
	for _, tc := range []struct {
		name string
		ctx  context.Context
	}{
		{"cancellable", t.Context()},
		{"never done", context.WithoutCancel(t.Context())}, // waits in the kernel
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "lock")
			release := hold(t, path)
			got := make(chan func(), 1)
			done := make(chan error, 1)
			go func() {
				unlock, err := flock.Lock(tc.ctx, path, true)
				if err != nil {
					done <- err
					return
				}
				got <- unlock
			}()
			flocktest.UntilWaiting(t, 1, done)
			release()
			var unlock func()
			select {
			case unlock = <-got:
			case err := <-done:
				t.Fatalf("wait for a released lock: %v", err)
			}
			if !heldBySomeone(t, path) {
				t.Error("Lock returned without holding the lock")
			}
			unlock()
			if heldBySomeone(t, path) {
				t.Error("the lock is held after unlock")
			}
		})
	}
}

func TestDoneContextDoesNotLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := flock.Lock(ctx, path, true); !errors.Is(err, context.Canceled) {
		t.Fatalf("Lock with a done context: %v", err)
	}
	if heldBySomeone(t, path) {
		t.Error("a done context took the lock")
	}
}
