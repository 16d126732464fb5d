package monitor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"berth/containers"
	"berth/containers/cgroups"
	"berth/containers/runtime"
	"berth/internal/memtrim"
)

// The monitor runs the container's health check, as dockerd does for
// Docker's containers: while a run is running and not paused, one check at
// a time, each an exec in the container (its namespaces, cgroup, user,
// capabilities and seccomp filter) whose process group is killed when the
// check ends, at its timeout, or when the run stops or is paused
// (runtime.ExecConfig.KillGroup). The monitor records each result in the
// container's state (State.Health) under the state lock, and a change of
// status as a health_status event.

// stageGrace is how long the exec stage of a check has to end it once
// told to (SIGTERM); it takes a moment, unless something is badly wrong.
const stageGrace = 5 * time.Second

// prober is the health check of the run under way, between its start (or
// an unpause) and its end (or a pause).
type prober struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when its loop has returned
}

// startHealth starts checking the current run, whose first process is pid,
// in cgroup cg, started at startedAt; nothing when the container has no
// check or checks already run.
func (m *monitor) startHealth(pid int, cg *cgroups.Cgroup, startedAt time.Time, status string) {
	probe, ok := m.c.Config.Probe()
	if !ok {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.prober != nil || m.proc == nil || m.proc.Pid() != pid {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr := &prober{cancel: cancel, done: make(chan struct{})}
	m.prober = pr
	go func() {
		defer close(pr.done)
		m.probeLoop(ctx, probe, pid, cg, startedAt, status)
	}()
}

// resumeHealth starts checking the current run again after a pause (or
// a pause that failed), from its state on record; Docker also starts
// afresh, the status left as the pause set it.
func (m *monitor) resumeHealth(cg *cgroups.Cgroup) {
	st, err := m.opts.Store.LoadState(m.c.ID)
	if err != nil || !st.Running || st.Paused || st.Health == nil {
		return
	}
	m.startHealth(st.Pid, cg, st.StartedAt, st.Health.Status)
}

// stopHealth stops the checks and waits until the one under way, if any,
// is killed and reaped: the caller then records what ends them.
func (m *monitor) stopHealth() {
	m.mu.Lock()
	pr := m.prober
	m.prober = nil
	m.mu.Unlock()
	if pr == nil {
		return
	}
	pr.cancel()
	<-pr.done
}

// probeLoop runs the check until ctx ends, spaced as Docker spaces them:
// Interval after the end of the last one; within the start period, while
// the container is still starting, StartInterval, and never past the
// start period's end.
func (m *monitor) probeLoop(ctx context.Context, probe containers.Probe, pid int, cg *cgroups.Cgroup, startedAt time.Time, status string) {
	next := func() time.Duration {
		elapsed := time.Since(startedAt)
		if elapsed >= probe.StartPeriod {
			return probe.Interval
		}
		if left := probe.StartPeriod - elapsed; left < probe.Interval {
			return left
		}
		if status == containers.HealthStarting {
			return probe.StartInterval
		}
		return probe.Interval
	}
	t := time.NewTimer(next())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r, ok := m.check(ctx, probe, pid, cg)
		if !ok {
			return // stopped meanwhile: the result is not recorded
		}
		status = m.recordHealth(r, probe, status)
		d := next()
		if d >= trimIdle {
			// A check faults in much of exec's code; a monitor that
			// idles until the next gives it back (see memtrim).
			memtrim.Now()
		}
		t.Reset(d)
	}
}

// recordHealth adds r to the container's health and returns the status
// it leaves; a change is an event. A run that has ended or is paused
// meanwhile keeps the health its end or pause gave it.
func (m *monitor) recordHealth(r containers.HealthResult, probe containers.Probe, status string) string {
	old, now := "", ""
	_, err := m.opts.Store.UpdateState(context.Background(), m.c.ID, func(s *containers.State) {
		if !s.Running || s.Paused || s.Health == nil {
			return
		}
		old = s.Health.Status
		s.Health.Record(r, probe.Retries, probe.StartPeriod, s.StartedAt)
		now = s.Health.Status
	})
	if err != nil || now == "" {
		return status
	}
	if now != old {
		m.emit("health_status: " + now)
	}
	return now
}

// check runs the check once in the container. ok is false when ctx ended
// before it did (its process group is killed all the same).
func (m *monitor) check(ctx context.Context, probe containers.Probe, pid int, cg *cgroups.Cgroup) (r containers.HealthResult, ok bool) {
	r.Start = time.Now()
	fail := func(err error) (containers.HealthResult, bool) {
		r.End, r.ExitCode, r.Output = time.Now(), -1, err.Error()
		return r, ctx.Err() == nil && !ending(pid)
	}
	p, err := containers.ExecProcess(m.c, containers.ExecOptions{Args: probe.Args})
	if err != nil {
		return fail(err)
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		return fail(err)
	}
	defer null.Close()
	// Stdout and stderr in one pipe, as Docker keeps them in one buffer.
	rd, wr, err := os.Pipe()
	if err != nil {
		return fail(err)
	}
	defer rd.Close()
	c := *m.c
	c.State.Pid = pid
	ec := containers.ExecConfig(&c, cg, p, runtime.Stdio{Stdin: null, Stdout: wr, Stderr: wr},
		func() ([]byte, error) { return m.seccomp, nil })
	ec.KillGroup = true
	cmd, _, err := runtime.Exec(ec)
	wr.Close()
	if err != nil {
		var se *runtime.StartError
		if errors.As(err, &se) {
			err = errors.New(se.Message)
		}
		return fail(err)
	}
	cmdline := strings.Join(probe.Args, " ")
	execID := strconv.Itoa(cmd.Process.Pid)
	m.emit("exec_create: "+cmdline, "execID", execID)
	m.emit("exec_start: "+cmdline, "execID", execID)

	out := make(chan string, 1)
	go func() { out <- readLimited(rd) }()
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	timer := time.NewTimer(probe.Timeout)
	defer timer.Stop()
	timedOut := false
	select {
	case <-exited:
	case <-timer.C:
		timedOut = true
	case <-ctx.Done():
	}
	select {
	case <-exited:
	default:
		// The stage kills the check's process group, reaps the check and
		// exits; one that does not is killed.
		_ = cmd.Process.Signal(unix.SIGTERM)
		t := time.NewTimer(stageGrace)
		select {
		case <-exited:
		case <-t.C:
			_ = cmd.Process.Kill()
			<-exited
		}
		t.Stop()
	}
	r.End = time.Now()
	code := exitCode(cmd.ProcessState, nil)
	// Whatever still holds the pipe (a process that left the group) is
	// not waited for past the check's timeout.
	var output string
	if timedOut || ctx.Err() != nil {
		rd.Close()
		output = <-out
	} else {
		select {
		case output = <-out:
		case <-timer.C:
			rd.Close()
			output = <-out
		case <-ctx.Done():
			rd.Close()
			output = <-out
		}
	}
	if ctx.Err() != nil || ending(pid) {
		// Stopped, or killed with the container whose end is on its way:
		// not the check's result.
		return r, false
	}
	m.emit("exec_die", "execID", execID, "exitCode", strconv.Itoa(code))
	if timedOut {
		r.ExitCode = -1
		r.Output = fmt.Sprintf("Health check exceeded timeout (%v)", probe.Timeout)
		if output != "" {
			r.Output += ": " + output
		}
		return r, true
	}
	r.ExitCode, r.Output = code, output
	return r, true
}

// readLimited reads f to its end and returns the first HealthOutputMax
// bytes, with "..." when there was more, as Docker keeps a check's output.
func readLimited(f *os.File) string {
	var buf [containers.HealthOutputMax]byte
	n, more := 0, false
	var scratch [4096]byte
	for {
		var k int
		var err error
		if n < len(buf) {
			k, err = f.Read(buf[n:])
			n += k
		} else {
			k, err = f.Read(scratch[:])
			more = more || k > 0
		}
		if err != nil {
			break
		}
	}
	if more {
		return string(buf[:n]) + "..."
	}
	return string(buf[:n])
}

// healthOnStart is the health a run starts with: starting, the streak
// reset, the log of the runs before kept (Docker's); nil without a check.
func (m *monitor) healthOnStart(prev *containers.Health) *containers.Health {
	if _, ok := m.c.Config.Probe(); !ok {
		return prev
	}
	h := &containers.Health{Status: containers.HealthStarting}
	if prev != nil {
		h.Log = prev.Log
	}
	return h
}

// healthStopped is the status of checks that no longer run (the run
// ended or is paused): unhealthy, as Docker reports it.
func healthStopped(s *containers.State) {
	if s.Health != nil {
		s.Health.Status = containers.HealthUnhealthy
	}
}

// ending reports whether the process pid is exiting or has exited. A
// container's first process that exits has the kernel kill every process
// of its PID namespace, a check's with them, before its own exit is seen.
func ending(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// pid (comm) state ppid pgrp session tty_nr tpgid flags ...
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return true
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 7 {
		return true
	}
	const pfExiting = 0x4
	flags, _ := strconv.ParseUint(f[6], 10, 64)
	return f[0] == "Z" || f[0] == "X" || flags&pfExiting != 0
}
