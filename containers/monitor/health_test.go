package monitor_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"berth/containers"
	"berth/containers/cgroups"
	"berth/engine"
	"berth/events"
	"berth/internal/enginetest"
)

// Tests of the health check the monitor runs in its container.

// healthOf is the container's health as the monitor recorded it.
func healthOf(t *testing.T, e *engine.Engine, id string) containers.Health {
	t.Helper()
	st := rawState(t, e, id)
	if st.Health == nil {
		return containers.Health{}
	}
	return *st.Health
}

// waitHealth waits until the recorded health satisfies cond.
func waitHealth(t *testing.T, e *engine.Engine, id, what string, cond func(h containers.Health) bool) containers.Health {
	t.Helper()
	var h containers.Health
	waitFor(t, what, func() bool {
		h = healthOf(t, e, id)
		return cond(h)
	}, func() string { return fmt.Sprintf("health %+v", h) })
	return h
}

// execIn runs a command in the container and fails the test unless it
// exits 0.
func execIn(t *testing.T, e *engine.Engine, id string, args ...string) {
	t.Helper()
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	p, err := e.Exec(context.Background(), id, engine.ExecOptions{Cmd: args, Stdin: null, Stdout: null, Stderr: null})
	if err != nil {
		t.Fatal(err)
	}
	if code, err := p.Wait(); err != nil || code != 0 {
		t.Fatalf("exec %v: exit %d (%v)", args, code, err)
	}
}

// containerEvents lists the actions of the container's events, in order,
// that keep says to.
func containerEvents(t *testing.T, e *engine.Engine, id string, keep func(action string) bool) []string {
	t.Helper()
	f, err := os.Open(events.Open(e.Root()).Path())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ev events.Event
		if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Actor.ID == id && keep(ev.Action) {
			out = append(out, ev.Action)
		}
	}
	return out
}

func isHealthEvent(a string) bool { return strings.HasPrefix(a, "health_status") }

// healthEvents waits until the container's health events are want (the
// monitor records a status before it tells of it).
func healthEvents(t *testing.T, e *engine.Engine, id string, want ...string) {
	t.Helper()
	var got []string
	waitFor(t, fmt.Sprintf("health events %q", want), func() bool {
		got = containerEvents(t, e, id, isHealthEvent)
		return len(got) >= len(want)
	}, func() string { return fmt.Sprintf("%q", got) })
	if !slices.Equal(got, want) {
		t.Errorf("health events %q, want %q", got, want)
	}
}

// procsNamed lists the processes in cg whose command line is cmdline.
func procsNamed(t *testing.T, cg *cgroups.Cgroup, cmdline string) []int {
	t.Helper()
	pids, err := cg.Procs()
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, pid := range pids {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ") == cmdline {
			out = append(out, pid)
		}
	}
	return out
}

