package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"berth/engine"
	"berth/events"
)

func TestWriteEventLine(t *testing.T) {
	ev := engine.Event{
		Type: "container", Action: "start",
		Actor: events.Actor{ID: "1d1ae36f", Attributes: map[string]string{"name": "web", "image": "busybox", "exitCode": "0"}},
		Time:  1795460948, TimeNano: 1795460948402557817,
	}
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	writeEventLine(w, ev, time.UTC)
	ev.Actor.Attributes = nil
	writeEventLine(w, ev, time.FixedZone("", 2*3600))
	w.Flush()
	want := "2026-11-23T19:09:08.402557817Z container start 1d1ae36f (exitCode=0, image=busybox, name=web)\n" +
		"2026-11-23T21:09:08.402557817+02:00 container start 1d1ae36f\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// syncBuffer is a bytes.Buffer safe to read while a command writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runCLI runs berth with args against root and returns stdout and the
// error.
func runCLI(ctx context.Context, root string, stdout *syncBuffer, args ...string) error {
	a := &app{stdin: strings.NewReader(""), stdout: stdout, stderr: &syncBuffer{}}
	cmd := a.newRootCmd()
	cmd.SetArgs(append([]string{"--root", root}, args...))
	_, err := cmd.ExecuteContextC(ctx)
	return err
}

// pastEvents writes events at base+0s .. base+3s into root's log.
func pastEvents(t *testing.T, root string, base time.Time) []engine.Event {
	t.Helper()
	l := events.Open(root)
	evs := []engine.Event{
		{Type: "container", Action: "create", Actor: events.Actor{ID: "c1", Attributes: map[string]string{"name": "web", "image": "busybox"}}},
		{Type: "container", Action: "start", Actor: events.Actor{ID: "c1", Attributes: map[string]string{"name": "web", "image": "busybox"}}},
		{Type: "image", Action: "tag", Actor: events.Actor{ID: "sha256:ab", Attributes: map[string]string{"name": "busybox:1"}}},
		{Type: "container", Action: "die", Actor: events.Actor{ID: "c1", Attributes: map[string]string{"name": "web", "image": "busybox", "exitCode": "3"}}},
	}
	for i := range evs {
		evs[i].TimeNano = base.Add(time.Duration(i) * time.Second).UnixNano()
		if err := l.Emit(evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	return evs
}

func TestEventsPast(t *testing.T) {
	root := t.TempDir()
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	evs := pastEvents(t, root, base)
	unix := func(i int) string { return strconv.FormatInt(base.Add(time.Duration(i)*time.Second).Unix(), 10) }
	line := func(i int) string {
		var b bytes.Buffer
		w := bufio.NewWriter(&b)
		writeEventLine(w, evs[i], time.Local)
		w.Flush()
		return b.String()
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"since and until", []string{"events", "--since", unix(1), "--until", unix(2)}, line(1) + line(2)},
		{"until alone shows the past", []string{"events", "--until", unix(1)}, line(0) + line(1)},
		{"relative until", []string{"system", "events", "--since", unix(0), "--until", "30m"}, line(0) + line(1) + line(2) + line(3)},
		{"filter", []string{"events", "--since", unix(0), "--until", "0s", "-f", "type=container", "--filter", "event=die", "-f", "event=create"}, line(0) + line(3)},
		{"filter by name", []string{"events", "--since", unix(0), "--until", "0s", "--filter", "container=we"}, line(0) + line(1) + line(3)},
		{"template", []string{"events", "--since", unix(0), "--until", "0s", "--format", `{{.Type}}{{"\t"}}{{.Action}} {{.ID}} {{index .Actor.Attributes "name"}}`},
			"container\tcreate c1 web\ncontainer\tstart c1 web\nimage\ttag sha256:ab busybox:1\ncontainer\tdie c1 web\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var out syncBuffer
			if err := runCLI(ctx, root, &out, tt.args...); err != nil {
				t.Fatal(err)
			}
			if ctx.Err() != nil {
				t.Fatal("a past --until must not follow")
			}
			if out.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", out.String(), tt.want)
			}
		})
	}

	var out syncBuffer
	if err := runCLI(context.Background(), root, &out, "events", "--since", unix(0), "--until", "0s", "--format", "json"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("--format json: %d lines:\n%s", len(lines), out.String())
	}
	var got engine.Event
	if err := json.Unmarshal([]byte(lines[3]), &got); err != nil {
		t.Fatal(err)
	}
	if got.Action != "die" || got.Actor.Attributes["exitCode"] != "3" || got.TimeNano != evs[3].TimeNano || !strings.Contains(lines[3], `"timeNano":`) {
		t.Errorf("--format json: %s", lines[3])
	}
}

func TestEventsErrors(t *testing.T) {
	root := t.TempDir()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"events", "--filter", "colour=red"}, "invalid filter 'colour'"},
		{[]string{"events", "--since", "1h", "--until", "2h"}, "`since` time (1h) cannot be after `until` time (2h)"},
		{[]string{"events", "--since", "yesterday"}, "invalid value for --since"},
		{[]string{"events", "--format", "{{.Nope}}"}, "can't evaluate field Nope"},
		{[]string{"events", "extra"}, "unknown command"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := runCLI(ctx, root, &syncBuffer{}, tt.args...)
		cancel()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want an error with %q", tt.args, err, tt.want)
		}
	}
}

// `berth events` follows what other processes (here another Log value)
// append, and Ctrl-C (the context ending) ends it without an error.
func TestEventsFollowAndInterrupt(t *testing.T) {
	root := t.TempDir()
	pastEvents(t, root, time.Now().Add(-time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- runCLI(ctx, root, &out, "events", "--format", "{{.Action}} {{.Actor.ID}}", "--filter", "type=container")
	}()

	l := events.Open(root)
	deadline := time.Now().Add(time.Minute)
	// Until the command follows, probes may be missed: send until one shows.
	for !strings.Contains(out.String(), "probe") {
		if time.Now().After(deadline) {
			t.Fatalf("events shows nothing new: %q", out.String())
		}
		if err := l.Emit(engine.Event{Type: "container", Action: "probe", Actor: events.Actor{ID: "p"}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := l.Emit(engine.Event{Type: "image", Action: "pull", Actor: events.Actor{ID: "busybox"}}); err != nil {
		t.Fatal(err)
	}
	if err := l.Emit(engine.Event{Type: "container", Action: "stop", Actor: events.Actor{ID: "c9"}}); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(out.String(), "stop c9") {
		if time.Now().After(deadline) {
			t.Fatalf("the stop event is not shown: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("interrupted events: %v, want no error (exit 0)", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("events does not end on interrupt")
	}
	got := out.String()
	if strings.Contains(got, "create c1") || strings.Contains(got, "pull") {
		t.Errorf("shows old or filtered-out events:\n%s", got)
	}
	if !strings.HasSuffix(got, "stop c9\n") {
		t.Errorf("output does not end with the stop event:\n%s", got)
	}
}

// --until in the near future ends a live stream by itself.
func TestEventsUntilEndsStream(t *testing.T) {
	root := t.TempDir()
	var out syncBuffer
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- runCLI(context.Background(), root, &out, "events", "--until=-300ms") }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 250*time.Millisecond {
			t.Errorf("ended after %v, before --until", d)
		}
	case <-time.After(time.Minute):
		t.Fatal("events goes on past --until")
	}
}
