package events

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// A test binary started with childRootEnv set is a second process that
// emits childCountEnv events into that root and exits.
const (
	childRootEnv  = "BERTH_EVENTS_TEST_CHILD_ROOT"
	childCountEnv = "BERTH_EVENTS_TEST_CHILD_COUNT"
)

func TestMain(m *testing.M) {
	if root := os.Getenv(childRootEnv); root != "" {
		n, _ := strconv.Atoi(os.Getenv(childCountEnv))
		l := Open(root)
		for i := range n {
			if err := l.Emit(testEvent("child", i)); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// testEvent is a container event whose actor ID names its source and
// sequence number.
func testEvent(source string, i int) Event {
	return Event{
		Type: TypeContainer, Action: "start",
		Actor: Actor{ID: fmt.Sprintf("%s-%d", source, i), Attributes: map[string]string{"name": source, "image": "busybox"}},
	}
}

// collector follows a log in the background and gathers what it reads.
type collector struct {
	mu     sync.Mutex
	events []Event
	more   chan struct{}
	done   chan error
	cancel context.CancelFunc
}

// follow starts Read on l with opts and returns once it follows.
func follow(t *testing.T, l *Log, opts ReadOptions) *collector {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &collector{more: make(chan struct{}, 1), done: make(chan error, 1), cancel: cancel}
	ready := make(chan struct{})
	l.onFollow = func() { close(ready) }
	go func() {
		c.done <- l.Read(ctx, opts, func(e Event) error {
			c.mu.Lock()
			c.events = append(c.events, e)
			c.mu.Unlock()
			select {
			case c.more <- struct{}{}:
			default:
			}
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-c.done
	})
	select {
	case <-ready:
	case err := <-c.done:
		t.Fatalf("Read ended before following: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("Read does not start following")
	}
	return c
}

func (c *collector) snapshot() []Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Event(nil), c.events...)
}

// waitFor waits until n events have been read, and returns them.
func (c *collector) waitFor(t *testing.T, n int) []Event {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		if got := c.snapshot(); len(got) >= n {
			return got
		}
		select {
		case <-c.more:
		case err := <-c.done:
			t.Fatalf("Read ended with %v after %d of %d events", err, len(c.snapshot()), n)
		case <-deadline:
			t.Fatalf("only %d of %d events read", len(c.snapshot()), n)
		}
	}
}

func ids(es []Event) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Actor.ID)
	}
	return out
}

