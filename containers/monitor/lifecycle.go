package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"

	"berth/containers"
	"berth/containers/attach"
	"berth/containers/cgroups"
	"berth/containers/logfile"
	"berth/containers/runtime"
	"berth/events"
	"berth/internal/memtrim"
	"berth/internal/trace"
)

// Docker's restart back-off: 100 ms, doubling, at most a minute, back to
// the start after a run of at least 10 s.
const (
	backoffStart = 100 * time.Millisecond
	backoffMax   = time.Minute
	backoffReset = 10 * time.Second
)

// lifecycle runs the container, and runs it again as its restart policy
// says, until it stays down.
func (m *monitor) lifecycle(first *client, next *starting) {
	c := m.c
	opts := logfile.Options{}
	if v := c.HostConfig.LogConfig.Config["max-size"]; v != "" {
		opts.MaxSize, _ = strconv.ParseInt(v, 10, 64)
	}
	if v := c.HostConfig.LogConfig.Config["max-file"]; v != "" {
		opts.MaxFile, _ = strconv.Atoi(v)
	}
	var err error
	if m.log, err = logfile.NewWriter(filepath.Join(m.dir, LogName), opts); err != nil {
		next.abort()
		m.finish(m.failed(runtime.ExitEngine, err))
		return
	}
	defer m.log.Close()
	trace.Mark("monitor: log open")

	// A start by a user begins a fresh count (and forgets an old stop,
	// not one that came already).
	st, err := m.opts.Store.UpdateState(context.Background(), c.ID, func(st *containers.State) {
		st.RestartCount, st.StoppedByUser = 0, m.stopRequested()
	})
	if err != nil {
		next.abort()
		m.finish(m.failed(runtime.ExitEngine, err))
		return
	}
	trace.Mark("monitor: state reset")
	delay := backoffStart
	for {
		var ok bool
		st, ok = m.runOnce(first, next, st)
		first, next = nil, nil
		if !ok {
			m.finish(st)
			m.release()
			return
		}
		if !m.shouldRestart(st) {
			// A stop that came after the run's exit was recorded (as
			// restarting) turns the record into the exit it is now.
			m.finish(m.stayDown(st))
			m.release()
			return
		}
		// Tell the attached clients how this run ended; they go, as from
		// Docker, and the container comes back on its own.
		m.endSessions(st, false)
		m.release()
		if st.FinishedAt.Sub(st.StartedAt) >= backoffReset {
			delay = backoffStart
		}
		st, _ = m.opts.Store.UpdateState(context.Background(), c.ID, func(s *containers.State) {
			s.Status, s.Restarting = containers.StatusRestarting, true
		})
		if !m.sleepUnlessStopped(delay) {
			m.finish(m.stayDown(st))
			return
		}
		delay = min(2*delay, backoffMax)
		st.RestartCount++
	}
}

// stayDown records that the container, whose last run ended as st, is
// not restarted: exited, not restarting, and stopped by the user if one
// asked.
func (m *monitor) stayDown(st containers.State) containers.State {
	if !st.Restarting && st.Status != containers.StatusRestarting && st.StoppedByUser == m.stopRequested() {
		return st
	}
	down := func(s *containers.State) {
		if s.Restarting || s.Status == containers.StatusRestarting {
			s.Status, s.Restarting = containers.StatusExited, false
		}
		s.StoppedByUser = s.StoppedByUser || m.stopRequested()
	}
	got, err := m.opts.Store.UpdateState(context.Background(), m.c.ID, down)
	if err != nil {
		down(&st) // what the clients are told, at least
		return st
	}
	return got
}

// shouldRestart applies the restart policy to a run that ended as st.
func (m *monitor) shouldRestart(st containers.State) bool {
	if st.StoppedByUser || m.stopRequested() || m.c.HostConfig.AutoRemove {
		return false
	}
	p := m.c.HostConfig.RestartPolicy
	switch p.Name {
	case "always", "unless-stopped":
		return true
	case "on-failure":
		return st.ExitCode != 0 && (p.MaximumRetryCount == 0 || st.RestartCount < p.MaximumRetryCount)
	}
	return false
}

