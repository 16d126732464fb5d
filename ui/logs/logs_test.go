package logs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"berth/containers/logfile"
	"berth/ui/common"
	"berth/ui/keys"
	"berth/ui/styles"
	"berth/ui/uitest"
)

var t0 = time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)

func testCommon() *common.Common {
	return &common.Common{
		Ctx:    context.Background(),
		Styles: styles.New(false),
		Keys:   keys.Default(),
		Now:    func() time.Time { return t0.Add(time.Hour) },
	}
}

// harness runs a pane's commands as bubbletea does, each in a goroutine,
// and feeds their messages back to it.
type harness struct {
	t       *testing.T
	m       *Model
	msgs    chan tea.Msg
	pending int
	status  []common.StatusMsg
	errs    []common.ErrMsg
}

func newHarness(t *testing.T, w, h int) *harness {
	m := New(testCommon())
	m.SetSize(w, h)
	hs := &harness{t: t, m: m, msgs: make(chan tea.Msg, 64)}
	t.Cleanup(func() {
		m.Close()
		// Let the commands still running (the armed wait) end.
		for hs.pending > 0 {
			select {
			case <-hs.msgs:
				hs.pending--
			case <-time.After(time.Minute):
				t.Errorf("%d commands still running after Close", hs.pending)
				return
			}
		}
	})
	return hs
}

func (h *harness) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	h.pending++
	go func() { h.msgs <- cmd() }()
}

// handle delivers one message.
func (h *harness) handle(msg tea.Msg) {
	switch msg := msg.(type) {
	case nil:
	case tea.BatchMsg:
		for _, c := range msg {
			h.run(c)
		}
	case common.StatusMsg:
		h.status = append(h.status, msg)
	case common.ErrMsg:
		h.errs = append(h.errs, msg)
	default:
		h.run(h.m.Update(msg))
	}
}

// next waits for one message from a running command and handles it.
func (h *harness) next() {
	h.t.Helper()
	select {
	case msg := <-h.msgs:
		h.pending--
		h.handle(msg)
	case <-time.After(time.Minute):
		h.t.Fatalf("no message for a minute; %d commands running\n%s", h.pending, h.view())
	}
}

// settle handles messages until only the pane's armed wait for the log
// to change is left running.
func (h *harness) settle() {
	h.t.Helper()
	for {
		idle := 0
		if h.m.waiting {
			idle = 1
		}
		if h.pending <= idle {
			break
		}
		h.next()
	}
	if len(h.errs) > 0 {
		h.t.Fatalf("errors: %v", h.errs)
	}
}

// waitFor handles messages (the wait for the log included) until cond.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("waiting for %s; view:\n%s", what, h.view())
		}
		h.next()
	}
	h.settle()
}

func (h *harness) do(cmd tea.Cmd) { h.run(cmd); h.settle() }

func (h *harness) open(path string) {
	h.do(h.m.Open("c0ffee", "web", path))
}

func (h *harness) keys(names ...string) {
	for _, n := range names {
		h.handle(press(n))
		h.settle()
	}
}

func (h *harness) typ(s string) {
	for _, r := range s {
		h.keys(string(r))
	}
}

func (h *harness) view() string { return ansi.Strip(h.m.View()) }

func (h *harness) rows() []string { return strings.Split(h.view(), "\n") }

func (h *harness) statusLine() string {
	r := h.rows()
	return r[len(r)-1]
}

func press(name string) tea.KeyPressMsg {
	codes := map[string]rune{
		"enter": tea.KeyEnter, "esc": tea.KeyEscape, "up": tea.KeyUp, "down": tea.KeyDown,
		"left": tea.KeyLeft, "right": tea.KeyRight, "pgup": tea.KeyPgUp, "pgdown": tea.KeyPgDown,
		"home": tea.KeyHome, "end": tea.KeyEnd, "backspace": tea.KeyBackspace,
	}
	if c, ok := codes[name]; ok {
		return tea.KeyPressMsg{Code: c}
	}
	if name == "space" {
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	}
	return tea.KeyPressMsg{Code: []rune(name)[0], Text: name}
}