// readAll reads the whole log without following.
func readAll(t *testing.T, l *Log, opts ReadOptions) []Event {
	t.Helper()
	var got []Event
	if err := l.Read(context.Background(), opts, func(e Event) error {
		got = append(got, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

// modes runs a test with inotify and with polling.
func modes(t *testing.T, test func(t *testing.T, pollOnly bool)) {
	t.Run("inotify", func(t *testing.T) { test(t, false) })
	t.Run("poll", func(t *testing.T) { test(t, true) })
}

func TestEmitFillsTimesAndReadsBack(t *testing.T) {
	root := t.TempDir()
	l := Open(root)
	if _, err := os.Stat(l.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open must not create the log: %v", err)
	}
	before := time.Now()
	in := []Event{
		{Type: TypeContainer, Action: "create", Actor: Actor{ID: "c1", Attributes: map[string]string{"name": "web"}}},
		{Type: TypeImage, Action: "pull", Actor: Actor{ID: "busybox:latest"}, Time: 1700000000},
		{Type: TypeVolume, Action: "create", Actor: Actor{ID: "v1"}, TimeNano: 1700000001500000000},
	}
	for _, e := range in {
		if err := l.Emit(e); err != nil {
			t.Fatal(err)
		}
	}
	got := readAll(t, l, ReadOptions{})
	if len(got) != 3 {
		t.Fatalf("read %d events, want 3", len(got))
	}
	if got[0].TimeNano < before.UnixNano() || got[0].Time != got[0].TimeNano/1e9 || got[0].Actor.Attributes["name"] != "web" {
		t.Errorf("first event %+v: times not filled from the clock", got[0])
	}
	if got[1].Time != 1700000000 || got[1].TimeNano != 1700000000*1e9 {
		t.Errorf("TimeNano not filled from Time: %+v", got[1])
	}
	if got[2].Time != 1700000001 || got[2].TimeNano != 1700000001500000000 {
		t.Errorf("Time not filled from TimeNano: %+v", got[2])
	}
	raw, err := os.ReadFile(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines in the log, want 3:\n%s", len(lines), raw)
	}
	if want := `{"Type":"image","Action":"pull","Actor":{"ID":"busybox:latest","Attributes":{}},"time":1700000000,"timeNano":1700000000000000000}`; lines[1] != want {
		t.Errorf("line in Docker's shape:\n got %s\nwant %s", lines[1], want)
	}
	fi, err := os.Stat(l.Path())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("log mode %v (%v), want 0600", fi.Mode(), err)
	}
}

func TestEmitTooLarge(t *testing.T) {
	l := Open(t.TempDir())
	e := testEvent("big", 0)
	e.Actor.Attributes["blob"] = strings.Repeat("x", MaxLineSize)
	if err := l.Emit(e); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Emit of a huge event: %v, want ErrTooLarge", err)
	}
	if err := l.Emit(testEvent("small", 0)); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, l, ReadOptions{}); len(got) != 1 || got[0].Actor.ID != "small-0" {
		t.Errorf("log holds %v, want only small-0", ids(got))
	}
}

func TestEmitMissingRoot(t *testing.T) {
	l := Open(filepath.Join(t.TempDir(), "nowhere"))
	if err := l.Emit(testEvent("x", 0)); err == nil {
		t.Fatal("Emit into a missing root succeeded")
	}
}

func TestFollowShowsOnlyNewEvents(t *testing.T) {
	modes(t, func(t *testing.T, pollOnly bool) {
		root := t.TempDir()
		w := Open(root)
		for i := range 3 {
			if err := w.Emit(testEvent("old", i)); err != nil {
				t.Fatal(err)
			}
		}
		r := Open(root)
		r.pollOnly = pollOnly
		c := follow(t, r, ReadOptions{Follow: true})
		if err := w.Emit(testEvent("new", 0)); err != nil {
			t.Fatal(err)
		}
		got := c.waitFor(t, 1)
		time.Sleep(150 * time.Millisecond) // anything else would show now
		if got = c.snapshot(); len(got) != 1 || got[0].Actor.ID != "new-0" {
			t.Fatalf("followed %v, want only new-0", ids(got))
		}
	})
}

func TestFollowBeforeLogExists(t *testing.T) {
	modes(t, func(t *testing.T, pollOnly bool) {
		root := t.TempDir()
		r := Open(root)
		r.pollOnly = pollOnly
		c := follow(t, r, ReadOptions{Follow: true})
		w := Open(root)
		for i := range 3 {
			if err := w.Emit(testEvent("w", i)); err != nil {
				t.Fatal(err)
			}
		}
		if got := ids(c.waitFor(t, 3)); strings.Join(got, ",") != "w-0,w-1,w-2" {
			t.Fatalf("followed %v", got)
		}
	})
}

// A follower sees what another process appends, and another Log value in
// this one, each source in its own order.
func TestFollowSeesOtherProcesses(t *testing.T) {
	modes(t, func(t *testing.T, pollOnly bool) {
		root := t.TempDir()
		r := Open(root)
		r.pollOnly = pollOnly
		c := follow(t, r, ReadOptions{Follow: true})

		const n = 50
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childRootEnv+"="+root, childCountEnv+"="+strconv.Itoa(n))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() {
			w := Open(root)
			for i := range n {
				if err := w.Emit(testEvent("goroutine", i)); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child process: %v", err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		got := c.waitFor(t, 2*n)
		next := map[string]int{}
		for _, e := range got {
			source, num, _ := strings.Cut(e.Actor.ID, "-")
			if i, _ := strconv.Atoi(num); i != next[source] {
				t.Fatalf("from %s: got %s, want number %d", source, e.Actor.ID, next[source])
			}
			next[source]++
		}
		if next["child"] != n || next["goroutine"] != n || len(got) != 2*n {
			t.Fatalf("read %d events (%v), want %d from each source", len(got), next, n)
		}
	})
}

// paddedEvent is a test event with a filler attribute, to reach rotation
// sizes sooner.
func paddedEvent(source string, i int) Event {
	e := testEvent(source, i)
	e.Actor.Attributes["pad"] = strings.Repeat("p", 100)
	return e
}

func TestFollowAcrossRotation(t *testing.T) {
	modes(t, func(t *testing.T, pollOnly bool) {
		root := t.TempDir()
		r := Open(root)
		r.pollOnly = pollOnly
		c := follow(t, r, ReadOptions{Follow: true})
		w := Open(root)
		w.maxSize = 16 << 10
		const n = 600
		rotations := 0
		for i := range n {
			if err := w.Emit(paddedEvent("w", i)); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(w.Path()); errors.Is(err, os.ErrNotExist) {
				rotations++
			}
			if i%40 == 39 {
				c.waitFor(t, i+1) // keep the follower within a file of us
			}
		}
		got := c.waitFor(t, n)
		for i, e := range got {
			if want := fmt.Sprintf("w-%d", i); e.Actor.ID != want {
				t.Fatalf("event %d is %s, want %s", i, e.Actor.ID, want)
			}
		}
		if rotations < 5 {
			t.Fatalf("only %d rotations: the test did not test rotation", rotations)
		}
		fi, err := os.Stat(w.rotatedPath())
		if err != nil || fi.Size() <= w.maxSize || fi.Size() > w.maxSize+1024 {
			t.Errorf("rotated file: %v, %v", fi, err)
		}
	})
}

// A follower held up while the log rotates twice still reads the file in
// between (from events.log.1) before the new one.
func TestFollowAcrossDoubleRotation(t *testing.T) {
	root := t.TempDir()
	w := Open(root)
	w.maxSize = 4 << 10
	if err := w.Emit(paddedEvent("w", 0)); err != nil {
		t.Fatal(err)
	}
	r := Open(root)
	release := make(chan struct{})
	var mu sync.Mutex
	var got []string
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		done <- r.Read(ctx, ReadOptions{Since: time.Unix(0, 0), Follow: true}, func(e Event) error {
			mu.Lock()
			got = append(got, e.Actor.ID)
			first := len(got) == 1
			mu.Unlock()
			if first {
				<-release
			}
			return nil
		})
	}()
	// Wait until the reader holds the first event.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("reader did not read the first event")
		}
	}
	n, rotations := 1, 0
	for extra := 0; extra < 3; n++ {
		if err := w.Emit(paddedEvent("w", n)); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(w.Path()); errors.Is(err, os.ErrNotExist) {
			rotations++
		} else if rotations == 2 {
			extra++
		}
	}
	close(release)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		k := len(got)
		mu.Unlock()
		if k >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("read %d of %d events after two rotations", k, n)
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Read ended with %v, want context.Canceled", err)
	}
	for i, id := range got {
		if want := fmt.Sprintf("w-%d", i); id != want {
			t.Fatalf("event %d is %s, want %s", i, id, want)
		}
	}
}