// sleepUnlessStopped waits out a back-off; false if a user stopped the
// container before or meanwhile (a stop request ends it at once).
func (m *monitor) sleepUnlessStopped(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-m.stopCh:
		return false
	case <-t.C:
		return !m.stopRequested()
	}
}

// stopRequested reports whether a user stopped or killed the container.
func (m *monitor) stopRequested() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stopping
}

// runOnce starts the container's process and waits for it. ok is false
// when it could not start; st is then the failure to record.
func (m *monitor) runOnce(first *client, s *starting, prev containers.State) (st containers.State, ok bool) {
	c := m.c
	if s == nil {
		s = m.begin()
	}
	if s.err != nil {
		return m.failed(runtime.ExitEngine, s.err), false
	}
	p, outputs := s.p, s.outputs
	mc := <-s.cg
	defer mc.closeJoin()
	cg, err := mc.cg, mc.err
	if err != nil {
		p.Abort()
		s.closeOurs()
		return m.failed(runtime.ExitEngine, fmt.Errorf("cgroup: %w", err)), false
	}
	trace.Mark("monitor: cgroup ready")
	m.mu.Lock()
	m.cg = cg
	m.mu.Unlock()
	// The cgroup and the mount namespace go once the exit is told
	// (release): a dozen rmdirs on cgroup v1, and the unmounting of the
	// container's root, that nobody waiting for the exit should wait for.
	defer func() {
		m.mu.Lock()
		m.cg, m.spent = nil, spent{cg: cg, mntns: s.mntns}
		m.mu.Unlock()
	}()
	if c.Config.Tty {
		if master, err := p.Console(); err == nil {
			m.mu.Lock()
			m.master, m.stdin, m.closed = master, master, false
			if m.size != nil {
				_ = pty.Setsize(master, m.size)
			}
			m.mu.Unlock()
			outputs = append(outputs, output{"stdout", master})
		}
	}
	// Compiled while the init stage starts; once per monitor.
	if s.seccomp != nil {
		if err := <-s.seccomp; err != nil {
			p.Abort()
			return m.failed(runtime.ExitEngine, err), false
		}
	}
	trace.Mark("monitor: go")
	if err := p.Go(m.seccomp, mc.join); err != nil {
		code := runtime.ExitEngine
		var se *runtime.StartError
		if errors.As(err, &se) {
			code = se.Code
		}
		return m.failed(code, err), false
	}
	trace.Mark("monitor: running")
	// From here control requests reach the process. A stop that came
	// after the back-off's last look must not be lost: it is kept, and
	// the run it should have prevented ends at once.
	exited := make(chan struct{})
	m.mu.Lock()
	m.proc, m.exited = p, exited
	stopped := m.stopping
	m.mu.Unlock()
	st, err = m.opts.Store.UpdateState(context.Background(), c.ID, func(s *containers.State) {
		stopped = stopped || s.StoppedByUser
		*s = containers.State{
			Status: containers.StatusRunning, Running: true,
			Pid: p.Pid(), MonitorPid: os.Getpid(), StartedAt: time.Now().UTC(),
			RestartCount: prev.RestartCount, StoppedByUser: stopped,
			Health: m.healthOnStart(s.Health),
		}
	})
	if err != nil || stopped {
		_ = p.Cmd.Process.Kill()
	} else {
		m.startHealth(p.Pid(), cg, st.StartedAt, containers.HealthStarting)
	}
	m.emit("start")
	m.broadcastJSON(attach.Started, attach.StartedMsg{Pid: p.Pid()})
	if first != nil {
		go m.readClient(first)
	}
	// A monitor that lives gives back what its start-up cost; one whose
	// container ends at once exits instead, sooner for not trimming (the
	// dropped pages of code would fault back in on the exit's path).
	trim := time.AfterFunc(trimAfter, memtrim.Now)
	defer trim.Stop()

	var pumps sync.WaitGroup
	for _, o := range outputs {
		pumps.Add(1)
		go func() {
			defer pumps.Done()
			m.pump(o.stream, o.f)
		}()
	}
	werr := p.Cmd.Wait()
	trace.Mark("monitor: exited")
	if !containers.PrivatePID(c.Spec) {
		// No PID namespace of its own ends the rest with it (--pid host,
		// --pid container:): its cgroup's other processes go now, as runc
		// ends them, or they would hold its output open.
		_ = cg.Kill()
	}
	m.stopHealth()
	m.mu.Lock()
	m.proc, m.exited = nil, nil
	m.mu.Unlock()
	close(exited)
	pumps.Wait()
	m.logMu.Lock()
	_ = m.log.Flush()
	m.logMu.Unlock()

	trace.Mark("monitor: output drained")
	oom := false
	if n, err := cg.OOMKills(); err == nil && n > 0 {
		oom = true
	}
	code := exitCode(p.Cmd.ProcessState, werr)
	if oom {
		m.emit("oom")
	}
	m.emit("die", "exitCode", strconv.Itoa(code))
	st, _ = m.opts.Store.UpdateState(context.Background(), c.ID, func(s *containers.State) {
		s.Status, s.Running, s.Paused, s.Pid, s.MonitorPid = containers.StatusExited, false, false, 0, 0
		s.ExitCode, s.OOMKilled = code, oom
		s.FinishedAt = time.Now().UTC()
		healthStopped(s)
		s.StoppedByUser = s.StoppedByUser || m.stopRequested()
		// A run that will be restarted never shows as exited: a stop that
		// saw it so would do nothing, and the restart would follow.
		if m.shouldRestart(*s) {
			s.Status, s.Restarting = containers.StatusRestarting, true
		}
	})
	trace.Mark("monitor: exit recorded")
	return st, true
}

