package monitor_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"berth/containers"
	"berth/containers/attach"
	"berth/containers/cgroups"
	"berth/containers/monitor"
	"berth/engine"
	"berth/errdefs"
	"berth/events"
	"berth/internal/enginetest"
)

// Tests of the control requests (stop, kill, signal, resize) that the
// engine sends to a container's monitor, the container's one control path.

// control dials the container's monitor as the engine does.
func control(t *testing.T, e *engine.Engine, id string) *monitor.Client {
	t.Helper()
	cl, err := monitor.Dial(context.Background(), store(t, e).Dir(id))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// boundCtx bounds a call that waits for a container.
func boundCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	t.Cleanup(cancel)
	return ctx
}

// inLog waits until the container's log holds s.
func inLog(t *testing.T, e *engine.Engine, c *containers.Container, s string) {
	t.Helper()
	waitFor(t, s+" in the log", func() bool {
		b, _ := os.ReadFile(e.LogPath(c))
		return strings.Contains(string(b), s)
	})
}

// signalsSent lists the signals of the container's kill events, in order.
func signalsSent(t *testing.T, e *engine.Engine, id string) []string {
	t.Helper()
	f, err := os.Open(events.Open(e.Root()).Path())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var sigs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ev events.Event
		if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Actor.ID == id && ev.Action == "kill" {
			sigs = append(sigs, ev.Actor.Attributes["signal"])
		}
	}
	return sigs
}

// running starts a container and waits for its "ready" line.
func running(t *testing.T, e *engine.Engine, cfg containers.Config, hc containers.HostConfig) (*containers.Container, containers.State) {
	t.Helper()
	c := create(t, e, cfg, hc)
	if _, err := e.Start(context.Background(), c.ID, nil); err != nil {
		t.Fatal(err)
	}
	inLog(t, e, c, "ready")
	st := rawState(t, e, c.ID)
	if !st.Running || st.Pid <= 0 || st.MonitorPid <= 0 {
		t.Fatalf("state after start: %+v", st)
	}
	return c, st
}

// stopped checks the record of a container a user stopped, once its
// monitor has exited.
func stopped(t *testing.T, e *engine.Engine, c *containers.Container, st containers.State, code int) {
	t.Helper()
	monitorGone(t, e, c.ID, st.MonitorPid)
	got := rawState(t, e, c.ID)
	if got.Status != containers.StatusExited || got.Running || got.Paused || got.Pid != 0 || got.ExitCode != code || !got.StoppedByUser || got.Error != "" {
		t.Errorf("recorded state %+v, want exited with %d, stopped by the user", got, code)
	}
	if !gone(st.Pid) {
		t.Errorf("container process %d still runs", st.Pid)
	}
	noCgroup(t, c)
}

// TestStopGraceful: a stop request sends the stop signal; the container's
// trap exits with its own code, and the reply (which comes once the exit
// is recorded) carries it. No SIGKILL follows.
func TestStopGraceful(t *testing.T) {
	e := enginetest.New(t)
	c, st := running(t, e, containers.Config{Cmd: []string{"sh", "-c", `trap "echo term; exit 3" TERM; echo ready; sleep 1000 & wait`}}, containers.HostConfig{})
	code, err := control(t, e, c.ID).Stop(boundCtx(t), syscall.SIGTERM, bound)
	if err != nil || code != 3 {
		t.Fatalf("stop: exit %d, %v; want 3", code, err)
	}
	// The reply comes after the exit is recorded: no waiting needed.
	if got := rawState(t, e, c.ID); got.Running || got.ExitCode != 3 {
		t.Errorf("state when the stop returned: %+v", got)
	}
	inLog(t, e, c, "term")
	stopped(t, e, c, st, 3)
	if sigs := signalsSent(t, e, c.ID); strings.Join(sigs, ",") != "15" {
		t.Errorf("signals sent %v, want only 15", sigs)
	}
}

// TestStopTimeoutKills: PID 1 takes SIGTERM and carries on; after the
// timeout the monitor kills it: exit 137, TERM then KILL sent.
func TestStopTimeoutKills(t *testing.T) {
	e := enginetest.New(t)
	c, st := running(t, e, containers.Config{Cmd: []string{"sh", "-c", `trap "echo term" TERM; echo ready; sleep 1000 & while :; do wait; done`}}, containers.HostConfig{})
	code, err := control(t, e, c.ID).Stop(boundCtx(t), syscall.SIGTERM, 300*time.Millisecond)
	if err != nil || code != 137 {
		t.Fatalf("stop: exit %d, %v; want 137", code, err)
	}
	stopped(t, e, c, st, 137)
	if sigs := signalsSent(t, e, c.ID); strings.Join(sigs, ",") != "15,9" {
		t.Errorf("signals sent %v, want 15 then 9", sigs)
	}
}