// emitConcurrently has 8 goroutines with a Log each emit 200 events.
func emitConcurrently(t *testing.T, root string, maxSize int64) int {
	const writers, each = 8, 200
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := Open(root)
			l.maxSize = maxSize
			for i := range each {
				if err := l.Emit(paddedEvent(fmt.Sprintf("g%d", g), i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return writers * each
}

// checkLines reads the log files' raw lines: each must be an event, and
// each event must be there once.
func checkLines(t *testing.T, total int, paths ...string) {
	t.Helper()
	seen := map[string]bool{}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var e Event
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatalf("%s: bad line %q: %v", p, sc.Text(), err)
			}
			if seen[e.Actor.ID] {
				t.Fatalf("%s twice", e.Actor.ID)
			}
			seen[e.Actor.ID] = true
		}
		f.Close()
	}
	if len(seen) != total {
		t.Fatalf("%d events in the log, want %d", len(seen), total)
	}
}

func TestConcurrentEmitters(t *testing.T) {
	root := t.TempDir()
	total := emitConcurrently(t, root, MaxSize)
	checkLines(t, total, filepath.Join(root, LogName))
	if _, err := os.Stat(filepath.Join(root, LogName+".1")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("rotated below MaxSize: %v", err)
	}
}

// Concurrent writers race one rotation while a reader follows: nothing is
// lost or read twice, by the follower or in the files.
func TestConcurrentEmittersWithRotation(t *testing.T) {
	modes(t, func(t *testing.T, pollOnly bool) {
		root := t.TempDir()
		r := Open(root)
		r.pollOnly = pollOnly
		c := follow(t, r, ReadOptions{Follow: true})
		line, _ := json.Marshal(paddedEvent("g0", 100))
		total := 8 * 200
		maxSize := int64(len(line)+1) * int64(total) * 6 / 10 // rotates exactly once
		emitConcurrently(t, root, maxSize)
		if _, err := os.Stat(filepath.Join(root, LogName+".1")); err != nil {
			t.Fatalf("no rotation: %v", err)
		}
		checkLines(t, total, filepath.Join(root, LogName+".1"), filepath.Join(root, LogName))
		got := c.waitFor(t, total)
		time.Sleep(100 * time.Millisecond)
		got = c.snapshot()
		seen := map[string]bool{}
		for _, e := range got {
			if seen[e.Actor.ID] {
				t.Fatalf("followed %s twice", e.Actor.ID)
			}
			seen[e.Actor.ID] = true
		}
		if len(got) != total {
			t.Fatalf("followed %d events, want %d", len(got), total)
		}
	})
}