// starting is a run of the container begun: the init stage started (it
// sets up the root, then waits for Go), its cgroup and seccomp filter on
// their way.
type starting struct {
	p       *runtime.Process
	outputs []output
	err     error      // the stage could not start
	cg      chan made  // the cgroup, made while the stage starts
	seccomp chan error // nil when compiled by an earlier run
	mntns   *os.File   // the stage's mount namespace, held until release
}

type made struct {
	cg   *cgroups.Cgroup
	join []*os.File // its tasks files for the stage to join (v1)
	err  error
}

func (mc made) closeJoin() {
	for _, f := range mc.join {
		f.Close()
	}
}

// begin starts a run of the container: its stdio, its init stage, and, at
// the same time, its cgroup and (on the first run) its seccomp filter. The
// stage joins the cgroup before the user's process runs: never a moment
// without limits.
func (m *monitor) begin() *starting {
	c := m.c
	s := &starting{cg: make(chan made, 1)}
	flags, err := runtime.CloneFlags(c.Spec.Linux.Namespaces)
	if err != nil {
		s.err = err
		return s
	}
	// The stage the monitor spawned on the client's word (Prepare), if it
	// has what the record asks for: one that shares another container's
	// namespaces is spawned here, once that container's are open.
	sp := m.opts.spawned
	m.opts.spawned = nil
	shared := containers.SharesNamespaces(&c.HostConfig)
	if sp != nil && (sp.flags != flags || sp.shape != shapeOf(c) || shared) {
		sp.abort()
		sp = nil
	}
	if sp == nil {
		var sh runtime.Shared
		if shared {
			if sh, err = m.opts.Store.Shared(context.Background(), &c.HostConfig); err != nil {
				s.err = err
				return s
			}
		}
		sp, err = spawn(flags, shapeOf(c), sh)
		sh.Close() // the stage has what it needs of them
		if err != nil {
			s.err = err
			return s
		}
	}
	// The cgroup is made while the stage starts. On v1 the stage joins it
	// itself at Go, its thread moving itself, which spares the kernel's
	// grace period of moving a process by pid (cgroups.JoinThread); on v2
	// it is moved now. Either way the user's process never runs without
	// limits.
	pid := sp.p.Pid()
	// How the stage makes /sys/fs/cgroup: from the cgroup's directories,
	// which it waits for, or not.
	cgroupFS := runtime.CgroupFSFor(c.Spec, cgroups.Unified())
	sendDirs := cgroupFS == runtime.CgroupFSDir || cgroupFS == runtime.CgroupFSDirs
	go func() {
		cg, err := cgroups.New(c.Spec.Linux.CgroupsPath, c.Spec.Linux.Resources)
		var join []*os.File
		if err == nil {
			if cgroups.Detect() == cgroups.V2 {
				err = cg.Add(pid)
			} else {
				join, err = cg.ThreadFiles()
			}
			// The stage waits for them, to bind them with its root.
			if err == nil && sendDirs {
				err = sp.p.SendCgroupDirs(cgroupDirs(cg))
			}
			if err != nil {
				made{join: join}.closeJoin()
				join = nil
				_ = cg.Delete()
				cg = nil
			}
		}
		s.cg <- made{cg, join, err}
	}()
	if m.seccomp == nil {
		s.seccomp = make(chan error, 1)
		go func() {
			filter, err := containers.SeccompFilter(c)
			if err == nil {
				m.seccomp = append([]byte{}, filter.Marshal()...) // empty, not nil, when unconfined
			}
			s.seccomp <- err
		}()
	}
	cfg := &runtime.InitConfig{
		Spec:   c.Spec,
		Lowers: c.LowerDirs,
		Upper:  filepath.Join(m.dir, "upper"),
		Work:   filepath.Join(m.dir, "work"),
		// What a --rm container writes goes with it.
		Volatile: c.HostConfig.AutoRemove,
		Shm:      sp.shm,
		CgroupFS: cgroupFS,
		Init:     c.HostConfig.Init != nil && *c.HostConfig.Init,
	}
	if err := sp.p.Send(cfg); err != nil {
		sp.closeOurs()
		if mc := <-s.cg; mc.cg != nil {
			mc.closeJoin()
			_ = mc.cg.Delete()
		}
		s.err = err
		return s
	}
	m.stdin = sp.stdin
	s.p, s.outputs, s.mntns = sp.p, sp.outputs, sp.mntns
	return s
}

