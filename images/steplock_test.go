package images

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"berth/internal/check"
	"berth/internal/flock/flocktest"
)

// Builds of one step take turns: a waiter gets the lock when its holder
// lets go, even though the holder removed the file the waiter had opened,
// and the lock it gets is the one the next builds see.
func TestBuildStepLockTurns(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	unlockA, err := s.LockBuildStep(ctx, "sha256:step")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.TryLockBuildStep("sha256:step"); ok || err != nil {
		t.Fatalf("TryLockBuildStep of a held step: ok %v, %v", ok, err)
	}
	// Another step is not held up by it.
	unlockOther, ok, err := s.TryLockBuildStep("sha256:other")
	if !ok || err != nil {
		t.Fatalf("TryLockBuildStep of another step: ok %v, %v", ok, err)
	}
	unlockOther()

	got := make(chan func(), 1)
	done := make(chan error, 1)
	go func() {
		unlock, err := s.LockBuildStep(ctx, "sha256:step")
		if err != nil {
			done <- err
			return
		}
		got <- unlock
	}()
	flocktest.UntilWaiting(t, 1, done) // it opened the file A holds
	unlockA()
	var unlockB func()
	select {
	case unlockB = <-got:
	case err := <-done:
		t.Fatalf("waiter: %v", err)
	}
	// B holds the lock at the path: a third build cannot take it.
	if _, ok, err := s.TryLockBuildStep("sha256:step"); ok || err != nil {
		t.Fatalf("a step lock held by the waiter was free: ok %v, %v", ok, err)
	}
	unlockB()
	unlockC, ok, err := s.TryLockBuildStep("sha256:step")
	if !ok || err != nil {
		t.Fatalf("TryLockBuildStep after both let go: ok %v, %v", ok, err)
	}
	unlockC()
	assertNoLeftovers(t, s)
}

func TestBuildStepLockCancelledWait(t *testing.T) {
	s := newStore(t)
	unlock, err := s.LockBuildStep(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		u, err := s.LockBuildStep(ctx, "k")
		if err == nil {
			u()
		}
		done <- err
	}()
	flocktest.UntilWaiting(t, 1, done)
	cancel()
	err = <-done
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "another build") {
		t.Fatalf("cancelled wait: %v, want context.Canceled saying what it waited for", err)
	}
}

// A holder that dies leaves its lock file, unlocked: Check reports it as
// harmless and Open removes it.
func TestBuildStepLockLeftover(t *testing.T) {
	root := t.TempDir()
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	// What a killed holder leaves: the file, without its flock.
	if err := os.WriteFile(s.stepLockPath("k"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// A live holder's lock is no finding.
	unlock, err := s.LockBuildStep(context.Background(), "live")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	k, err := OpenWith(root, OpenOptions{KeepLeftovers: true})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := k.Check(context.Background(), CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].Object != s.stepLockPath("k") || rep.Findings[0].Severity != check.Harmless {
		t.Fatalf("check findings %+v, want the dead holder's lock, harmless", rep.Findings)
	}
	if _, err := Open(root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.stepLockPath("k")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open left the dead holder's lock file: %v", err)
	}
	if _, err := os.Stat(s.stepLockPath("live")); err != nil {
		t.Errorf("Open removed a live holder's lock file: %v", err)
	}
}
