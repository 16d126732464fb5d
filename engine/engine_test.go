package engine_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"berth/containers"
	"berth/containers/logfile"
	"berth/engine"
	"berth/internal/enginetest"
	"berth/internal/flock/flocktest"
	"berth/internal/reexec"
)

// The test binary doubles as berth's monitor and init.
func TestMain(m *testing.M) { reexec.TestMain(m, "engine") }

func newEngine(t testing.TB) *engine.Engine { return enginetest.New(t) }

func create(t *testing.T, e *engine.Engine, cmd ...string) *containers.Container {
	t.Helper()
	c, err := e.Create(context.Background(), engine.CreateOptions{Image: "busybox", Config: containers.Config{Cmd: cmd}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// runAttached starts c attached and returns its output and exit code.
func runAttached(t *testing.T, e *engine.Engine, c *containers.Container) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	s, err := e.Start(context.Background(), c.ID, &engine.Streams{Stdout: &out, Stderr: &errb})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Wait(context.Background())
	if err != nil || res.Detached {
		t.Fatalf("session: %+v %v", res, err)
	}
	return out.String(), errb.String(), res.ExitCode
}

func TestRunAttached(t *testing.T) {
	e := newEngine(t)
	c := create(t, e, "sh", "-c", "echo out; echo err >&2; exit 3")
	out, errs, code := runAttached(t, e, c)
	if out != "out\n" || errs != "err\n" || code != 3 {
		t.Errorf("stdout %q stderr %q code %d", out, errs, code)
	}
	got, err := e.Get(context.Background(), c.Name)
	if err != nil || got.State.Status != containers.StatusExited || got.State.ExitCode != 3 {
		t.Errorf("state after exit: %+v %v", got.State, err)
	}
	// The log holds both streams, in order within each.
	var lines []string
	err = e.Logs(context.Background(), c.ID, engine.LogsOptions{Tail: -1}, func(en logfile.Entry) error {
		lines = append(lines, en.Stream+":"+string(en.Line))
		return nil
	})
	if err != nil || len(lines) != 2 {
		t.Fatalf("logs %q %v", lines, err)
	}
}

func TestStartFailures(t *testing.T) {
	e := newEngine(t)
	for _, tc := range []struct {
		cmd  []string
		code int
	}{
		{[]string{"no-such-command"}, 127},
		{[]string{"/etc/passwd"}, 126},
		{[]string{"/no/such/path"}, 127},
	} {
		c := create(t, e, tc.cmd...)
		_, err := e.Start(context.Background(), c.ID, nil)
		var se *engine.StartError
		if !errors.As(err, &se) || se.Code != tc.code || !strings.Contains(se.Message, tc.cmd[0]) {
			t.Errorf("%v: %v, want a StartError %d naming the command", tc.cmd, err, tc.code)
		}
		got, _ := e.Get(context.Background(), c.ID)
		if got.State.Running || got.State.ExitCode != tc.code {
			t.Errorf("%v: state %+v", tc.cmd, got.State)
		}
	}
}

// A detached container outlives the engine value that started it; another
// one (as another berth process would) sees it, execs in it and stops it.
func TestDetachedSeenByAnotherEngine(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	c := create(t, e, "sh", "-c", "echo started; exec sleep 60")
	if _, err := e.Start(ctx, c.ID, nil); err != nil {
		t.Fatal(err)
	}
	other, err := engine.New(e.Root(), engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := other.Get(ctx, c.ID[:10])
	if err != nil || !got.State.Running || got.State.Pid == 0 {
		t.Fatalf("other engine sees %+v %v", got.State, err)
	}
	r, w, _ := os.Pipe()
	cmd, err := other.Exec(ctx, c.Name, engine.ExecOptions{
		Cmd:   []string{"sh", "-c", "cat /etc/hostname; echo $HOSTNAME; ps -o pid,comm"},
		Stdin: nil, Stdout: w, Stderr: w,
	})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	out.ReadFrom(r)
	cmd.Cmd.Wait()
	short := c.ID[:12]
	if !strings.Contains(out.String(), short+"\n"+short+"\n") || !strings.Contains(out.String(), "1 sleep") {
		t.Errorf("exec output %q", out.String())
	}
	deadline := time.Now().Add(time.Minute)
	for {
		var logs string
		other.Logs(ctx, c.ID, engine.LogsOptions{Tail: -1}, func(en logfile.Entry) error { logs += string(en.Line); return nil })
		if logs == "started\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("logs %q", logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// sleep as PID 1 has no TERM handler: stop kills it after the timeout.
	start := time.Now()
	if err := other.Stop(ctx, c.ID, engine.StopOptions{Timeout: 500 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	got, _ = e.Get(ctx, c.ID)
	if got.State.Running || got.State.ExitCode != 137 || time.Since(start) < 400*time.Millisecond {
		t.Errorf("after stop: %+v", got.State)
	}
}

// kill -9 of a monitor takes its container down and leaves a consistent
// record: exited, no process, no mounts.
func TestMonitorKilled(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	c := create(t, e, "sleep", "60")
	if _, err := e.Start(ctx, c.ID, nil); err != nil {
		t.Fatal(err)
	}
	got, _ := e.Get(ctx, c.ID)
	pid, mon := got.State.Pid, got.State.MonitorPid
	if mon == 0 || pid == 0 {
		t.Fatalf("state %+v", got.State)
	}
	syscall.Kill(mon, syscall.SIGKILL)
	deadline := time.Now().Add(time.Minute)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatal("container process outlived its monitor")
		}
		time.Sleep(10 * time.Millisecond)
	}
	got, _ = e.Get(ctx, c.ID)
	if got.State.Running || got.State.Status != containers.StatusExited {
		t.Errorf("state after monitor kill: %+v", got.State)
	}
	// It can start again.
	if _, err := e.Start(ctx, c.ID, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.Remove(ctx, c.ID, true); err != nil {
		t.Fatal(err)
	}
}

func TestNamesUniqueUnderConcurrency(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A separate engine value per goroutine, like separate processes.
			o, err := engine.New(e.Root(), engine.Options{})
			if err != nil {
				t.Error(err)
				return
			}
			_, err = o.Create(ctx, engine.CreateOptions{Name: "same", Image: "busybox", Config: containers.Config{Cmd: []string{"true"}}})
			if err == nil {
				mu.Lock()
				won++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if won != 1 {
		t.Errorf("%d creates of the name won, want 1", won)
	}
}

func TestRemoveRunningNeedsForce(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	c := create(t, e, "sleep", "60")
	if _, err := e.Start(ctx, c.ID, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.Remove(ctx, c.ID, false); err == nil || !strings.Contains(err.Error(), c.Name) {
		t.Errorf("remove of running container: %v", err)
	}
	if err := e.Remove(ctx, c.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Get(ctx, c.ID); err == nil {
		t.Error("container still there after forced removal")
	}
	_ = exec.ErrNotFound
}

// exec -t gets a terminal of the container's own devpts.
func TestExecTty(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	c := create(t, e, "sleep", "60")
	if _, err := e.Start(ctx, c.ID, nil); err != nil {
		t.Fatal(err)
	}
	p, err := e.Exec(ctx, c.ID, engine.ExecOptions{Cmd: []string{"sh", "-c", "tty; echo $TERM"}, Tty: true})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	out.ReadFrom(p.Pty) // ends with EIO when the process exits
	p.Cmd.Wait()
	p.Pty.Close()
	if got := out.String(); !strings.HasPrefix(got, "/dev/pts/") || !strings.Contains(got, "xterm") {
		t.Errorf("exec -t output %q", got)
	}
}

// BenchmarkSample20 reads the resource use of 20 running containers, as one
// tick of stats does. Run: go test -run XXX -bench Sample ./engine/
func BenchmarkSample20(b *testing.B) {
	e := newEngine(b)
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		c, err := e.Create(ctx, engine.CreateOptions{Image: "busybox", Config: containers.Config{Cmd: []string{"sleep", "600"}}})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.Start(ctx, c.ID, nil); err != nil {
			b.Fatal(err)
		}
	}
	s := e.NewSampler()
	defer s.Close()
	if smp, err := s.Sample(ctx, false); err != nil || len(smp) != 20 {
		b.Fatalf("%d samples, %v", len(smp), err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Sample(ctx, false); err != nil {
			b.Fatal(err)
		}
	}
}

func TestStatsSampler(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	busy := create(t, e, "sh", "-c", "while :; do :; done")
	idle := create(t, e, "sleep", "60")
	for _, c := range []*containers.Container{busy, idle} {
		if _, err := e.Start(ctx, c.ID, nil); err != nil {
			t.Fatal(err)
		}
	}
	hub := e.NewStatsHub(200 * time.Millisecond)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a, b := hub.Subscribe(sctx), hub.Subscribe(sctx)
	// Ticks until the busy loop shows, however loaded the machine: a
	// bounded number of them, not a time.
	var bs, is engine.Sample
	for i := 0; i < 300; i++ {
		last := <-a
		<-b // both subscribers get every tick they keep up with
		for _, s := range last {
			switch s.ID {
			case busy.ID:
				bs = s
			case idle.ID:
				is = s
			}
		}
		if i >= 3 && bs.CPUPercent >= 20 && is.CPUPercent <= 5 && bs.Pids == 1 && bs.MemUsage != 0 {
			return
		}
	}
	t.Errorf("busy %+v\nidle %+v", bs, is)
}

// TestCreateWaitEndsWithContext: a create waiting for the lock an image
// removal holds (gc.lock, taken here through a file of its own, as
// another berth process would) gives up with ctx's error when cancelled,
// and leaves no container.
func TestCreateWaitEndsWithContext(t *testing.T) {
	e := newEngine(t)
	held, err := os.OpenFile(filepath.Join(e.Root(), "gc.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if err := syscall.Flock(int(held.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := e.Create(ctx, engine.CreateOptions{Image: "busybox", Config: containers.Config{Cmd: []string{"true"}}})
		done <- err
	}()
	flocktest.UntilWaiting(t, 1, done)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled create: %v, want context.Canceled", err)
	}
	if all, err := e.List(context.Background()); err != nil || len(all) != 0 {
		t.Errorf("after the cancelled create: %d containers, %v", len(all), err)
	}
}
