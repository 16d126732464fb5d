package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"syscall"
	"time"

	"github.com/creack/pty"

	"berth/containers"
	"berth/containers/attach"
	"berth/containers/cgroups"
	"berth/containers/runtime"
)

// The monitor is its container's one control path: stop, kill, signals,
// resizes, pause and unpause come to it as control requests
// (attach.RequestMsg) on its socket, and it alone records what they
// change in the state of the running container. Each request runs in a
// goroutine of its own, so that a slow stop holds up neither the client's
// other frames nor other clients; what requests share (the process, the
// stop, the terminal size) is guarded by m.mu, the freezer by m.freezer.

// request decodes one Request frame from cl and answers it.
func (m *monitor) request(cl *client, p []byte) {
	var req attach.RequestMsg
	if err := json.Unmarshal(p, &req); err != nil {
		m.reply(cl, attach.ReplyMsg{Error: fmt.Sprintf("bad control request: %v", err), ErrorKind: attach.ErrorInvalid})
		return
	}
	// The monitor answers every request it took before it exits; one
	// that comes as it exits is answered if it can be (its client reads
	// the end of the connection as the monitor gone, and looks at the
	// record instead).
	m.mu.Lock()
	tracked := !m.closing
	if tracked {
		m.ctl.Add(1)
	}
	m.mu.Unlock()
	go func() {
		if tracked {
			defer m.ctl.Done()
		}
		rep := m.control(req)
		rep.Version, rep.ID = attach.Version, req.ID
		m.reply(cl, rep)
	}()
}

// reply sends a reply; a client that has gone, or does not read, loses it.
func (m *monitor) reply(cl *client, rep attach.ReplyMsg) {
	_ = cl.raw.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_ = cl.conn.WriteJSON(attach.Reply, rep)
}

func failure(kind, format string, args ...any) attach.ReplyMsg {
	return attach.ReplyMsg{ErrorKind: kind, Error: fmt.Sprintf(format, args...)}
}

// control carries out one request.
func (m *monitor) control(req attach.RequestMsg) attach.ReplyMsg {
	if req.Version < 1 || req.Version > attach.Version {
		return failure(attach.ErrorUnsupported, "control protocol version %d is not supported by this monitor (it speaks 1 to %d)", req.Version, attach.Version)
	}
	switch req.Op {
	case attach.OpResize:
		if req.Rows == 0 || req.Cols == 0 {
			return failure(attach.ErrorInvalid, "invalid terminal size %dx%d", req.Rows, req.Cols)
		}
		m.resize(req.Rows, req.Cols)
		return attach.ReplyMsg{}
	case attach.OpPause:
		return m.pause()
	case attach.OpUnpause:
		return m.unpause()
	case attach.OpSignal, attach.OpKill, attach.OpStop:
		if req.Signal <= 0 || req.Signal > 64 {
			return failure(attach.ErrorInvalid, "invalid signal: %d", req.Signal)
		}
	default:
		return failure(attach.ErrorUnsupported, "unknown control request %q", req.Op)
	}
	sig := syscall.Signal(req.Signal)
	switch req.Op {
	case attach.OpSignal:
		m.mu.Lock()
		p := m.proc
		m.mu.Unlock()
		if p == nil {
			return m.notRunning()
		}
		if err := p.Cmd.Process.Signal(sig); err != nil {
			return m.notRunning()
		}
		return attach.ReplyMsg{}
	case attach.OpKill:
		return m.kill(sig)
	default:
		return m.stop(sig, max(req.Timeout, 0))
	}
}

func (m *monitor) notRunning() attach.ReplyMsg {
	return failure(attach.ErrorNotRunning, "container %s is not running", m.name())
}

func (m *monitor) name() string {
	if m.c.Name != "" {
		return m.c.Name
	}
	return containers.ShortID(m.c.ID)
}

// resize sizes the terminal, now and for the runs to come.
func (m *monitor) resize(rows, cols uint16) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.size = &pty.Winsize{Rows: rows, Cols: cols}
	if m.master != nil {
		_ = pty.Setsize(m.master, m.size)
	}
}

// markStopped notes that a user stopped the container: the restart policy
// no longer applies, and a back-off under way ends at once. It returns
// the process of the current run (nil between runs) with its cgroup and
// the channel closed when it has exited. A run that registers its process
// later sees the stop then (see running).
func (m *monitor) markStopped() (*runtime.Process, *cgroups.Cgroup, chan struct{}) {
	m.mu.Lock()
	if !m.stopping {
		m.stopping = true
		close(m.stopCh)
	}
	p, cg, exited := m.proc, m.cg, m.exited
	m.mu.Unlock()
	// Recorded before any signal, so that the exit the signal causes
	// is recorded as stopped by the user (and unless-stopped remembers
	// it); the monitor's own decisions go by m.stopping.
	_, _ = m.opts.Store.UpdateState(context.Background(), m.c.ID, func(s *containers.State) { s.StoppedByUser = true })
	return p, cg, exited
}

