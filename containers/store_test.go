package containers

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"berth/internal/flock/flocktest"
)

// TestLockWaitEndsWithContext holds each lock the store waits for through
// a file of its own (as another berth process would), and cancels the
// store call once it waits: the call returns ctx's error and changes
// nothing.
func TestLockWaitEndsWithContext(t *testing.T) {
	s := newCheckStore(t)
	c := fuzzContainer(NewID(), "held")
	if err := s.Create(t.Context(), c, nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		lock string // held while op runs
		op   func(ctx context.Context) error
	}{
		{"create", ".lock", func(ctx context.Context) error {
			return s.Create(ctx, fuzzContainer(NewID(), "new"), nil)
		}},
		{"rename", ".lock", func(ctx context.Context) error { return s.Rename(ctx, c.ID, "renamed") }},
		{"update config", ".lock", func(ctx context.Context) error {
			_, err := s.UpdateConfig(ctx, c.ID, func(c *Container) error { c.Name = "changed"; return nil })
			return err
		}},
		{"remove", ".lock", func(ctx context.Context) error { return s.Remove(ctx, c.ID) }},
		{"update state", filepath.Join(c.ID, "state.lock"), func(ctx context.Context) error {
			_, err := s.UpdateState(ctx, c.ID, func(st *State) { st.ExitCode = 9 })
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fd, err := unix.Open(filepath.Join(s.dir, tt.lock), unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- tt.op(ctx) }()
			flocktest.UntilWaiting(t, 1, done)
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled while waiting for %s: %v, want context.Canceled", tt.lock, err)
			}
			all, err := s.List(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != 1 || all[0].ID != c.ID || all[0].Name != "held" || all[0].State.ExitCode != 0 {
				t.Errorf("after the cancelled call the store holds %d containers, first %+v", len(all), all[0])
			}
			entries, _ := os.ReadDir(s.dir)
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), ".tmp-") || strings.HasPrefix(e.Name(), ".rm-") {
					t.Errorf("the cancelled call left %s", e.Name())
				}
			}
		})
	}
}

func TestListHonoursContext(t *testing.T) {
	s := newCheckStore(t)
	if err := s.Create(t.Context(), fuzzContainer(NewID(), "one"), nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.List(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("List with a cancelled context: %v", err)
	}
	if _, err := s.Get(ctx, "one"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a cancelled context: %v", err)
	}
}