// cgroupDirs are cg's directories for the init stage to bind under
// /sys/fs/cgroup.
func cgroupDirs(cg *cgroups.Cgroup) []runtime.CgroupDir {
	var out []runtime.CgroupDir
	for _, h := range cg.Hierarchies() {
		out = append(out, runtime.CgroupDir{Name: h.Name, Links: h.Controllers, Path: h.Dir})
	}
	return out
}

// spawned is an init stage started and waiting for its config
// (runtime.Spawn), with the monitor's ends of its stdio.
type spawned struct {
	p       *runtime.Process
	outputs []output
	stdin   *os.File // the write end of its stdin pipe, with -i and no -t
	flags   uintptr
	shape   shape
	shm     bool // it has another container's /dev/shm (Shared.Shm)
	// mntns holds the stage's new mount namespace: when the container's
	// last process exits, the kernel then leaves its root mounted until
	// the monitor, having told the clients, lets go (release), instead of
	// unmounting it, with an RCU grace period, before the exit is seen.
	mntns *os.File
}

// spawn starts an init stage in new namespaces (runtime.CloneFlags), and
// in those of other containers it shares, with stdio of the given shape.
func spawn(flags uintptr, sh shape, shared runtime.Shared) (*spawned, error) {
	stdio, cleanup, outputs, stdin, err := openStdio(sh)
	if err != nil {
		return nil, err
	}
	trace.Mark("monitor: init exec")
	p, err := runtime.Spawn(flags, stdio, shared)
	cleanup() // the child has its copies
	sp := &spawned{p: p, outputs: outputs, stdin: stdin, flags: flags, shape: sh, shm: shared.Shm != nil}
	if err != nil {
		sp.closeOurs()
		return nil, err
	}
	if flags&syscall.CLONE_NEWNS != 0 {
		sp.mntns, _ = os.Open("/proc/" + strconv.Itoa(p.Pid()) + "/ns/mnt")
	}
	return sp, nil
}