// kill is `berth kill`: recorded as a stop (Docker's kill also ends the
// restart policy), answered once the signal is delivered.
func (m *monitor) kill(sig syscall.Signal) attach.ReplyMsg {
	m.mu.Lock()
	running := m.proc != nil
	m.mu.Unlock()
	if !running {
		return m.notRunning()
	}
	p, cg, _ := m.markStopped()
	if p == nil || m.deliver(p, cg, sig) != nil {
		return m.notRunning() // it ended meanwhile
	}
	return attach.ReplyMsg{}
}

// stop is `berth stop`: sig, up to timeout for the process to exit, then
// SIGKILL; answered once the container has stopped for good (its exit
// recorded, a --rm container removed). A container between runs (in the
// restart back-off) is not started again.
func (m *monitor) stop(sig syscall.Signal, timeout time.Duration) attach.ReplyMsg {
	p, cg, exited := m.markStopped()
	if p != nil {
		if timeout > 0 {
			_ = m.deliver(p, cg, sig)
			t := time.NewTimer(timeout)
			select {
			case <-exited:
			case <-t.C:
			}
			t.Stop()
		}
		select {
		case <-exited:
		default:
			_ = m.deliver(p, cg, syscall.SIGKILL)
		}
	}
	<-m.done
	m.mu.Lock()
	st := m.final
	m.mu.Unlock()
	return attach.ReplyMsg{Status: string(st.Status), ExitCode: st.ExitCode}
}

// runningCgroup is the cgroup of the run under way, or nil between runs.
func (m *monitor) runningCgroup() *cgroups.Cgroup {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proc == nil {
		return nil
	}
	return m.cg
}

// pause freezes the current run's processes and records it.
func (m *monitor) pause() attach.ReplyMsg {
	m.freezer.Lock()
	defer m.freezer.Unlock()
	cg := m.runningCgroup()
	if cg == nil {
		return m.notRunning()
	}
	if frozen, _ := cg.Frozen(); frozen {
		return failure(attach.ErrorConflict, "container %s is already paused", m.name())
	}
	// A paused container is not checked (its check would be frozen too).
	m.stopHealth()
	if err := cg.Freeze(); err != nil {
		m.resumeHealth(cg)
		return failure(attach.ErrorFailed, "pause %s: %v", m.name(), err)
	}
	_, _ = m.opts.Store.UpdateState(context.Background(), m.c.ID, func(s *containers.State) {
		if s.Running {
			s.Status, s.Paused = containers.StatusPaused, true
			healthStopped(s)
		}
	})
	m.emit("pause")
	return attach.ReplyMsg{}
}

// unpause thaws the current run's processes and records it.
func (m *monitor) unpause() attach.ReplyMsg {
	m.freezer.Lock()
	defer m.freezer.Unlock()
	cg := m.runningCgroup()
	if cg == nil {
		return m.notRunning()
	}
	if frozen, err := cg.Frozen(); err == nil && !frozen {
		return failure(attach.ErrorConflict, "container %s is not paused", m.name())
	}
	if err := m.thaw(cg); err != nil {
		return failure(attach.ErrorFailed, "unpause %s: %v", m.name(), err)
	}
	return attach.ReplyMsg{}
}

// thaw thaws the cgroup and records the container running again. The
// caller holds m.freezer.
func (m *monitor) thaw(cg *cgroups.Cgroup) error {
	if err := cg.Thaw(); err != nil {
		return err
	}
	_, _ = m.opts.Store.UpdateState(context.Background(), m.c.ID, func(s *containers.State) {
		s.Paused = false
		if s.Status == containers.StatusPaused {
			s.Status = containers.StatusRunning
		}
	})
	m.emit("unpause")
	m.resumeHealth(cg)
	return nil
}

// deliver signals the container's first process and, when the container
// is paused, thaws it so that it can act on the signal. The monitor
// thaws, not the engine: it holds the current run's cgroup and is the one
// writer of the running container's state (Paused), and it looks at the
// freezer again with every signal it sends (the stop signal, then the
// SIGKILL), so a pause that lands in between cannot hold a stop up past
// its timeout. A frozen process never acts on a signal, and on cgroup v1
// not even SIGKILL ends it until it thaws.
func (m *monitor) deliver(p *runtime.Process, cg *cgroups.Cgroup, sig syscall.Signal) error {
	if err := p.Cmd.Process.Signal(sig); err != nil {
		return err
	}
	m.emit("kill", "signal", strconv.Itoa(int(sig)))
	if cg == nil {
		return nil
	}
	m.freezer.Lock()
	defer m.freezer.Unlock()
	if frozen, err := cg.Frozen(); err != nil || !frozen {
		return nil
	}
	if err := m.thaw(cg); err != nil {
		return fmt.Errorf("thaw to deliver signal %d: %w", sig, err)
	}
	return nil
}