// TestHealthTransitions: a check that tests a file goes starting →
// healthy → unhealthy → healthy as the file comes and goes. Failures in
// the start period leave it starting and count for nothing; later ones
// count, and Retries of them make it unhealthy. The log keeps the last
// five results, and each change of status is one event, in order.
func TestHealthTransitions(t *testing.T) {
	e := enginetest.New(t)
	c, st := running(t, e, containers.Config{
		Cmd: []string{"sh", "-c", "echo ready; exec sleep 1000"},
		Healthcheck: &containers.HealthConfig{
			Test:     []string{"CMD-SHELL", "cat /tmp/ok"},
			Interval: 50 * time.Millisecond, StartInterval: 50 * time.Millisecond,
			StartPeriod: time.Hour, Retries: 2,
		},
	}, containers.HostConfig{})

	// Starting: failures within the start period do not count.
	h := waitHealth(t, e, c.ID, "two failed checks", func(h containers.Health) bool { return len(h.Log) >= 2 })
	if h.Status != containers.HealthStarting || h.FailingStreak != 0 {
		t.Errorf("after failures in the start period: status %q, streak %d; want starting, 0", h.Status, h.FailingStreak)
	}
	for _, r := range h.Log {
		if r.ExitCode != 1 || !strings.Contains(r.Output, "/tmp/ok") || r.End.Before(r.Start) {
			t.Errorf("failed check's result %+v: want exit 1, cat's complaint about /tmp/ok", r)
		}
	}

	execIn(t, e, c.ID, "sh", "-c", "echo fine > /tmp/ok")
	h = waitHealth(t, e, c.ID, "healthy", func(h containers.Health) bool { return h.Status == containers.HealthHealthy })
	if last := h.Log[len(h.Log)-1]; last.ExitCode != 0 || last.Output != "fine\n" || h.FailingStreak != 0 {
		t.Errorf("healthy: last result %+v, streak %d", last, h.FailingStreak)
	}

	// Past the first pass the start period no longer shields failures.
	execIn(t, e, c.ID, "rm", "/tmp/ok")
	h = waitHealth(t, e, c.ID, "unhealthy", func(h containers.Health) bool { return h.Status == containers.HealthUnhealthy })
	if h.FailingStreak < 2 {
		t.Errorf("unhealthy with a streak of %d, want at least the 2 retries", h.FailingStreak)
	}
	if last := h.Log[len(h.Log)-1]; last.ExitCode != 1 {
		t.Errorf("unhealthy: last result %+v", last)
	}

	execIn(t, e, c.ID, "touch", "/tmp/ok")
	h = waitHealth(t, e, c.ID, "healthy again, with a full log", func(h containers.Health) bool {
		return h.Status == containers.HealthHealthy && len(h.Log) == containers.HealthLogMax && h.Log[0].ExitCode == 0
	})
	if h.FailingStreak != 0 {
		t.Errorf("healthy again with a streak of %d", h.FailingStreak)
	}
	if n := len(h.Log); n != containers.HealthLogMax {
		t.Errorf("log of %d results, want the last %d", n, containers.HealthLogMax)
	}
	for i := 1; i < len(h.Log); i++ {
		if !h.Log[i].Start.After(h.Log[i-1].End) && !h.Log[i].Start.Equal(h.Log[i-1].End) {
			t.Errorf("log out of order: %+v before %+v", h.Log[i-1], h.Log[i])
		}
	}

	healthEvents(t, e, c.ID, "health_status: healthy", "health_status: unhealthy", "health_status: healthy")
	if _, err := control(t, e, c.ID).Stop(boundCtx(t), syscall.SIGKILL, 0); err != nil {
		t.Fatal(err)
	}
	stopped(t, e, c, st, 137)
	// Checks that no longer run leave it unhealthy, as Docker's do.
	if h := healthOf(t, e, c.ID); h.Status != containers.HealthUnhealthy {
		t.Errorf("health after the stop: %q, want unhealthy", h.Status)
	}
}

// TestHealthTimeoutKills: a check that outlives its timeout is a failure
// (-1, Docker's message) and its process group is killed: nothing it
// started is left in the container.
func TestHealthTimeoutKills(t *testing.T) {
	e := enginetest.New(t)
	// The first check hangs (in a child of the shell, as a command
	// would); the ones after it pass at once.
	c, _ := running(t, e, containers.Config{
		Cmd: []string{"sh", "-c", "echo ready; exec sleep 100000"},
		Healthcheck: &containers.HealthConfig{
			Test:     []string{"CMD-SHELL", "test -e /tmp/once && exit 0; touch /tmp/once; sleep 1000; exit 0"},
			Interval: 50 * time.Millisecond, Timeout: 300 * time.Millisecond,
		},
	}, containers.HostConfig{})
	h := waitHealth(t, e, c.ID, "a timed-out check, then a pass", func(h containers.Health) bool {
		return h.Status == containers.HealthHealthy
	})
	r := h.Log[0]
	if r.ExitCode != -1 || r.Output != "Health check exceeded timeout (300ms)" {
		t.Errorf("hung check's result %+v, want -1 and Docker's timeout message", r)
	}
	if d := r.End.Sub(r.Start); d < 300*time.Millisecond {
		t.Errorf("hung check ended after %v, before its timeout", d)
	}
	if left := procsNamed(t, cgroups.Load(c.Spec.Linux.CgroupsPath), "sleep 1000"); len(left) > 0 {
		t.Errorf("the timed-out check's sleep is still running: %v", left)
	}
}

