package engine

import (
	"testing"
	"time"
)

// Docker's daemon at start (daemon.restore, restartmanager.ShouldRestart),
// with on-failure as its documentation has it: not at a restart.
func TestStartsAtBoot(t *testing.T) {
	ran := State{StartedAt: time.Now(), ExitCode: 137}
	stopped := State{StartedAt: time.Now(), ExitCode: 143, StoppedByUser: true}
	failed := State{StartedAt: time.Now(), ExitCode: 1}
	for _, c := range []struct {
		policy string
		st     State
		want   bool
	}{
		{"always", ran, true},
		{"always", stopped, true},  // a user's stop lasts until the next boot
		{"always", State{}, false}, // never started
		{"unless-stopped", ran, true},
		{"unless-stopped", stopped, false},
		{"unless-stopped", State{}, false},
		{"on-failure", ran, false},
		{"on-failure", failed, false},
		{"no", ran, false},
		{"", ran, false},
	} {
		if got, why := startsAtBoot(RestartPolicy{Name: c.policy}, c.st); got != c.want || (!got && why == "") {
			t.Errorf("%s, %+v: %v (%q), want %v with a reason when not", c.policy, c.st, got, why, c.want)
		}
	}
}