// TestKill: a kill request returns once the signal is delivered; the
// container's trap runs and it keeps running. A kill also ends the
// restart policy: the container with --restart always that is then
// killed stays down. A kill of a container between runs is refused.
func TestKill(t *testing.T) {
	e := enginetest.New(t)
	c, st := running(t, e, containers.Config{Cmd: []string{"sh", "-c", `trap "echo got-usr1" USR1; echo ready; sleep 1000 & while :; do wait; done`}},
		containers.HostConfig{RestartPolicy: containers.RestartPolicy{Name: "always"}})
	cl := control(t, e, c.ID)
	if err := cl.Kill(boundCtx(t), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	inLog(t, e, c, "got-usr1")
	if got := rawState(t, e, c.ID); !got.Running || got.Pid != st.Pid {
		t.Fatalf("after kill -s USR1: %+v, want the same process running", got)
	}
	if err := cl.Kill(boundCtx(t), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	stopped(t, e, c, st, 137)
	if got := rawState(t, e, c.ID); got.RestartCount != 0 {
		t.Errorf("restarted after kill: %+v", got)
	}
	if err := cl.Kill(boundCtx(t), syscall.SIGKILL); err == nil {
		t.Error("kill after the monitor exited succeeded")
	}

	// Between runs there is nothing to signal.
	r := create(t, e, containers.Config{Cmd: []string{"true"}},
		containers.HostConfig{RestartPolicy: containers.RestartPolicy{Name: "always"}})
	if _, err := e.Start(context.Background(), r.ID, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the back-off after the second restart", func() bool {
		s := rawState(t, e, r.ID)
		return s.Status == containers.StatusRestarting && s.RestartCount >= 2
	})
	err := control(t, e, r.ID).Kill(boundCtx(t), syscall.SIGKILL)
	// It may have restarted meanwhile, briefly (true exits at once).
	if err != nil && !errors.Is(err, errdefs.ErrNotRunning) {
		t.Errorf("kill in the back-off: %v, want not running", err)
	}
	if err := e.Stop(boundCtx(t), r.ID, engine.StopOptions{Timeout: -1}); err != nil {
		t.Fatal(err)
	}
	monitorGone(t, e, r.ID, 0)
}

// TestStopPaused: a paused container is thawed by its monitor so that it
// takes the stop signal: it ends through its trap, not the SIGKILL.
func TestStopPaused(t *testing.T) {
	e := enginetest.New(t)
	c, st := running(t, e, containers.Config{Cmd: []string{"sh", "-c", `trap "exit 4" TERM; echo ready; sleep 1000 & wait`}}, containers.HostConfig{})
	if err := e.Pause(context.Background(), c.ID); err != nil {
		t.Fatal(err)
	}
	if got := rawState(t, e, c.ID); !got.Paused {
		t.Fatalf("state after pause: %+v", got)
	}
	if err := e.Stop(boundCtx(t), c.ID, engine.StopOptions{Timeout: bound}); err != nil {
		t.Fatal(err)
	}
	stopped(t, e, c, st, 4)
}

// TestStopRemovesAutoRemove: the stop of a --rm container returns once
// its monitor has removed it.
func TestStopRemovesAutoRemove(t *testing.T) {
	e := enginetest.New(t)
	c, st := running(t, e, containers.Config{Cmd: []string{"sh", "-c", `echo ready; exec sleep 1000`}}, containers.HostConfig{AutoRemove: true})
	if err := e.Stop(boundCtx(t), c.ID, engine.StopOptions{Timeout: 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Get(context.Background(), c.ID); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("after stop: %v, want the --rm container gone", err)
	}
	monitorGone(t, e, c.ID, st.MonitorPid)
	noCgroup(t, c)
}

// TestControlTwoClients: two clients ask for a stop at once and a third
// sends a resize and a signal on one connection without waiting between
// them: every request is answered (by ID), and both stops once the
// container has stopped, with its exit code.
func TestControlTwoClients(t *testing.T) {
	e := enginetest.New(t)
	c, st := running(t, e, containers.Config{Cmd: []string{"sh", "-c", `trap "echo got-usr2" USR2; trap "exit 7" TERM; echo ready; sleep 1000 & while :; do wait; done`}, Tty: true}, containers.HostConfig{})

	// Pipelined: both requests go out before either reply is read.
	raw := dial(t, e, c.ID)
	conn := attach.NewConn(raw)
	for i, req := range []attach.RequestMsg{
		{Version: attach.Version, ID: 10, Op: attach.OpResize, Rows: 33, Cols: 101},
		{Version: attach.Version, ID: 11, Op: attach.OpSignal, Signal: int(syscall.SIGUSR2)},
	} {
		if err := conn.WriteJSON(attach.Request, req); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	seen := map[uint64]attach.ReplyMsg{}
	for len(seen) < 2 {
		typ, p, err := conn.ReadFrame(nil)
		if err != nil {
			t.Fatalf("after %d replies: %v", len(seen), err)
		}
		if typ != attach.Reply {
			t.Fatalf("frame %q on a control connection", typ)
		}
		var rep attach.ReplyMsg
		if err := json.Unmarshal(p, &rep); err != nil {
			t.Fatal(err)
		}
		seen[rep.ID] = rep
	}
	for id := uint64(10); id <= 11; id++ {
		if rep, ok := seen[id]; !ok || rep.Error != "" || rep.Version != attach.Version {
			t.Errorf("reply to request %d: %+v (present %v)", id, rep, ok)
		}
	}
	inLog(t, e, c, "got-usr2")
	// The terminal has the size asked for: the container's own view.
	winsz := terminalSize(t, st.Pid)
	if winsz != "33 101" {
		t.Errorf("terminal size %q, want 33 101", winsz)
	}

	var wg sync.WaitGroup
	codes, errs := make([]int, 2), make([]error, 2)
	clients := []*monitor.Client{control(t, e, c.ID), control(t, e, c.ID)}
	ctx := boundCtx(t)
	for i, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], errs[i] = cl.Stop(ctx, syscall.SIGTERM, bound)
		}()
	}
	wg.Wait()
	for i := range 2 {
		if errs[i] != nil || codes[i] != 7 {
			t.Errorf("stop %d: exit %d, %v; want 7", i+1, codes[i], errs[i])
		}
	}
	stopped(t, e, c, st, 7)
}