// TestHealthLeftoversKilled: what a check starts and leaves running is
// killed when it ends, and does not hold its output open.
func TestHealthLeftoversKilled(t *testing.T) {
	e := enginetest.New(t)
	c, _ := running(t, e, containers.Config{
		Cmd: []string{"sh", "-c", "echo ready; exec sleep 100000"},
		Healthcheck: &containers.HealthConfig{
			// The first check leaves a sleep behind; the ones after it
			// pass at once.
			Test:     []string{"CMD-SHELL", "test -e /tmp/once && exit 0; touch /tmp/once; sleep 1000 & echo left"},
			Interval: 50 * time.Millisecond, Timeout: time.Hour,
		},
	}, containers.HostConfig{})
	h := waitHealth(t, e, c.ID, "two checks", func(h containers.Health) bool { return len(h.Log) >= 2 })
	if r := h.Log[0]; r.ExitCode != 0 || r.Output != "left\n" {
		t.Errorf("first check's result %+v, want exit 0 and its output", r)
	}
	if left := procsNamed(t, cgroups.Load(c.Spec.Linux.CgroupsPath), "sleep 1000"); len(left) > 0 {
		t.Errorf("the sleep the check left is still running: %v", left)
	}
}

// TestHealthStopDuringCheck: a stop is carried out at once while a check
// runs (one whose timeout is far away); no check outlives the container.
func TestHealthStopDuringCheck(t *testing.T) {
	e := enginetest.New(t)
	c, st := running(t, e, containers.Config{
		Cmd: []string{"sh", "-c", "trap 'exit 3' TERM; echo ready; sleep 100000 & wait"},
		Healthcheck: &containers.HealthConfig{
			Test:     []string{"CMD", "sleep", "1000"},
			Interval: 10 * time.Millisecond, Timeout: time.Hour,
		},
	}, containers.HostConfig{})
	cg := cgroups.Load(c.Spec.Linux.CgroupsPath)
	waitFor(t, "the check running", func() bool { return len(procsNamed(t, cg, "sleep 1000")) == 1 })
	// bound fails the stop long before the check's hour is up.
	code, err := control(t, e, c.ID).Stop(boundCtx(t), syscall.SIGTERM, time.Hour)
	if err != nil || code != 3 {
		t.Fatalf("stop: exit %d (%v), want the trap's 3", code, err)
	}
	stopped(t, e, c, st, 3)
	if h := healthOf(t, e, c.ID); h.Status != containers.HealthUnhealthy || len(h.Log) != 0 {
		t.Errorf("health after a stop during the first check %+v: want unhealthy, the check not recorded", h)
	}
}