func TestSinceUntil(t *testing.T) {
	root := t.TempDir()
	l := Open(root)
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }
	event := func(i int) Event {
		e := paddedEvent("e", i)
		e.TimeNano = at(i).UnixNano()
		return e
	}
	// Rotate after every 7th line: events.log.1 keeps e-7..e-13 and
	// events.log e-14..e-19.
	line, _ := json.Marshal(event(10))
	l.maxSize = int64(len(line)+1) * 13 / 2
	for i := range 20 {
		if err := l.Emit(event(i)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		opts ReadOptions
		want string // first,last or "" for none
	}{
		{"all", ReadOptions{}, "e-7,e-19"},
		{"since", ReadOptions{Since: at(14)}, "e-14,e-19"},
		{"since in the older file", ReadOptions{Since: at(9)}, "e-9,e-19"},
		{"until", ReadOptions{Until: at(15)}, "e-7,e-15"},
		{"since and until inclusive", ReadOptions{Since: at(10), Until: at(16)}, "e-10,e-16"},
		{"since and until between events", ReadOptions{Since: at(10).Add(time.Millisecond), Until: at(16).Add(-time.Millisecond)}, "e-11,e-15"},
		{"follow with a past until", ReadOptions{Since: at(17), Until: at(18), Follow: true}, "e-17,e-18"},
		{"follow with until alone, past", ReadOptions{Until: at(13), Follow: true}, ""},
		{"follow from the start with a past until", ReadOptions{Since: time.Unix(0, 0), Until: at(13), Follow: true}, "e-7,e-13"},
		{"since after everything", ReadOptions{Since: at(30)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			got := ids(readAll(t, l, tt.opts))
			if time.Since(start) > 10*time.Second {
				t.Errorf("took %v: a past Until must not follow", time.Since(start))
			}
			var span string
			if len(got) > 0 {
				span = got[0] + "," + got[len(got)-1]
				first, _ := strconv.Atoi(strings.TrimPrefix(got[0], "e-"))
				for i, id := range got {
					if id != fmt.Sprintf("e-%d", first+i) {
						t.Fatalf("not in order: %v", got)
					}
				}
			}
			if span != tt.want {
				t.Errorf("read %v, want %s", got, tt.want)
			}
		})
	}
}

// "follow with until alone, past" above: Docker's --until without --since
// replays the past. The CLI gets that with Since = time.Unix(0, 0); the
// zero Since of Follow means "new only".

