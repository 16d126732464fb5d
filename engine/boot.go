package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"

	"berth/containers"
	"berth/internal/flock"
)

// `berth system boot`: what Docker's daemon does for containers when it
// starts (daemon.restore), for a machine that has just started, done by a
// command that systemd or cron runs at boot since berth has no daemon.
//
// A container whose record says it runs but whose monitor is gone died
// with the machine: its record is settled first (exited, as for a monitor
// killed with -9). Then, as Docker decides with its restart manager on
// the last exit (container.ShouldRestart), for containers that have run
// before: "always" starts, even if a user had stopped it; "unless-stopped"
// starts unless a user had stopped it; "on-failure" and "no" stay down
// (Docker's documented rule: on-failure "doesn't restart the container if
// the daemon restarts"). A container started so has a fresh RestartCount
// (0) and is no longer "stopped by a user", as after `docker start`.
// A --rm container that ran and is not running is removed, as the daemon
// removes them: its monitor died before it could.
//
// Boot runs under <root>/boot.lock, so two boots at once take turns: the
// second finds running what the first started. A container running
// already (a monitor holds it) is left alone; starts go through Start,
// which holds the container's start lock, so a user's start at the same
// moment does not start it twice.

// BootAction is what Boot did with a container.
type BootAction string

// What Boot does with a container.
const (
	BootStarted BootAction = "started" // its restart policy brought it back
	BootRunning BootAction = "running" // it runs already: nothing to do
	BootDown    BootAction = "down"    // its restart policy keeps it down (Reason)
	BootRemoved BootAction = "removed" // --rm, and it had run
	BootFailed  BootAction = "failed"  // it should have started, and did not (Err)
)

// BootResult is what Boot did with one container.
type BootResult struct {
	ID, Name string
	Policy   RestartPolicy
	// Settled: its record said it ran, but its monitor was gone (it died
	// with the machine, or was killed): it is recorded as exited now.
	Settled bool
	// ExitCode is its last exit code, once settled.
	ExitCode int
	Action   BootAction
	Reason   string // why it stays down
	Err      error
}

// Boot brings back the containers whose restart policy says so after the
// machine restarted (see above). It reports every container it settled,
// removed or started, and every one with a restart policy, oldest first;
// one that failed to start does not stop the others.
func (e *Engine) Boot(ctx context.Context) ([]BootResult, error) {
	unlock, err := flock.Lock(ctx, filepath.Join(e.root, "boot.lock"), true)
	if err != nil {
		return nil, fmt.Errorf("boot: %w", err)
	}
	defer unlock()
	all, err := e.containers.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("boot: %w", err)
	}
	// Oldest first: what others use (--network container:) was made first.
	slices.Reverse(all)
	var out []BootResult
	for _, c := range all {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		r := e.bootOne(ctx, c)
		if r.Settled || r.Action != BootDown || r.Policy.Name != "no" {
			out = append(out, r)
		}
	}
	return out, nil
}

func (e *Engine) bootOne(ctx context.Context, c *containers.Container) BootResult {
	r := BootResult{ID: c.ID, Name: c.Name, Policy: c.HostConfig.RestartPolicy, Action: BootDown}
	if r.Policy.Name == "" {
		r.Policy.Name = "no"
	}
	st, alive, settled, err := e.containers.SettleState(ctx, c.ID)
	if err != nil {
		r.Action, r.Err = BootFailed, err
		return r
	}
	r.Settled, r.ExitCode = settled, st.ExitCode
	if alive {
		// Its monitor looks after it (or is recording its exit).
		r.Action = BootRunning
		return r
	}
	if err := e.clearDead(ctx, c, st, false); err != nil {
		r.Action, r.Err = BootFailed, err
		return r
	}
	if c.HostConfig.AutoRemove {
		if st.StartedAt.IsZero() {
			r.Reason = "--rm, never started"
			return r
		}
		if err := e.Remove(ctx, c.ID, false); err != nil {
			r.Action, r.Err = BootFailed, err
			return r
		}
		r.Action = BootRemoved
		return r
	}
	start, why := startsAtBoot(r.Policy, st)
	if !start {
		r.Reason = why
		return r
	}
	if _, err := e.Start(ctx, c.ID, nil); err != nil {
		r.Action, r.Err = BootFailed, err
		return r
	}
	r.Action = BootStarted
	return r
}

// startsAtBoot applies the restart policy of a container that is not
// running, as Docker's daemon does when it starts; why says why not.
func startsAtBoot(p RestartPolicy, st State) (start bool, why string) {
	if st.StartedAt.IsZero() {
		return false, "never started"
	}
	switch p.Name {
	case "always":
		return true, ""
	case "unless-stopped":
		if st.StoppedByUser {
			return false, "stopped by a user"
		}
		return true, ""
	case "on-failure":
		return false, "on-failure restarts after a failure, not at boot"
	}
	return false, "restart policy no"
}