// TestHealthPaused: a paused container is not checked (the check in
// flight is ended, its status unhealthy as Docker has it); checks resume
// with unpause. While it is paused, a second container with the same
// check runs several: the first runs none.
func TestHealthPaused(t *testing.T) {
	e := enginetest.New(t)
	check := &containers.HealthConfig{Test: []string{"CMD", "true"}, Interval: 20 * time.Millisecond}
	c, _ := running(t, e, containers.Config{Cmd: []string{"sh", "-c", "echo ready; exec sleep 1000"}, Healthcheck: check}, containers.HostConfig{})
	clock, _ := running(t, e, containers.Config{Cmd: []string{"sh", "-c", "echo ready; exec sleep 1000"}, Healthcheck: check}, containers.HostConfig{})
	waitHealth(t, e, c.ID, "healthy", func(h containers.Health) bool { return h.Status == containers.HealthHealthy })

	ctx := boundCtx(t)
	if err := e.Pause(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	execs := func(id string) int {
		return len(containerEvents(t, e, id, func(a string) bool { return strings.HasPrefix(a, "exec_create") }))
	}
	paused, h := execs(c.ID), healthOf(t, e, c.ID)
	if h.Status != containers.HealthUnhealthy {
		t.Errorf("health when paused: %q, want unhealthy", h.Status)
	}
	ticks := execs(clock.ID)
	waitFor(t, "five checks of the other container", func() bool { return execs(clock.ID) >= ticks+5 })
	if n := execs(c.ID); n != paused {
		t.Errorf("%d checks started while the container was paused", n-paused)
	}
	// One started would be frozen in the cgroup, not yet told of.
	if pids, err := cgroups.Load(c.Spec.Linux.CgroupsPath).Procs(); err != nil || len(pids) != 1 {
		var what []string
		for _, pid := range pids {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			what = append(what, fmt.Sprintf("%d %q", pid, b))
		}
		t.Errorf("processes in the paused container: %v (%v), want its first alone", what, err)
	}
	if got := healthOf(t, e, c.ID); len(got.Log) != len(h.Log) || got.Log[len(got.Log)-1] != h.Log[len(h.Log)-1] {
		t.Errorf("results recorded while paused: %+v, then %+v", h.Log, got.Log)
	}

	if err := e.Unpause(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, e, c.ID, "healthy after unpause", func(h containers.Health) bool { return h.Status == containers.HealthHealthy })
	if n := execs(c.ID); n <= paused {
		t.Errorf("no check after unpause")
	}
}

// TestHealthRestartResets: a container restarted by its policy starts
// its checks afresh: starting (where failures in the start period do not
// count), no streak, the results of the run before kept.
func TestHealthRestartResets(t *testing.T) {
	e := enginetest.New(t)
	c := create(t, e, containers.Config{
		Cmd: []string{"sh", "-c", "trap 'exit 1' USR1; sleep 1000 & wait"},
		Healthcheck: &containers.HealthConfig{
			Test: []string{"CMD-SHELL", "cat /tmp/ok"}, Interval: 20 * time.Millisecond,
			StartPeriod: time.Hour, Retries: 1,
		},
	}, containers.HostConfig{RestartPolicy: containers.RestartPolicy{Name: "on-failure"}})
	if _, err := e.Start(context.Background(), c.ID, nil); err != nil {
		t.Fatal(err)
	}
	execIn(t, e, c.ID, "touch", "/tmp/ok")
	waitHealth(t, e, c.ID, "healthy", func(h containers.Health) bool { return h.Status == containers.HealthHealthy })
	execIn(t, e, c.ID, "rm", "/tmp/ok")
	waitHealth(t, e, c.ID, "unhealthy", func(h containers.Health) bool { return h.Status == containers.HealthUnhealthy })
	first := rawState(t, e, c.ID)
	if err := control(t, e, c.ID).Signal(boundCtx(t), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	var st containers.State
	waitFor(t, "a failed check in the second run", func() bool {
		st = rawState(t, e, c.ID)
		h := st.Health
		return st.RestartCount == 1 && st.Running && h != nil && len(h.Log) > 0 && h.Log[len(h.Log)-1].Start.After(st.StartedAt)
	}, func() string { return fmt.Sprintf("%+v", st) })
	if h := st.Health; h.Status != containers.HealthStarting || h.FailingStreak != 0 {
		t.Errorf("health in the second run %+v: want starting, no streak", h)
	}
	if h := st.Health; !slices.Contains(h.Log, first.Health.Log[len(first.Health.Log)-1]) {
		t.Errorf("the first run's last result %+v is not in the log %+v", first.Health.Log[len(first.Health.Log)-1], h.Log)
	}
	execIn(t, e, c.ID, "touch", "/tmp/ok")
	waitHealth(t, e, c.ID, "healthy in the second run", func(h containers.Health) bool { return h.Status == containers.HealthHealthy })
	healthEvents(t, e, c.ID, "health_status: healthy", "health_status: unhealthy", "health_status: healthy")
}

// TestHealthOutput: a check's output is kept up to 4096 bytes, "..."
// marking the cut; an exit code other than 0 and 1 is a failure, kept as
// it is; a CMD runs without a shell.
func TestHealthOutput(t *testing.T) {
	e := enginetest.New(t)
	c, _ := running(t, e, containers.Config{
		Cmd: []string{"sh", "-c", "echo ready; exec sleep 1000"},
		Healthcheck: &containers.HealthConfig{
			Test:     []string{"CMD", "sh", "-c", "head -c 10000 /dev/zero | tr '\\0' x; echo err >&2; exit 2"},
			Interval: 20 * time.Millisecond, Retries: 1,
		},
	}, containers.HostConfig{})
	h := waitHealth(t, e, c.ID, "unhealthy", func(h containers.Health) bool { return h.Status == containers.HealthUnhealthy })
	r := h.Log[0]
	if r.ExitCode != 2 || r.Output != strings.Repeat("x", containers.HealthOutputMax)+"..." {
		t.Errorf("result: exit %d, output of %d bytes %.20q...; want 2, 4096 x's and ...", r.ExitCode, len(r.Output), r.Output)
	}
}