type rec struct {
	stream string
	text   string
}

// writeLog writes recs, one chunk each, a millisecond apart from t0.
func writeLog(t testing.TB, path string, opts logfile.Options, recs []rec) {
	t.Helper()
	w, err := logfile.NewWriter(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		if err := w.Write(r.stream, t0.Add(time.Duration(i)*time.Millisecond), []byte(r.text)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// numbered is n lines "line 0000" ... in chunks of up to 7 lines, every
// fifth chunk on stderr.
func numbered(from, n int) []rec {
	var recs []rec
	for i := from; i < from+n; {
		var b strings.Builder
		for k := 0; k < 7 && i < from+n; k, i = k+1, i+1 {
			fmt.Fprintf(&b, "line %04d\n", i)
		}
		stream := "stdout"
		if len(recs)%5 == 4 {
			stream = "stderr"
		}
		recs = append(recs, rec{stream, b.String()})
	}
	return recs
}

// shown returns the log lines on screen (the body, trimmed).
func (h *harness) shown() []string {
	r := h.rows()
	out := make([]string, 0, len(r))
	for _, l := range r[:len(r)-1] {
		out = append(out, strings.TrimRight(l, " "))
	}
	return out
}

func wantRange(t *testing.T, h *harness, from int) {
	t.Helper()
	got := h.shown()
	for i, l := range got {
		if want := fmt.Sprintf("line %04d", from+i); l != want {
			t.Fatalf("row %d = %q, want %q\n%s", i, l, want, h.view())
		}
	}
}

func TestOpenShowsTheEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	writeLog(t, path, logfile.Options{}, numbered(0, 500))
	h := newHarness(t, 40, 10)
	h.open(path)
	wantRange(t, h, 491)
	if s := h.statusLine(); !strings.Contains(s, "FOLLOW") || !strings.HasSuffix(strings.TrimSpace(s), "100%") {
		t.Fatalf("status: %q", s)
	}
	if got := len(h.m.lines); got > 6*h.m.chunk() {
		t.Fatalf("window of %d lines", got)
	}
}

func TestScrollReadsByOffset(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	writeLog(t, path, logfile.Options{MaxSize: 16 << 10, MaxFile: 10}, numbered(0, 5000))
	if _, err := os.Stat(path + ".3"); err != nil {
		t.Fatal("want a rotated set:", err)
	}
	h := newHarness(t, 40, 10)
	h.open(path)
	top := 4991
	// Page up through several reads and file boundaries.
	for range 60 {
		h.keys("pgup")
		top -= 8
		wantRange(t, h, top)
		if h.m.follow {
			t.Fatal("still following after scrolling up")
		}
	}
	if n := len(h.m.lines); n > 6*h.m.chunk() {
		t.Fatalf("window grew to %d lines", n)
	}
	h.keys("up", "up", "down")
	wantRange(t, h, top-1)
	h.keys("g")
	wantRange(t, h, 0)
	if !strings.Contains(h.statusLine(), " 0%") {
		t.Fatalf("status at top: %q", h.statusLine())
	}
	for range 30 {
		h.keys("pgdown")
	}
	wantRange(t, h, 30*8)
	h.handle(tea.MouseWheelMsg{Button: tea.MouseWheelDown})
	h.settle()
	wantRange(t, h, 30*8+3)
	h.handle(tea.MouseWheelMsg{Button: tea.MouseWheelUp})
	h.settle()
	wantRange(t, h, 30*8)
	h.keys("G")
	wantRange(t, h, 4991)
	if h.m.follow {
		t.Fatal("G turned following on")
	}
	h.keys("f")
	if !h.m.follow || !strings.Contains(h.statusLine(), "FOLLOW") {
		t.Fatalf("f: %q", h.statusLine())
	}
}

func TestSearch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	writeLog(t, path, logfile.Options{MaxSize: 8 << 10, MaxFile: 20}, numbered(0, 3000))
	h := newHarness(t, 40, 10)
	h.open(path)
	h.keys("/")
	if !h.m.Capturing() || !strings.HasPrefix(h.statusLine(), "/") {
		t.Fatalf("search prompt: %v %q", h.m.Capturing(), h.statusLine())
	}
	h.typ("LINE 012")
	if !strings.Contains(h.statusLine(), "LINE 012") {
		t.Fatalf("typed: %q", h.statusLine())
	}
	h.keys("enter")
	if h.m.Capturing() {
		t.Fatal("still capturing after enter")
	}
	// From the bottom the search goes up: the last "line 012x" first.
	cur := h.current()
	if cur != "line 0129" {
		t.Fatalf("first match %q\n%s", cur, h.view())
	}
	if s := h.statusLine(); !strings.Contains(s, "?LINE 012") {
		t.Fatalf("status: %q", s)
	}
	h.keys("n")
	if cur := h.current(); cur != "line 0128" {
		t.Fatalf("n: %q", cur)
	}
	h.keys("N", "N")
	if cur := h.current(); cur != "line 0120" && cur != "line 0129" {
		t.Fatalf("N: %q", cur)
	}
	// Up to the first match, then past it: not found, the view stays.
	for range 12 {
		h.keys("n")
	}
	if cur := h.current(); cur != "line 0120" || !strings.Contains(h.statusLine(), "not found") {
		t.Fatalf("past the first: %q %q", cur, h.statusLine())
	}
	// A search from the top goes down, far beyond the window.
	h.keys("g", "/")
	h.typ("line 2999")
	h.keys("enter")
	if cur := h.current(); cur != "line 2999" {
		t.Fatalf("forward: %q\n%s", cur, h.view())
	}
	if s := h.statusLine(); !strings.Contains(s, "/line 2999") {
		t.Fatalf("status: %q", s)
	}
	// Esc clears the search.
	h.keys("esc")
	if h.m.query != "" || strings.Contains(h.statusLine(), "line 2999") {
		t.Fatalf("esc: %q", h.statusLine())
	}
	// An empty search repeats nothing; esc in the prompt cancels it.
	h.keys("/", "x", "esc")
	if h.m.Capturing() || h.m.query != "" {
		t.Fatal("esc in the prompt")
	}
}

// current returns the text of the current match's line, if on screen.
func (h *harness) current() string {
	h.t.Helper()
	if !h.m.hasMatch {
		return ""
	}
	i := h.m.indexOf(h.m.match)
	if i < 0 || !h.m.visible(i) {
		h.t.Fatalf("current match not on screen\n%s", h.view())
	}
	return h.m.lines[i].text
}

func TestSearchHighlights(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	writeLog(t, path, logfile.Options{}, []rec{{"stdout", "an Error here and an error there\n"}, {"stderr", "no problem\n"}})
	h := newHarness(t, 60, 5)
	h.open(path)
	h.keys("/")
	h.typ("error")
	h.keys("enter")
	st := h.m.c.Styles
	row := h.m.renderRow(h.m.lines[0], 0)
	want := "an " + st.MatchCurrent.Render("Error") + " here and an " + st.Match.Render("error") + " there"
	if row != want {
		t.Fatalf("highlighted row\n got %q\nwant %q", row, want)
	}
	if row := h.m.renderRow(h.m.lines[1], 0); row != st.Stderr.Render("no problem") {
		t.Fatalf("stderr row %q", row)
	}
}

func TestToggles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	long := strings.Repeat("abcdefghij", 12)
	writeLog(t, path, logfile.Options{}, []rec{{"stdout", "short\n"}, {"stdout", long + "\n"}, {"stdout", "after\n"}})
	h := newHarness(t, 40, 8)
	h.open(path)
	if got := h.shown()[1]; got != long[:40] {
		t.Fatalf("cut line %q", got)
	}
	h.keys("right")
	if got := h.shown()[1]; got != long[20:60] || !strings.Contains(h.statusLine(), "col 21") {
		t.Fatalf("scrolled right %q %q", got, h.statusLine())
	}
	h.keys("left")
	h.keys("w")
	got := h.shown()
	if got[1] != long[:40] || got[2] != long[40:80] || got[3] != long[80:] || got[4] != "after" {
		t.Fatalf("wrapped:\n%s", h.view())
	}
	h.keys("g", "T")
	got = h.shown()
	if got[0] != "2024-03-04T05:06:07.000Z short" || got[2] != strings.Repeat(" ", stampWidth)+long[15:30] {
		t.Fatalf("timestamps:\n%s", h.view())
	}
	h.keys("T", "w")
	if got := h.shown(); len(got) < 3 || got[2] != "after" {
		t.Fatalf("toggled back:\n%s", h.view())
	}
}

