// Package flocktest helps tests of code that waits for flock locks.
package flocktest

import (
	"testing"
	"time"

	"berth/internal/flock"
)

// UntilWaiting returns once n lock waits of this process are in progress
// (flock.Waiting), and fails the test if the call under test returns on
// done before it waited. Tests that use it must not run in parallel with
// others that wait for locks.
func UntilWaiting(t testing.TB, n int, done <-chan error) {
	t.Helper()
	for flock.Waiting() != n {
		select {
		case err := <-done:
			t.Fatalf("returned (%v) before it waited for the lock", err)
		case <-time.After(time.Millisecond):
		}
	}
}