// terminalSize reads rows and columns of the terminal of process pid
// from inside its mount namespace, as stty would.
func terminalSize(t *testing.T, pid int) string {
	t.Helper()
	f, err := os.OpenFile("/proc/"+strconv.Itoa(pid)+"/fd/0", os.O_RDONLY|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(int(ws.Row)) + " " + strconv.Itoa(int(ws.Col))
}

// TestControlClientDiesMidFrame: clients that die in the middle of a
// request frame, and one that dies after sending a stop without reading
// the reply, do not disturb the monitor: the half frames do nothing, the
// abandoned stop is carried out all the same, and the monitor exits
// having recorded it.
func TestControlClientDiesMidFrame(t *testing.T) {
	e := enginetest.New(t)
	c, st := running(t, e, containers.Config{Cmd: []string{"sh", "-c", `trap "exit 9" TERM; echo ready; sleep 1000 & wait`}}, containers.HostConfig{})
	half := func(first []byte) {
		conn := dial(t, e, c.ID)
		var hdr [5]byte
		hdr[0] = attach.Request
		binary.BigEndian.PutUint32(hdr[1:], 200)
		if _, err := conn.Write(append(append(first, hdr[:]...), `{"v":1,"id":1,"op":"stop","sig`...)); err != nil {
			t.Fatal(err)
		}
		conn.Close()
	}
	half(nil) // dies in its first frame
	good, _ := json.Marshal(attach.RequestMsg{Version: attach.Version, ID: 1, Op: attach.OpResize, Rows: 10, Cols: 10})
	var first []byte
	first = append(first, attach.Request, 0, 0, 0, byte(len(good)))
	half(append(first, good...)) // dies in its second

	if got := rawState(t, e, c.ID); !got.Running || got.Pid != st.Pid || got.StoppedByUser {
		t.Fatalf("state after the broken clients %+v, was %+v", got, st)
	}
	// A stop whose client goes at once, before any reply.
	raw := dial(t, e, c.ID)
	if err := attach.NewConn(raw).WriteJSON(attach.Request, attach.RequestMsg{Version: attach.Version, ID: 1, Op: attach.OpStop, Signal: int(syscall.SIGTERM), Timeout: bound}); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	stopped(t, e, c, st, 9)
}

// TestControlUnknownRequest: a request the monitor does not know (an op,
// a protocol version) gets a clear error, and the connection goes on
// serving; a request it cannot carry out gets one of the engine's kinds.
func TestControlUnknownRequest(t *testing.T) {
	e := enginetest.New(t)
	c, st := running(t, e, containers.Config{Cmd: []string{"sh", "-c", `echo ready; exec sleep 1000`}}, containers.HostConfig{})
	cl := control(t, e, c.ID)
	ctx := boundCtx(t)
	if _, err := cl.Do(ctx, attach.RequestMsg{Op: "frobnicate"}); !errors.Is(err, monitor.ErrUnsupported) || !strings.Contains(err.Error(), `"frobnicate"`) {
		t.Errorf("unknown op: %v, want ErrUnsupported naming it", err)
	}
	// A newer client's version, sent raw (Do sets the version).
	raw := dial(t, e, c.ID)
	conn := attach.NewConn(raw)
	if err := conn.WriteJSON(attach.Request, attach.RequestMsg{Version: attach.Version + 1, ID: 5, Op: attach.OpStop, Signal: 15}); err != nil {
		t.Fatal(err)
	}
	typ, p, err := conn.ReadFrame(nil)
	var rep attach.ReplyMsg
	if err != nil || typ != attach.Reply || json.Unmarshal(p, &rep) != nil || rep.ID != 5 ||
		rep.ErrorKind != attach.ErrorUnsupported || !strings.Contains(rep.Error, "version") {
		t.Errorf("newer version: frame %q %s, %v; want an unsupported-version reply to request 5", typ, p, err)
	}
	if _, err := cl.Do(ctx, attach.RequestMsg{Op: attach.OpKill, Signal: 65}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("signal 65: %v, want invalid argument", err)
	}
	// A request on an attach session, after its hello, is answered there.
	at := attachTo(t, e, c.ID, attach.HelloMsg{Stdout: true, Stderr: true})
	if err := at.conn.WriteJSON(attach.Request, attach.RequestMsg{Version: attach.Version, ID: 9, Op: attach.OpResize, Rows: 20, Cols: 70}); err != nil {
		t.Fatal(err)
	}
	for {
		typ, p, err := at.conn.ReadFrame(nil)
		if err != nil {
			t.Fatalf("attach session ended before the reply: %v", err)
		}
		if typ != attach.Reply {
			continue
		}
		var rep attach.ReplyMsg
		if err := json.Unmarshal(p, &rep); err != nil || rep.ID != 9 || rep.Error != "" {
			t.Errorf("reply on the attach session: %s, %v", p, err)
		}
		break
	}
	if got := rawState(t, e, c.ID); !got.Running || got.StoppedByUser || got.Pid != st.Pid {
		t.Fatalf("the refused requests changed the container: %+v", got)
	}
	if _, err := cl.Stop(ctx, syscall.SIGKILL, 0); err != nil {
		t.Fatal(err)
	}
	stopped(t, e, c, st, 137)
}

// TestMonitorKilledPaused: the monitor of a paused container is killed.
// Its container's process cannot die of the parent-death signal while
// frozen, so it stays, in the cgroup. The engine's stop finds the monitor
// gone and settles the container: the record says exited, the process is
// killed through the cgroup, the cgroup removed; rm then works.
func TestMonitorKilledPaused(t *testing.T) {
	e := enginetest.New(t)
	ctx := context.Background()
	c, st := running(t, e, containers.Config{Cmd: []string{"sh", "-c", `echo ready; exec sleep 1000`}}, containers.HostConfig{})
	if err := e.Pause(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if err := unix.Kill(st.MonitorPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the monitor to end", func() bool { return gone(st.MonitorPid) && !store(t, e).MonitorAlive(c.ID) })
	if pids, err := cgroups.Load(c.Spec.Linux.CgroupsPath).Procs(); err != nil || len(pids) == 0 {
		t.Logf("the frozen process went with its monitor (cgroup: %v, %v): the stop has only the record to settle", pids, err)
	}
	if raw := rawState(t, e, c.ID); !raw.Active() {
		t.Fatalf("state file %+v: the monitor had no chance to record an exit", raw)
	}
	// Its socket is still there, with no one listening.
	if _, err := monitor.Dial(ctx, store(t, e).Dir(c.ID)); !errors.Is(err, monitor.ErrGone) {
		t.Errorf("dial of a dead monitor: %v, want ErrGone", err)
	}
	if err := e.Stop(boundCtx(t), c.ID, engine.StopOptions{Timeout: -1}); err != nil {
		t.Fatalf("stop of a container whose monitor is dead: %v", err)
	}
	raw := rawState(t, e, c.ID)
	if raw.Active() || raw.Running || raw.Paused || raw.Pid != 0 || raw.MonitorPid != 0 || raw.ExitCode != 137 || !strings.Contains(raw.Error, "monitor") {
		t.Errorf("state file after stop %+v, want settled: exited 137, the monitor's death as error", raw)
	}
	if !gone(st.Pid) {
		t.Errorf("container process %d outlived the stop", st.Pid)
	}
	noCgroup(t, c)
	if err := e.Remove(ctx, c.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Get(ctx, c.ID); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("after rm: %v", err)
	}
}

// TestStopClientGivesUp: the client of a stop gives up (its context ends)
// while the monitor waits out the timeout: the call returns the context's
// error at once, and the stop stays under way (recorded, the container
// still given its time); a second stop, with no time, ends it.
func TestStopClientGivesUp(t *testing.T) {
	e := enginetest.New(t)
	c, st := running(t, e, containers.Config{Cmd: []string{"sh", "-c", `trap "echo term" TERM; echo ready; sleep 1000 & while :; do wait; done`}},
		containers.HostConfig{RestartPolicy: containers.RestartPolicy{Name: "always"}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	cl := control(t, e, c.ID)
	go func() {
		code, err := cl.Stop(ctx, syscall.SIGTERM, bound)
		done <- result{code, err}
	}()
	inLog(t, e, c, "term") // the stop is under way: TERM taken, and ignored
	cancel()
	select {
	case r := <-done:
		if !errors.Is(r.err, context.Canceled) {
			t.Errorf("stop after its context ended: %d, %v; want context.Canceled", r.code, r.err)
		}
	case <-time.After(bound):
		t.Fatal("stop did not return when its context ended")
	}
	if got := rawState(t, e, c.ID); !got.Running || got.Pid != st.Pid || !got.StoppedByUser {
		t.Errorf("state after the client gave up %+v, want still running, the stop recorded", got)
	}
	code, err := control(t, e, c.ID).Stop(boundCtx(t), syscall.SIGKILL, 0)
	if err != nil || code != 137 {
		t.Fatalf("second stop: %d, %v; want 137", code, err)
	}
	stopped(t, e, c, st, 137)
	if got := rawState(t, e, c.ID); got.RestartCount != 0 {
		t.Errorf("restarted after the stop: %+v", got)
	}
}

// TestPauseUnpause: pause and unpause are the monitor's too: it freezes
// and thaws the cgroup of the current run and records the change; a
// second pause, or an unpause of a running container, is refused.
func TestPauseUnpause(t *testing.T) {
	e := enginetest.New(t)
	c, st := running(t, e, containers.Config{Cmd: []string{"sh", "-c", `echo ready; exec sleep 1000`}}, containers.HostConfig{})
	cl := control(t, e, c.ID)
	ctx := boundCtx(t)
	cg := cgroups.Load(c.Spec.Linux.CgroupsPath)
	if err := cl.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	if frozen, err := cg.Frozen(); err != nil || !frozen {
		t.Errorf("after pause the cgroup is not frozen (%v)", err)
	}
	if got := rawState(t, e, c.ID); got.Status != containers.StatusPaused || !got.Paused || !got.Running {
		t.Errorf("state after pause %+v", got)
	}
	if err := cl.Pause(ctx); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("second pause: %v, want a conflict", err)
	}
	if err := cl.Unpause(ctx); err != nil {
		t.Fatal(err)
	}
	if frozen, err := cg.Frozen(); err != nil || frozen {
		t.Errorf("after unpause the cgroup is frozen (%v)", err)
	}
	if got := rawState(t, e, c.ID); got.Status != containers.StatusRunning || got.Paused || !got.Running {
		t.Errorf("state after unpause %+v", got)
	}
	if err := cl.Unpause(ctx); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("unpause of a running container: %v, want a conflict", err)
	}
	if _, err := cl.Stop(ctx, syscall.SIGKILL, 0); err != nil {
		t.Fatal(err)
	}
	stopped(t, e, c, st, 137)
}