func TestCutLineMarked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	writeLog(t, path, logfile.Options{}, []rec{{"stdout", strings.Repeat("x", logfile.MaxLineLen+10) + "\n"}})
	h := newHarness(t, 40, 5)
	h.open(path)
	l := h.m.lines[0]
	if !l.cut || len(l.text) != logfile.MaxLineLen {
		t.Fatalf("line of %d bytes, cut %v", len(l.text), l.cut)
	}
	h.keys("w")
	rows := h.m.wrapped(l)
	if got := ansi.Strip(h.m.renderRow(l, len(rows)-1)); got != strings.Repeat("x", 16)+"…" {
		t.Fatalf("last row %q", got)
	}
	if got := ansi.Strip(h.m.renderRow(l, 0)); got != strings.Repeat("x", 40) {
		t.Fatalf("first row %q", got)
	}
}

// appender writes to a log while the pane follows it.
type appender struct {
	t *testing.T
	w *logfile.Writer
	n int
}

func newAppender(t *testing.T, path string, opts logfile.Options) *appender {
	w, err := logfile.NewWriter(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return &appender{t: t, w: w}
}

func (a *appender) write(stream, s string) {
	a.t.Helper()
	a.n++
	if err := errors.Join(a.w.Write(stream, t0.Add(time.Duration(a.n)*time.Second), []byte(s)), a.w.Flush()); err != nil {
		a.t.Fatal(err)
	}
}

func TestFollowAndFreeze(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	a := newAppender(t, path, logfile.Options{MaxSize: 4 << 10, MaxFile: 3})
	a.write("stdout", "first\n")
	h := newHarness(t, 40, 6)
	h.open(path)
	if got := h.shown(); got[0] != "first" {
		t.Fatalf("opened:\n%s", h.view())
	}
	if !h.m.waiting {
		t.Fatal("not watching the log")
	}
	last := func() string {
		rows := h.shown()
		for i := len(rows) - 1; i >= 0; i-- {
			if rows[i] != "" {
				return rows[i]
			}
		}
		return ""
	}
	a.write("stdout", "second\n")
	h.waitFor("second line", func() bool { return last() == "second" })
	// A line written in pieces shows as it grows.
	a.write("stderr", "half")
	h.waitFor("partial line", func() bool { return last() == "half" })
	a.write("stderr", " and the rest\n")
	h.waitFor("completed line", func() bool { return last() == "half and the rest" })

	h.keys("space")
	if !strings.Contains(h.statusLine(), "PAUSED") {
		t.Fatalf("space: %q", h.statusLine())
	}
	a.write("stdout", "while paused\n")
	h.waitFor("the log to be looked at", func() bool { return h.m.tail == false })
	if last() != "half and the rest" {
		t.Fatalf("paused view moved:\n%s", h.view())
	}
	h.keys("space")
	h.waitFor("resumed", func() bool { return last() == "while paused" })

	// Rotation while following.
	for i := range 200 {
		a.write("stdout", fmt.Sprintf("rotating %03d %s\n", i, strings.Repeat("x", 40)))
	}
	h.waitFor("rotated lines", func() bool { return strings.HasPrefix(last(), "rotating 199") })
	if _, err := os.Stat(path + ".2"); err != nil {
		t.Fatal("the log did not rotate:", err)
	}
	// Scrolling up stops following; new output leaves the view alone.
	h.keys("up")
	before := h.view()
	a.write("stdout", "unseen\n")
	h.waitFor("the log to be looked at", func() bool { return !h.m.tail || h.m.loadDown })
	if strings.Contains(h.view(), "unseen") || h.m.follow {
		t.Fatalf("view moved without follow:\nbefore\n%s\nafter\n%s", before, h.view())
	}
}

func TestMissingLogAppears(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	h := newHarness(t, 40, 5)
	h.open(path)
	if got := h.shown()[0]; got != "no output yet" {
		t.Fatalf("missing log:\n%s", h.view())
	}
	a := newAppender(t, path, logfile.Options{})
	a.write("stdout", "hello\n")
	h.waitFor("the log", func() bool { return h.shown()[0] == "hello" })
}

func TestWatchPollsWithoutDirectory(t *testing.T) {
	// No directory to watch: the pane looks every second instead.
	dir := filepath.Join(t.TempDir(), "not yet")
	path := filepath.Join(dir, "c.log")
	h := newHarness(t, 40, 5)
	h.open(path)
	if got := h.shown()[0]; got != "no output yet" {
		t.Fatalf("missing log:\n%s", h.view())
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	a := newAppender(t, path, logfile.Options{})
	a.write("stdout", "hello\n")
	h.waitFor("the log", func() bool { return h.shown()[0] == "hello" })
}

func TestIdleWithoutOutput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	writeLog(t, path, logfile.Options{}, numbered(0, 10))
	// Other files in the directory (the container's state) change.
	other := filepath.Join(filepath.Dir(path), "state.json")
	h := newHarness(t, 40, 5)
	h.open(path)
	for i := range 5 {
		if err := os.WriteFile(other, []byte(fmt.Sprint(i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case msg := <-h.msgs:
		t.Fatalf("woke up with nothing new in the log: %#v", msg)
	case <-time.After(300 * time.Millisecond):
	}
}

func TestSearchingAndCancel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	writeLog(t, path, logfile.Options{}, numbered(0, 2000))
	h := newHarness(t, 40, 5)
	h.open(path)
	h.keys("/")
	h.typ("line 0001")
	h.handle(press("enter"))
	if s := h.statusLine(); !strings.Contains(s, "searching…") {
		t.Fatalf("while searching: %q", s)
	}
	h.handle(press("esc"))
	h.settle()
	if h.m.searching || h.m.hasMatch || strings.Contains(h.statusLine(), "searching") {
		t.Fatalf("after esc: %q, match %v", h.statusLine(), h.m.hasMatch)
	}
	wantRange(t, h, 1996)
}

func TestSave(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.log")
	writeLog(t, path, logfile.Options{MaxSize: 4 << 10, MaxFile: 5}, append(numbered(0, 400), rec{"stderr", "tail without newline"}))
	h := newHarness(t, 60, 6)
	h.open(path)
	h.keys("S")
	if !h.m.Capturing() || !strings.Contains(h.statusLine(), "save to: ./web.log") {
		t.Fatalf("save prompt: %q", h.statusLine())
	}
	dst := filepath.Join(dir, "out dir", "saved.log")
	if err := os.Mkdir(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	h.handle(tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl}) // clear the line
	h.typ(dst)
	h.keys("enter")
	if len(h.status) != 1 {
		t.Fatalf("status messages: %v", h.status)
	}
	want := fmt.Sprintf("saved 401 lines to %s", dst)
	cmd := fmt.Sprintf("berth logs web > '%s' 2>&1", dst)
	if h.status[0].Text != want || h.status[0].Command != cmd {
		t.Fatalf("status %+v, want %q %q", h.status[0], want, cmd)
	}
	got, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i := range 400 {
		fmt.Fprintf(&b, "line %04d\n", i)
	}
	b.WriteString("tail without newline")
	if string(got) != b.String() {
		t.Fatalf("saved %d bytes, want %d", len(got), b.Len())
	}
	entries, _ := os.ReadDir(filepath.Dir(dst))
	if len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
	// With timestamps on, as berth logs -t.
	h.keys("T", "S")
	h.handle(tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
	h.typ(dst + ".t")
	h.keys("enter")
	if c := h.status[1].Command; !strings.HasPrefix(c, "berth logs -t web > ") {
		t.Fatalf("command %q", c)
	}
	got, err = os.ReadFile(dst + ".t")
	if err != nil || !strings.HasPrefix(string(got), "2024-03-04T05:06:07.000000000Z line 0000\n") {
		t.Fatalf("with timestamps: %q %v", string(got)[:min(len(got), 80)], err)
	}
	// A failure is reported, not fatal.
	h.keys("S")
	h.handle(tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
	h.typ(filepath.Join(dir, "no such dir", "x.log"))
	h.handle(press("enter"))
	for h.pending > 1 || len(h.errs) == 0 {
		h.next()
	}
	if len(h.errs) != 1 || !strings.Contains(h.errs[0].Op, "save logs of web") {
		t.Fatalf("errors: %v", h.errs)
	}
}

func TestShortHelpAndCapturing(t *testing.T) {
	h := newHarness(t, 40, 5)
	k := h.m.c.Keys
	if got := h.m.ShortHelp(); len(got) == 0 || got[0].Help() != k.Follow.Help() {
		t.Fatalf("help: %v", got)
	}
	path := filepath.Join(t.TempDir(), "c.log")
	writeLog(t, path, logfile.Options{}, numbered(0, 3))
	h.open(path)
	h.keys("/")
	if got := h.m.ShortHelp(); len(got) != 2 || got[0].Help() != k.Confirm.Help() {
		t.Fatalf("help while typing: %v", got)
	}
	// Keys that mean something else go into the prompt.
	h.typ("gGfq")
	if v := h.m.input.Value(); v != "gGfq" || !h.m.follow {
		t.Fatalf("typed %q, follow %v", v, h.m.follow)
	}
}

func TestTinySizes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	writeLog(t, path, logfile.Options{}, append(numbered(0, 30), rec{"stdout", "wide 世界世界世界 line\twith tab\n"}))
	h := newHarness(t, 40, 5)
	h.open(path)
	for _, wrap := range []bool{false, true} {
		h.m.wrap = wrap
		for w := 0; w <= 5; w++ {
			for ht := 0; ht <= 4; ht++ {
				h.m.SetSize(w, ht)
				h.keys("T", "pgup", "G", "right")
				v := h.m.View()
				lines := strings.Split(v, "\n")
				if ht == 0 || w == 0 {
					if v != "" {
						t.Fatalf("%dx%d: %q", w, ht, v)
					}
					continue
				}
				if len(lines) != ht {
					t.Fatalf("%dx%d: %d lines", w, ht, len(lines))
				}
				for _, l := range lines {
					if common.Width(l) > w {
						t.Fatalf("%dx%d: line %q too wide", w, ht, l)
					}
				}
			}
		}
	}
}

func TestCloseStopsEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	writeLog(t, path, logfile.Options{}, numbered(0, 10))
	h := newHarness(t, 40, 5)
	h.open(path)
	if !h.m.waiting || h.pending != 1 {
		t.Fatalf("waiting %v, %d running", h.m.waiting, h.pending)
	}
	p, w := h.m.pager, h.m.watch
	h.m.Close()
	// The armed wait returns, and what it returns is dropped.
	h.next()
	if h.pending != 0 || h.m.pager != nil || h.m.ID() != "" {
		t.Fatalf("after Close: %d running, pager %v", h.pending, h.m.pager)
	}
	if _, err := p.After(context.Background(), p.Start(), 1); err == nil {
		t.Fatal("pager still open after Close")
	}
	select {
	case <-w.Done():
	default:
		t.Fatal("watcher still running after Close")
	}
	if got := h.view(); strings.TrimSpace(got) != "" {
		t.Fatalf("closed pane shows:\n%s", got)
	}
	// A result of the old log arriving late is dropped.
	h.open(path)
	old := h.m.gen
	h.handle(fetchedMsg{gen: old - 1, win: h.m.win, dir: loadTop})
	wantRange(t, h, 6)
}

func TestText(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain", "plain"},
		{"crlf\r", "crlf"},
		{"10%\r20%\r30%", "30%"},
		{"\x1b[31mred\x1b[0m and \x1b]0;title\x07done", "red and done"},
		{"a\tb\tc", "a       b       c"},
		{"世\tx", "世      x"},
		{"nul\x00 bell\x07 del\x7f", "nul␀ bell␇ del␡"},
		{"bad \xff utf8", "bad \ufffd utf8"},
	} {
		if got, _ := display([]byte(c.in)); got != c.want {
			t.Errorf("display(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	s, ascii := display([]byte("ab世界cd"))
	if ascii {
		t.Fatal("non-ASCII text said ASCII")
	}
	for _, c := range []struct {
		from, to   int
		want       string
		padL, padR int
	}{{0, 3, "ab", 0, 1}, {3, 8, "界cd", 1, 0}, {2, 4, "世", 0, 0}, {7, 10, "d", 0, 0}, {20, 30, "", 0, 0}} {
		a, b, pl, pr := cellSpan(s, false, c.from, c.to)
		if s[a:b] != c.want || pl != c.padL || pr != c.padR {
			t.Errorf("cellSpan(%d,%d) = %q %d %d, want %q %d %d", c.from, c.to, s[a:b], pl, pr, c.want, c.padL, c.padR)
		}
	}
	if got := wrapRows(s, false, 3); len(got) != 4 || s[got[1]:got[2]] != "世" || s[got[2]:got[3]] != "界c" {
		t.Errorf("wrapRows = %v", got)
	}
	if got := wrapRows("", true, 5); len(got) != 1 {
		t.Errorf("wrapRows of nothing = %v", got)
	}
	if got := findAll("Été ÉTÉ été", "été"); len(got) != 3 || got[1] != [2]int{6, 11} {
		t.Errorf("findAll = %v", got)
	}
	if got := findAll("aAaA", "aa"); len(got) != 2 {
		t.Errorf("findAll ASCII = %v", got)
	}
	if got := shellQuote("./web.log"); got != "./web.log" {
		t.Errorf("shellQuote = %s", got)
	}
	if got := shellQuote("it's here"); got != `'it'\''s here'` {
		t.Errorf("shellQuote = %s", got)
	}
	if got := defaultSavePath("/a/b"); got != "./a_b.log" {
		t.Errorf("defaultSavePath = %s", got)
	}
}

// goldenLog is fixed content for the golden screens.
func goldenLog(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "c.log")
	recs := []rec{
		{"stdout", "Starting web server on :8080\n"},
		{"stdout", "GET /healthz 200 0.4ms\nGET /api/items 200 12.1ms\n"},
		{"stderr", "warning: cache miss for key \"user:42\"\n"},
		{"stdout", "résumé: naïve café — 世界 🎉\n"},
		{"stdout", "tab\tseparated\tcolumns\n"},
		{"stderr", "error: connection refused (dial tcp 10.0.0.7:5432); retrying in 5s with exponential backoff up to 2m\n"},
		{"stdout", "GET /api/items?page=2 200 9.8ms\n"},
		{"stdout", "progress: 10%\rprogress: 100%\n"},
		{"stdout", "\x1b[32mINFO\x1b[0m colour codes are stripped\n"},
	}
	for i := range 40 {
		recs = append(recs, rec{"stdout", fmt.Sprintf("worker %02d: processed batch of %d items\n", i, 100+i*7)})
	}
	recs = append(recs, rec{"stdout", "$ "})
	writeLog(t, path, logfile.Options{}, recs)
	return path
}

func TestGolden(t *testing.T) {
	path := goldenLog(t)
	states := []struct {
		name string
		keys []string
	}{
		{"end", nil},
		{"top_timestamps", []string{"g", "T"}},
		{"wrap", []string{"g", "w"}},
		{"search", []string{"/", "r", "E", "f", "u", "s", "e", "d", "enter"}},
		{"paused", []string{"space"}},
		{"scrolled_right", []string{"g", "right"}},
		{"prompt", []string{"S"}},
	}
	sizes := []struct{ w, h int }{{78, 9}, {158, 31}}
	for _, sz := range sizes {
		for _, s := range states {
			h := newHarness(t, sz.w, sz.h)
			h.open(path)
			h.keys(s.keys...)
			uitest.Golden(t, fmt.Sprintf("%s_%dx%d", s.name, sz.w, sz.h), h.m.View(), sz.w, sz.h)
		}
	}
	// The app's own sizes: a pane about the full width and half the height.
	for _, sz := range uitest.Sizes {
		h := newHarness(t, sz.W-2, sz.H/2-3)
		h.open(path)
		uitest.Golden(t, fmt.Sprintf("app_%dx%d", sz.W, sz.H), h.m.View(), sz.W-2, sz.H/2-3)
	}
}

// Output rotated away before the pane read it shows as a marker line
// where it was lost, not as a silent jump.
func TestRotatedAwayMarked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	a := newAppender(t, path, logfile.Options{MaxSize: 600, MaxFile: 2})
	n := 0
	writeLines := func(k int) {
		for range k {
			a.write("stdout", fmt.Sprintf("line %04d\n", n))
			n++
		}
	}
	writeLines(30)
	h := newHarness(t, 50, 8)
	h.open(path)
	h.keys("up") // stop following: the window stays where it is
	// No more looks at the log on their own: the pane looks when told,
	// after the writer has rotated past every file it holds.
	h.m.watch.Close()
	writeLines(60)
	changed, err := h.m.pager.Refresh()
	if err != nil || !changed {
		t.Fatalf("Refresh: %v %v", changed, err)
	}
	h.handle(changedMsg{gen: h.m.gen, changed: true})
	h.waitFor("the lines below", func() bool { return h.m.tail && !h.m.loadDown })
	marker := -1
	for i, l := range h.m.lines {
		if l.lost {
			if marker >= 0 {
				t.Fatalf("two markers")
			}
			marker = i
		}
	}
	if marker < 1 || marker+1 >= len(h.m.lines) {
		t.Fatalf("no marker between the lines held and those read after: %d of %d lines", marker, len(h.m.lines))
	}
	before, after := h.m.lines[marker-1].text, h.m.lines[marker+1].text
	if before != "line 0029" || after == "line 0030" {
		t.Fatalf("marker between %q and %q, want after line 0029 and before a later line", before, after)
	}
	// On screen: scroll until the marker row shows.
	for range len(h.m.lines) {
		if r := h.shown(); strings.Contains(strings.Join(r[:len(r)-1], "\n"), "lines lost here") {
			break // on screen, with a row below it
		}
		h.keys("down")
	}
	rows := h.shown()
	for i, r := range rows {
		if strings.Contains(r, "lines lost here") {
			if i+1 >= len(rows) || rows[i+1] != after {
				t.Fatalf("marker row not followed by %q:\n%s", after, h.view())
			}
			return
		}
	}
	t.Fatalf("marker never on screen:\n%s", h.view())
}
