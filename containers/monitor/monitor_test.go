// Tests of the monitor with real containers: the engine starts each
// container's monitor by re-executing this test binary (see TestMain), and
// the tests talk to it as clients do, through attach.sock and the store.
// The package is monitor_test: enginetest imports the engine, which
// imports this package.
package monitor_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"berth/containers"
	"berth/containers/attach"
	"berth/containers/cgroups"
	"berth/containers/monitor"
	"berth/engine"
	"berth/internal/enginetest"
	"berth/internal/reexec"
)

func TestMain(m *testing.M) { reexec.TestMain(m, "monitor") }

// bound is how long any one condition may take to come true, even on a
// loaded machine; a test that waits longer fails instead of hanging.
const bound = 90 * time.Second

func create(t *testing.T, e *engine.Engine, cfg containers.Config, hc containers.HostConfig) *containers.Container {
	t.Helper()
	c, err := e.Create(context.Background(), engine.CreateOptions{Image: "busybox", Config: cfg, HostConfig: hc})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitFor polls cond until it holds, failing the test after bound.
// A describe func, when given, says what was there instead.
func waitFor(t *testing.T, what string, cond func() bool, describe ...func() string) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			for _, d := range describe {
				what += ": " + d()
			}
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// store opens the container store of e's state root beside the engine,
// as a second berth process would: the tests look at what the monitor
// writes there.
func store(t testing.TB, e *engine.Engine) *containers.Store {
	t.Helper()
	s, err := containers.OpenStoreWith(filepath.Join(e.Root(), "containers"), containers.OpenOptions{KeepLeftovers: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rawState is state.json as the monitor wrote it (LoadState corrects the
// state of a container whose monitor is gone; this does not).
func rawState(t *testing.T, e *engine.Engine, id string) containers.State {
	t.Helper()
	var st containers.State
	b, err := os.ReadFile(filepath.Join(store(t, e).Dir(id), "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// state is the state as the engine reports it.
func state(t *testing.T, e *engine.Engine, id string) containers.State {
	t.Helper()
	c, err := e.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c.State
}

// gone reports whether process pid has ended (a zombie that no one has
// reaped yet counts as ended: it runs nothing and holds nothing).
func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z' || s[i+2] == 'X'
}

// client is a raw attach client of a container's monitor.
type client struct {
	raw  net.Conn
	conn *attach.Conn
}

// dial connects to the monitor's attach socket without saying hello.
func dial(t *testing.T, e *engine.Engine, id string) net.Conn {
	t.Helper()
	addr, done, err := monitor.SocketAddr(store(t, e).Dir(id))
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	conn, err := net.Dial("unix", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// attachTo connects and says hello.
func attachTo(t *testing.T, e *engine.Engine, id string, hello attach.HelloMsg) *client {
	t.Helper()
	raw := dial(t, e, id)
	cl := &client{raw: raw, conn: attach.NewConn(raw)}
	if err := cl.conn.WriteJSON(attach.Hello, hello); err != nil {
		t.Fatal(err)
	}
	return cl
}

// session is what a client received until its connection ended.
type session struct {
	stdout, stderr string
	started        bool // a Started frame came (engine.Start reads the one of its session)
	exit           *attach.ExitMsg
	err            error // how the connection ended
}

// collect reads frames from conn until it ends (the monitor closes it
// after the Exit frame).
func collect(conn *attach.Conn) <-chan session {
	ch := make(chan session, 1)
	go func() {
		var s session
		var out, errb strings.Builder
		var buf []byte
		for {
			typ, p, err := conn.ReadFrame(buf)
			if err != nil {
				s.err = err
				break
			}
			buf = p
			switch typ {
			case attach.Started:
				s.started = true
			case attach.Stdout:
				out.Write(p)
			case attach.Stderr:
				errb.Write(p)
			case attach.Exit:
				var x attach.ExitMsg
				if err := json.Unmarshal(p, &x); err != nil {
					s.err = err
				}
				s.exit = &x
			}
		}
		s.stdout, s.stderr = out.String(), errb.String()
		ch <- s
	}()
	return ch
}

// startAttached starts the container with an engine session attached
// before its first output, and reports what that session received.
func startAttached(t *testing.T, e *engine.Engine, id string) (<-chan session, *engine.Session) {
	t.Helper()
	var out, errb strings.Builder
	s, err := e.Start(context.Background(), id, &engine.Streams{Stdout: &out, Stderr: &errb})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan session, 1)
	go func() {
		res, err := s.Wait(context.Background())
		got := session{started: true, err: err}
		if err == nil {
			got.exit = &attach.ExitMsg{Code: res.ExitCode}
		}
		// The session has stopped writing once Wait returns.
		got.stdout, got.stderr = out.String(), errb.String()
		ch <- got
	}()
	return ch, s
}

// result waits (bounded) for a session to end.
func result(t *testing.T, ch <-chan session, close func() error) session {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(bound):
		_ = close()
		s := <-ch
		t.Fatalf("session did not end; got stdout %q, exit %v", s.stdout, s.exit)
		return s
	}
}

// monitorGone waits until no monitor holds the container's lock, and until
// the monitor process pid (when known) has ended.
func monitorGone(t *testing.T, e *engine.Engine, id string, pid int) {
	t.Helper()
	waitFor(t, "the monitor to exit", func() bool {
		return !store(t, e).MonitorAlive(id) && (pid == 0 || gone(pid))
	})
}

// noCgroup fails unless the container's cgroup is gone.
func noCgroup(t *testing.T, c *containers.Container) {
	t.Helper()
	if pids, err := cgroups.Load(c.Spec.Linux.CgroupsPath).Procs(); err == nil {
		t.Errorf("cgroup %s of %s left behind (processes %v)", c.Spec.Linux.CgroupsPath, c.Name, pids)
	}
}

// TestContainerKilled: the container's process is killed with SIGKILL from
// outside. The monitor records 137 and exited, tells every attached client
// (the one attached before start and one attached later) Exit 137, removes
// the cgroup and exits.
func TestContainerKilled(t *testing.T) {
	e := enginetest.New(t)
	ctx := context.Background()
	c := create(t, e, containers.Config{Cmd: []string{"sh", "-c", "echo ready; exec sleep 1000"}}, containers.HostConfig{})
	firstCh, first := startAttached(t, e, c.ID)
	defer first.Close()
	st := rawState(t, e, c.ID)
	if !st.Running || st.Pid <= 0 || st.MonitorPid <= 0 {
		t.Fatalf("state after start: %+v", st)
	}
	// Output reaches the log before the attached clients: "ready" there
	// means the shell has run.
	logPath := e.LogPath(c)
	waitFor(t, "ready in the log", func() bool {
		b, _ := os.ReadFile(logPath)
		return strings.Contains(string(b), "ready")
	})
	second := attachTo(t, e, c.ID, attach.HelloMsg{Stdout: true, Stderr: true})
	secondCh := collect(second.conn)

	if err := unix.Kill(st.Pid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i, ch := range []<-chan session{firstCh, secondCh} {
		closer := first.Close
		if i == 1 {
			closer = second.raw.Close
		}
		s := result(t, ch, closer)
		if s.exit == nil || s.exit.Code != 137 {
			t.Errorf("client %d: exit %+v (stdout %q, ended with %v), want code 137", i+1, s.exit, s.stdout, s.err)
		}
		if i == 0 && s.stdout != "ready\n" {
			t.Errorf("first client: stdout %q, want ready", s.stdout)
		}
	}
	monitorGone(t, e, c.ID, st.MonitorPid)
	if !gone(st.Pid) {
		t.Errorf("container process %d still runs", st.Pid)
	}
	got := rawState(t, e, c.ID)
	if got.Status != containers.StatusExited || got.Running || got.ExitCode != 137 || got.Pid != 0 || got.MonitorPid != 0 {
		t.Errorf("recorded state %+v, want exited with 137", got)
	}
	if got.Error != "" {
		t.Errorf("a killed container is no engine error: %q", got.Error)
	}
	if code, err := e.Wait(ctx, c.ID); err != nil || code != 137 {
		t.Errorf("wait: %d, %v; want 137", code, err)
	}
	noCgroup(t, c)
}

// TestClientCrashMidFrame: clients that die in the middle of a frame (one
// in its hello, one in a stdin frame after a good hello) do not disturb
// the monitor or the container: a later client attaches, its stdin
// reaches the container untouched by the half-sent bytes, and it gets the
// container's output and its Exit.
func TestClientCrashMidFrame(t *testing.T) {
	e := enginetest.New(t)
	ctx := context.Background()
	c := create(t, e, containers.Config{
		Cmd:       []string{"sh", "-c", `echo ready; read l; echo "got:$l"; exit 3`},
		OpenStdin: true,
	}, containers.HostConfig{})
	if _, err := e.Start(ctx, c.ID, nil); err != nil {
		t.Fatal(err)
	}
	st := rawState(t, e, c.ID)
	waitFor(t, "ready in the log", func() bool {
		b, _ := os.ReadFile(e.LogPath(c))
		return strings.Contains(string(b), "ready")
	})

	partial := func(hdrType byte, sendHello bool) {
		conn := dial(t, e, c.ID)
		if sendHello {
			if err := attach.NewConn(conn).WriteJSON(attach.Hello, attach.HelloMsg{Stdin: true, Stdout: true}); err != nil {
				t.Fatal(err)
			}
		}
		var hdr [5]byte
		hdr[0] = hdrType
		binary.BigEndian.PutUint32(hdr[1:], 100)
		if _, err := conn.Write(append(hdr[:], "xxxxxxxxxx"...)); err != nil {
			t.Fatal(err)
		}
		conn.Close()
	}
	partial(attach.Hello, false) // dies in its hello
	partial(attach.Stdin, true)  // dies in a stdin frame

	// The monitor still serves, and the container still runs as it was.
	cl := attachTo(t, e, c.ID, attach.HelloMsg{Stdin: true, Stdout: true, Stderr: true})
	ch := collect(cl.conn)
	now := rawState(t, e, c.ID)
	if !now.Running || now.Pid != st.Pid || now.MonitorPid != st.MonitorPid {
		t.Fatalf("state after the broken clients %+v, was %+v", now, st)
	}
	if err := cl.conn.WriteFrame(attach.Stdin, []byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	s := result(t, ch, cl.raw.Close)
	if s.stdout != "got:hello\n" {
		t.Errorf("stdout %q, want got:hello (the half frames must not reach the container)", s.stdout)
	}
	if s.exit == nil || s.exit.Code != 3 {
		t.Errorf("exit %+v (ended with %v), want code 3", s.exit, s.err)
	}
	monitorGone(t, e, c.ID, st.MonitorPid)
	if got := rawState(t, e, c.ID); got.Status != containers.StatusExited || got.ExitCode != 3 {
		t.Errorf("recorded state %+v, want exited with 3", got)
	}
	noCgroup(t, c)
}

// TestTwoClients: two clients attached at once (the one attached at start
// and one attached later, whose stdin sets the container off) receive the
// same output, all of it, and the same Exit.
func TestTwoClients(t *testing.T) {
	e := enginetest.New(t)
	c := create(t, e, containers.Config{
		Cmd:       []string{"sh", "-c", `read go; i=0; while [ $i -lt 200 ]; do echo "line $i"; i=$((i+1)); done; echo oops >&2; exit 5`},
		OpenStdin: true,
	}, containers.HostConfig{})
	var want strings.Builder
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&want, "line %d\n", i)
	}
	firstCh, first := startAttached(t, e, c.ID)
	defer first.Close()
	st := rawState(t, e, c.ID)
	// The monitor registers a client before it reads its frames: once the
	// container has this client's stdin, the client receives what follows.
	second := attachTo(t, e, c.ID, attach.HelloMsg{Stdin: true, Stdout: true, Stderr: true})
	secondCh := collect(second.conn)
	if err := second.conn.WriteFrame(attach.Stdin, []byte("go\n")); err != nil {
		t.Fatal(err)
	}
	a := result(t, firstCh, first.Close)
	b := result(t, secondCh, second.raw.Close)
	for i, s := range []session{a, b} {
		if s.stdout != want.String() {
			t.Errorf("client %d: stdout of %d bytes, want %d: %q", i+1, len(s.stdout), want.Len(), s.stdout)
		}
		if s.stderr != "oops\n" {
			t.Errorf("client %d: stderr %q, want oops", i+1, s.stderr)
		}
		if s.exit == nil || s.exit.Code != 5 {
			t.Errorf("client %d: exit %+v (ended with %v), want code 5", i+1, s.exit, s.err)
		}
	}
	monitorGone(t, e, c.ID, st.MonitorPid)
	noCgroup(t, c)
}

// TestStopDuringBackoff: a container with --restart always that exits at
// once is stopped while its monitor waits out the back-off before the next
// restart: it stays exited, is not restarted again, and its monitor exits.
func TestStopDuringBackoff(t *testing.T) {
	e := enginetest.New(t)
	ctx := context.Background()
	c := create(t, e, containers.Config{Cmd: []string{"true"}},
		containers.HostConfig{RestartPolicy: containers.RestartPolicy{Name: "always"}})
	if _, err := e.Start(ctx, c.ID, nil); err != nil {
		t.Fatal(err)
	}
	// After two restarts the back-off is 400 ms: a stop lands in it.
	var st containers.State
	waitFor(t, "the monitor's back-off after the second restart", func() bool {
		st = rawState(t, e, c.ID)
		return st.Status == containers.StatusRestarting && st.RestartCount >= 2
	})
	if !st.Restarting || st.Running {
		t.Fatalf("state in back-off: %+v", st)
	}
	sctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	if err := e.Stop(sctx, c.ID, engine.StopOptions{Timeout: -1}); err != nil {
		t.Fatalf("stop: %v", err)
	}
	stopped := rawState(t, e, c.ID)
	if stopped.Status != containers.StatusExited || stopped.Restarting || stopped.Running {
		t.Errorf("state after stop %+v, want exited", stopped)
	}
	monitorGone(t, e, c.ID, 0)
	// With its monitor gone nothing can restart it: what it recorded last
	// is final.
	final := rawState(t, e, c.ID)
	if final.Status != containers.StatusExited || final.Restarting || final.Running || final.Pid != 0 {
		t.Errorf("state after the monitor exited %+v, want exited", final)
	}
	if final.RestartCount != stopped.RestartCount || !final.StartedAt.Equal(stopped.StartedAt) {
		t.Errorf("restarted after the stop: RestartCount %d -> %d, StartedAt %v -> %v",
			stopped.RestartCount, final.RestartCount, stopped.StartedAt, final.StartedAt)
	}
	if !final.StoppedByUser {
		t.Error("the stop is not recorded (StoppedByUser)")
	}
	if got := state(t, e, c.ID); got.Status != containers.StatusExited || got.Error != "" {
		t.Errorf("engine reports %+v, want exited without error", got)
	}
	noCgroup(t, c)
}

// TestMonitorKilled: the monitor itself is killed with SIGKILL. The
// container's process dies with it (its parent-death signal); the state
// file still says running, which the engine reports as exited 137 with
// an error, and which system check reports as harmless. Removing the
// container (force) leaves no cgroup and no mounts.
func TestMonitorKilled(t *testing.T) {
	e := enginetest.New(t)
	ctx := context.Background()
	c := create(t, e, containers.Config{Cmd: []string{"sleep", "1000"}}, containers.HostConfig{})
	if _, err := e.Start(ctx, c.ID, nil); err != nil {
		t.Fatal(err)
	}
	st := rawState(t, e, c.ID)
	if !st.Running || st.Pid <= 0 || st.MonitorPid <= 0 {
		t.Fatalf("state after start: %+v", st)
	}
	if err := unix.Kill(st.MonitorPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the monitor and the container's process to end", func() bool {
		return gone(st.MonitorPid) && gone(st.Pid)
	})
	waitFor(t, "the monitor lock to be free", func() bool { return !store(t, e).MonitorAlive(c.ID) })

	if raw := rawState(t, e, c.ID); raw.Status != containers.StatusRunning || raw.Pid != st.Pid {
		t.Errorf("state file %+v: the monitor had no chance to record an exit", raw)
	}
	got := state(t, e, c.ID)
	if got.Status != containers.StatusExited || got.Running || got.Pid != 0 || got.MonitorPid != 0 ||
		got.ExitCode != 137 || !strings.Contains(got.Error, "monitor") {
		t.Errorf("engine reports %+v, want exited 137 with the monitor's death as error", got)
	}
	if code, err := e.Wait(ctx, c.ID); err != nil || code != 137 {
		t.Errorf("wait: %d, %v; want 137", code, err)
	}
	if err := e.Kill(ctx, c.ID, syscall.SIGKILL); err == nil {
		t.Error("kill of a container whose monitor is dead succeeded")
	}

	rep, err := e.Check(ctx, engine.CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Clean() {
		t.Errorf("check finds problems: %+v", rep.Findings)
	}
	found := false
	for _, f := range rep.Findings {
		if strings.Contains(f.Object, containers.ShortID(c.ID)) && strings.Contains(f.Problem, "monitor") {
			found = true
			if f.Severity != engine.Harmless {
				t.Errorf("finding %+v is not harmless", f)
			}
		}
	}
	if !found {
		t.Errorf("check does not mention the dead monitor: %+v", rep.Findings)
	}

	// Stop finds no monitor to ask and settles the record instead.
	if err := e.Stop(ctx, c.ID, engine.StopOptions{Timeout: -1}); err != nil {
		t.Fatalf("stop of a container whose monitor is dead: %v", err)
	}
	if raw := rawState(t, e, c.ID); raw.Active() || raw.Pid != 0 || raw.ExitCode != 137 || !strings.Contains(raw.Error, "monitor") {
		t.Errorf("state file after stop %+v, want the exit recorded", raw)
	}

	if err := e.Remove(ctx, c.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Get(ctx, c.ID); err == nil {
		t.Error("the container is still there after remove")
	}
	if _, err := os.Stat(store(t, e).Dir(c.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("container dir after remove: %v", err)
	}
	noCgroup(t, c)
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), c.ID) {
		t.Errorf("mounts of %s left behind", c.ID)
	}
}

// TestStopAnywhereInBackoff: stops that land anywhere in the first
// back-off (100 ms), up to and across the moment the monitor starts the
// container again, all hold: the monitor exits and the container stays
// exited. (A stop that came after the back-off's last look at the state,
// while the next run was starting, used to be wiped out by that run's
// state and the container restarted for ever.) The sleeps only spread
// where the stops land; every outcome is waited for as a condition.
func TestStopAnywhereInBackoff(t *testing.T) {
	e := enginetest.New(t)
	ctx := context.Background()
	for i := 0; i < 16; i++ {
		c := create(t, e, containers.Config{Cmd: []string{"true"}},
			containers.HostConfig{RestartPolicy: containers.RestartPolicy{Name: "always"}})
		if _, err := e.Start(ctx, c.ID, nil); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the first back-off", func() bool {
			return rawState(t, e, c.ID).Status == containers.StatusRestarting
		})
		time.Sleep(time.Duration(i*8) * time.Millisecond)
		sctx, cancel := context.WithTimeout(ctx, bound)
		err := e.Stop(sctx, c.ID, engine.StopOptions{Timeout: -1})
		cancel()
		if err != nil {
			t.Fatalf("round %d: stop: %v", i, err)
		}
		// The stop returns once the final state is recorded. (A stop that
		// came between the record of a run's exit, as restarting, and the
		// monitor's look at the policy used to leave it "restarting".)
		if st := rawState(t, e, c.ID); st.Active() || !st.StoppedByUser {
			t.Fatalf("round %d: state when the stop returned %+v", i, st)
		}
		waitFor(t, fmt.Sprintf("round %d: the monitor to exit after the stop", i), func() bool {
			return !store(t, e).MonitorAlive(c.ID)
		}, func() string { return fmt.Sprintf("%#v", rawState(t, e, c.ID)) })
		if st := rawState(t, e, c.ID); st.Active() || !st.StoppedByUser {
			t.Fatalf("round %d: state after stop %+v", i, st)
		}
		if err := e.Remove(ctx, c.ID, false); err != nil {
			t.Fatal(err)
		}
		noCgroup(t, c)
	}
}