func TestFollowUntil(t *testing.T) {
	root := t.TempDir()
	l := Open(root)
	// Until leaves room for the event below to be written before it, however
	// slowly a busy machine gets there.
	until := time.Now().Add(2 * time.Second)
	var got []string
	done := make(chan error, 1)
	ready := make(chan struct{})
	r := Open(root)
	r.onFollow = func() { close(ready) }
	go func() {
		done <- r.Read(context.Background(), ReadOptions{Until: until, Follow: true}, func(e Event) error {
			got = append(got, e.Actor.ID)
			return nil
		})
	}()
	<-ready
	if err := l.Emit(testEvent("in", 0)); err != nil {
		t.Fatal(err)
	}
	late := testEvent("late", 0)
	late.TimeNano = until.Add(time.Hour).UnixNano()
	if err := l.Emit(late); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Read goes on past Until")
	}
	if time.Now().Before(until) {
		t.Error("Read ended before Until")
	}
	if strings.Join(got, ",") != "in-0" {
		t.Errorf("read %v, want in-0 only", got)
	}
}

func TestReadErrors(t *testing.T) {
	root := t.TempDir()
	l := Open(root)
	for i := range 3 {
		if err := l.Emit(testEvent("e", i)); err != nil {
			t.Fatal(err)
		}
	}
	stop := errors.New("stop")
	calls := 0
	err := l.Read(context.Background(), ReadOptions{}, func(Event) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("Read = %v after %d calls, want the callback's error after 1", err, calls)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Read(ctx, ReadOptions{Follow: true}, func(Event) error { return nil }) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled Read = %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Read does not end when ctx is cancelled")
	}
}

// Garbage lines are skipped; a line being written is read once complete.
func TestPartialAndBadLines(t *testing.T) {
	modes(t, func(t *testing.T, pollOnly bool) {
		root := t.TempDir()
		l := Open(root)
		if err := l.Emit(testEvent("e", 0)); err != nil {
			t.Fatal(err)
		}
		line, _ := json.Marshal(testEvent("e", 1))
		line = append(line, '\n')
		f, err := os.OpenFile(l.Path(), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString("not json\n{\"Type\":\n\n" + string(line[:20])); err != nil {
			t.Fatal(err)
		}
		r := Open(root)
		r.pollOnly = pollOnly
		c := follow(t, r, ReadOptions{Since: time.Unix(0, 0), Follow: true})
		c.waitFor(t, 1)
		time.Sleep(100 * time.Millisecond)
		if got := ids(c.snapshot()); len(got) != 1 {
			t.Fatalf("read %v before the line was complete", got)
		}
		if _, err := f.Write(line[20:]); err != nil {
			t.Fatal(err)
		}
		if err := l.Emit(testEvent("e", 2)); err != nil {
			t.Fatal(err)
		}
		if got := ids(c.waitFor(t, 3)); strings.Join(got, ",") != "e-0,e-1,e-2" {
			t.Fatalf("read %v", got)
		}
	})
}

func TestSubscribe(t *testing.T) {
	root := t.TempDir()
	l := Open(root)
	if err := l.Emit(testEvent("old", 0)); err != nil {
		t.Fatal(err)
	}
	f, err := ParseFilters([]string{"type=container"})
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	l.onFollow = func() { close(ready) }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := l.Subscribe(ctx, f)
	<-ready
	w := Open(root)
	if err := w.Emit(Event{Type: TypeImage, Action: "pull", Actor: Actor{ID: "busybox:latest"}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Emit(testEvent("new", 0)); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-ch:
		if e.Actor.ID != "new-0" {
			t.Fatalf("received %s, want new-0 (no old events, no image events)", e.Actor.ID)
		}
	case <-time.After(time.Minute):
		t.Fatal("no event received")
	}
	cancel()
	select {
	case e, ok := <-ch:
		if ok {
			t.Fatalf("received %+v after cancel", e)
		}
	case <-time.After(time.Minute):
		t.Fatal("channel not closed after cancel")
	}
}

func BenchmarkEmit(b *testing.B) {
	l := Open(b.TempDir())
	e := testEvent("bench", 0)
	e.Actor.Attributes["exitCode"] = "0"
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Emit(e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEmitParallel(b *testing.B) {
	root := b.TempDir()
	b.RunParallel(func(pb *testing.PB) {
		l := Open(root)
		e := testEvent("bench", 0)
		for pb.Next() {
			if err := l.Emit(e); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