// abort ends a spawned stage that will not be used.
func (sp *spawned) abort() {
	sp.p.Abort()
	sp.closeOurs()
}

func (sp *spawned) closeOurs() {
	if sp.mntns != nil {
		sp.mntns.Close()
	}
	for _, o := range sp.outputs {
		o.f.Close()
	}
	if sp.stdin != nil {
		sp.stdin.Close()
	}
}

// abort undoes a begun run that will not go ahead.
func (s *starting) abort() {
	if s == nil || s.err != nil {
		return
	}
	s.p.Abort()
	if mc := <-s.cg; mc.cg != nil {
		mc.closeJoin()
		_ = mc.cg.Delete()
	}
	s.closeOurs()
}

// closeOurs closes the monitor's ends of a begun run that will not go on.
func (s *starting) closeOurs() {
	for _, o := range s.outputs {
		o.f.Close()
	}
	if s.mntns != nil {
		s.mntns.Close()
	}
}

// spent is what a run that ended leaves for release.
type spent struct {
	cg    *cgroups.Cgroup
	mntns *os.File // holds the container's mount namespace; nil if not held
}

// release lets go of what the run that ended held: its mount namespace is
// torn down (the container's root unmounted) and its cgroup removed.
func (m *monitor) release() {
	m.mu.Lock()
	sp := m.spent
	m.spent = spent{}
	m.mu.Unlock()
	if sp.mntns != nil {
		sp.mntns.Close()
	}
	if sp.cg != nil {
		_ = sp.cg.Delete()
	}
}

// failed is the state of a container that could not start.
func (m *monitor) failed(code int, err error) containers.State {
	if m.log != nil {
		m.logMu.Lock()
		_ = m.log.Flush()
		m.logMu.Unlock()
	}
	st := containers.State{
		Status: containers.StatusExited, ExitCode: code, Error: err.Error(),
		FinishedAt: time.Now().UTC(),
	}
	if m.c.State.Status == containers.StatusCreated {
		// Docker leaves a container that never ran as created.
		st.Status = containers.StatusCreated
	}
	_ = m.opts.Store.SaveState(m.c.ID, st)
	return st
}

// endSessions tells every client how the run ended and lets them go.
// When no run follows (last), a client whose hello comes later is told
// the same at once (handshake), not left to see the monitor vanish.
func (m *monitor) endSessions(st containers.State, last bool) {
	exit, _ := json.Marshal(attach.ExitMsg{Code: st.ExitCode, Error: st.Error, OOMKilled: st.OOMKilled})
	m.mu.Lock()
	defer m.mu.Unlock()
	for cl := range m.clients {
		_ = cl.raw.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_ = cl.conn.WriteFrame(attach.Exit, exit)
		cl.raw.Close()
		delete(m.clients, cl)
	}
	if last {
		m.ended = exit
	}
}

// finish removes a --rm container, or leaves its final state recorded,
// and tells every client how it ended.
func (m *monitor) finish(st containers.State) {
	purge := func() error { return nil }
	if m.c.HostConfig.AutoRemove {
		if p, err := m.opts.Store.Unlink(context.Background(), m.c.ID); err == nil {
			purge = p
			m.emit("destroy")
		}
	}
	trace.Mark("monitor: unlinked")
	m.endSessions(st, true)
	trace.Mark("monitor: clients told")
	// Stops waiting for the container to stop for good have it now.
	m.mu.Lock()
	m.final = st
	m.mu.Unlock()
	close(m.done)
	// The container is gone for everyone already; its files go last.
	_ = purge()
}

func exitCode(ps *os.ProcessState, err error) int {
	if ps == nil {
		return runtime.ExitEngine
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// emit records a container event; events never stop the monitor.
func (m *monitor) emit(action string, extra ...string) {
	if m.opts.Events == nil {
		return
	}
	c := m.c
	_ = m.opts.Events.Emit(events.Event{Type: events.TypeContainer, Action: action,
		Actor: events.Actor{ID: c.ID, Attributes: events.ContainerAttributes(c.Name, c.Config.Image, c.Config.Labels, extra...)}})
}
