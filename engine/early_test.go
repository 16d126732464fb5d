package engine_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"berth/containers"
	"berth/engine"
)

// monitorsOf lists the PIDs of the monitor processes of a state root.
func monitorsOf(root string) []string {
	var pids []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte("\x00monitor\x00--root\x00"+root+"\x00")) {
			pids = append(pids, filepath.Base(filepath.Dir(p)))
		}
	}
	return pids
}

func waitNoMonitors(t *testing.T, root string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for len(monitorsOf(root)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("monitors still running: %v", monitorsOf(root))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A monitor launched while the record is written (StartNext) runs the
// container Start names; one whose Create fails, or whose container is
// removed without a start, ends and leaves nothing.
func TestEarlyMonitor(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	root := e.Root()

	_, err := e.Create(ctx, engine.CreateOptions{Image: "no-such-image", StartNext: true})
	if err == nil {
		t.Fatal("create from a missing image succeeded")
	}
	waitNoMonitors(t, root)

	c, err := e.Create(ctx, engine.CreateOptions{Image: "busybox", StartNext: true,
		Config: containers.Config{Cmd: []string{"sh", "-c", "echo early; exit 5"}}})
	if err != nil {
		t.Fatal(err)
	}
	out, _, code := runAttached(t, e, c)
	if out != "early\n" || code != 5 {
		t.Errorf("output %q, exit %d; want \"early\\n\", 5", out, code)
	}
	logb, _ := os.ReadFile(filepath.Join(root, "containers", c.ID, "monitor.log"))
	if strings.TrimSpace(string(logb)) != "" {
		t.Errorf("monitor.log: %s", logb)
	}

	c, err = e.Create(ctx, engine.CreateOptions{Image: "busybox", StartNext: true,
		Config: containers.Config{Cmd: []string{"true"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(monitorsOf(root)) == 0 {
		t.Error("no monitor waiting for the container created with StartNext")
	}
	if err := e.Remove(ctx, c.ID, false); err != nil {
		t.Fatal(err)
	}
	waitNoMonitors(t, root)
}

// An engine opened with StartSoon has a monitor waiting before any
// container exists; the next Create with StartNext gives it its container.
func TestSpareMonitor(t *testing.T) {
	root := newEngine(t).Root()
	e, err := engine.New(root, engine.Options{StartSoon: true})
	if err != nil {
		t.Fatal(err)
	}
	spare := monitorsOf(root)
	if len(spare) != 1 {
		t.Fatalf("monitors after New with StartSoon: %v, want one", spare)
	}
	c, err := e.Create(context.Background(), engine.CreateOptions{Image: "busybox", StartNext: true,
		Config: containers.Config{Cmd: []string{"sh", "-c", "echo spare"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := monitorsOf(root); len(got) != 1 || got[0] != spare[0] {
		t.Errorf("monitors after Create: %v, want the spare %v alone", got, spare)
	}
	if out, _, code := runAttached(t, e, c); out != "spare\n" || code != 0 {
		t.Errorf("output %q, exit %d", out, code)
	}
	waitNoMonitors(t, root)
}
