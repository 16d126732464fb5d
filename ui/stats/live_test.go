package stats

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"berth/engine"
	"berth/internal/reexec"
	"berth/internal/testimage"
)

// The test binary doubles as berth's monitor and init.
func TestMain(m *testing.M) { reexec.TestMain(m, "stats") }

// TestLiveHistory feeds a History from a real engine's StatsHub through
// a Stream, as the app does, while a container burns CPU.
func TestLiveHistory(t *testing.T) {
	root := t.TempDir()
	e, err := engine.New(root, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var tar bytes.Buffer
	if err := testimage.WriteBusyboxTar(&tar); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Import(ctx, &tar, engine.ImportOptions{Ref: "busybox"}); err != nil {
		t.Fatal(err)
	}
	c, err := e.Create(ctx, engine.CreateOptions{Name: "burn", Image: "busybox",
		Config: engine.ContainerConfig{Cmd: []string{"sh", "-c", "while :; do :; done"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Stop(ctx, c.ID, engine.StopOptions{Timeout: time.Second}); err != nil {
			t.Errorf("stop: %v", err)
		}
		if err := e.Remove(ctx, c.ID, true); err != nil {
			t.Errorf("remove: %v", err)
		}
		mi, _ := os.ReadFile("/proc/self/mountinfo")
		if strings.Contains(string(mi), root) {
			t.Errorf("mounts under %s left behind", root)
		}
	})
	if _, err := e.Start(ctx, c.ID, nil); err != nil {
		t.Fatal(err)
	}

	h := NewHistory(300)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := Subscribe(sctx, e.NewStatsHub(100*time.Millisecond), 7)
	next := s.Next()
	var cpu []float32
	var msg SamplesMsg
	// Readings come every 100 ms; the first of a container covers its
	// whole life. Wait for a few in which the busy loop shows, however
	// loaded the machine (a bounded number of readings, not a time).
	busy := func() bool {
		last, _ := h.Latest(c.ID)
		tot := h.Totals()
		return len(cpu) >= 5 && cpu[len(cpu)-1] >= 20 && last.CPUPercent >= 20 && tot.Host.CPUPercent >= 20 && tot.CPUPercent >= 20
	}
	for i := 0; i < 600 && !busy(); i++ {
		got, ok := next().(SamplesMsg)
		if !ok {
			t.Fatal("stream ended")
		}
		msg = got
		h.Add(msg)
		cpu = h.Tail(c.ID, CPU, 300, cpu[:0])
	}
	t.Logf("CPU %% of the busy container by reading: %v; totals %+v", cpu, h.Totals())
	if msg.Gen != 7 {
		t.Errorf("message of generation %d, want 7", msg.Gen)
	}
	last, ok := h.Latest(c.ID)
	if !ok || !last.Running || last.Name != "burn" {
		t.Fatalf("Latest = %+v, %v", last, ok)
	}
	// A busy loop takes a core (100%); allow for a loaded machine.
	if len(cpu) < 5 || cpu[len(cpu)-1] < 20 || last.CPUPercent < 20 {
		t.Errorf("CPU of the busy container: %v (latest %.1f%%)", cpu, last.CPUPercent)
	}
	if last.Pids < 1 || last.MemUsage == 0 {
		t.Errorf("latest %+v", last)
	}
	tot := h.Totals()
	if !tot.HostOK || tot.Running != 1 || tot.Host.CPUs < 1 || tot.Host.MemTotal == 0 || tot.Host.MemUsed == 0 ||
		tot.Host.CPUPercent < 20 || tot.CPUPercent < 20 {
		t.Errorf("totals %+v", tot)
	}
	if rx := h.Tail(c.ID, NetRx, 1, nil); len(rx) != 1 || isNaN(rx[0]) {
		t.Errorf("net rx rate %v", rx)
	}

	// Ending the subscription ends the stream: Next returns nil.
	cancel()
	done := make(chan any, 1)
	go func() { done <- s.Next()() }()
	select {
	case m := <-done:
		if m != nil {
			if _, ok := m.(SamplesMsg); !ok {
				t.Errorf("after cancel: %T", m)
			}
			// One reading may have been on its way; the next is the end.
			if m := s.Next()(); m != nil {
				t.Errorf("after cancel: %T", m)
			}
		}
	case <-time.After(time.Minute):
		t.Fatal("stream did not end after cancel")
	}
	if s.host != nil {
		t.Error("host reader kept open after the stream ended")
	}
}
