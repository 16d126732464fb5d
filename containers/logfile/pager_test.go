package logfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"berth/errdefs"
)

// refLine is a display line as the forward reader (Read) sees it: pieces
// joined until one ends with '\n'.
type refLine struct {
	stream  string
	t       time.Time
	text    string
	partial bool
}

func refLines(t testing.TB, path string) []refLine {
	t.Helper()
	var out []refLine
	var cur *refLine
	for _, e := range readAll(t, path, ReadOptions{Tail: -1}) {
		if cur == nil {
			out = append(out, refLine{stream: e.Stream, t: e.Time})
			cur = &out[len(out)-1]
		}
		cur.text += string(e.Line)
		if strings.HasSuffix(cur.text, "\n") {
			cur.text = strings.TrimSuffix(cur.text, "\n")
			cur = nil
		}
	}
	if cur != nil {
		cur.partial = true
	}
	return out
}

func openPager(t testing.TB, path string) *Pager {
	t.Helper()
	p, err := OpenPager(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func checkLines(t testing.TB, what string, got []Line, want []refLine) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d lines, want %d\n got %s\nwant %+v", what, len(got), len(want), showLines(got), want)
	}
	for i := range got {
		g, w := got[i], want[i]
		if string(g.Text) != w.text || g.Stream != w.stream || !g.Time.Equal(w.t) || g.Partial != w.partial || g.Cut {
			t.Fatalf("%s: line %d = %q %s %v partial=%v cut=%v, want %q %s %v partial=%v",
				what, i, g.Text, g.Stream, g.Time, g.Partial, g.Cut, w.text, w.stream, w.t, w.partial)
		}
		if i > 0 && got[i-1].Pos.Compare(g.Pos) >= 0 {
			t.Fatalf("%s: positions out of order at %d: %v then %v", what, i, got[i-1].Pos, g.Pos)
		}
		if g.Next.Compare(g.Pos) <= 0 {
			t.Fatalf("%s: line %d ends (%v) before it starts (%v)", what, i, g.Next, g.Pos)
		}
	}
}

func showLines(ls []Line) string {
	var b strings.Builder
	for _, l := range ls {
		text := l.Text
		if len(text) > 60 {
			text = text[:60]
		}
		fmt.Fprintf(&b, "[%v %q (%d) %s p=%v] ", l.Pos, text, len(l.Text), l.Stream, l.Partial)
	}
	return b.String()
}

// pageForward reads the whole log n lines at a time, as a viewer scrolls.
func pageForward(t testing.TB, p *Pager, n int) []Line {
	t.Helper()
	var all []Line
	pos := p.Start()
	for {
		ls, err := p.After(context.Background(), pos, n)
		if err != nil {
			t.Fatal(err)
		}
		if len(ls) == 0 {
			return all
		}
		all = append(all, ls...)
		last := ls[len(ls)-1]
		if last.Partial {
			return all
		}
		pos = last.Next
	}
}

// pageBackward reads the whole log n lines at a time from its end.
func pageBackward(t testing.TB, p *Pager, n int) []Line {
	t.Helper()
	var all []Line
	pos := p.End()
	for {
		ls, err := p.Before(context.Background(), pos, n)
		if err != nil {
			t.Fatal(err)
		}
		if len(ls) == 0 {
			return all
		}
		all = append(ls, all...)
		pos = ls[0].Pos
	}
}

// pagerRecs holds multi-line chunks, lines split over chunks (and over
// streams), unicode, escapes, carriage returns and empty lines.
func pagerRecs() []rec {
	var recs []rec
	add := func(stream, p string) {
		recs = append(recs, rec{stream, t0.Add(time.Duration(len(recs)) * time.Millisecond), p})
	}
	add("stdout", "first line\n")
	add("stdout", "two\nlines\n")
	add("stderr", "an error\n")
	add("stdout", "split ")
	add("stdout", "across ")
	add("stdout", "three chunks\nand a tail ")
	add("stderr", "ends on stderr\n")
	add("stdout", "\n\n")
	add("stdout", "")
	add("stdout", "crlf line\r\n")
	add("stdout", "utf-8: é ü 世界 🎉 \u2028 <html> & \"quotes\" \\ back\tslash\n")
	add("stderr", "control \x00\x01\x1b[31mred\x1b[0m \xff invalid\n")
	for i := range 40 {
		add([]string{"stdout", "stderr"}[i%3/2], fmt.Sprintf("line %02d of a longer run\n", i))
	}
	add("stdout", "many\nlines\nin\none\nchunk\n")
	add("stdout", "no newline at end")
	return recs
}

func TestPagerReadsEveryLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	writeLog(t, path, Options{}, pagerRecs())
	want := refLines(t, path)
	if !want[len(want)-1].partial || want[4].text != "split across three chunks" {
		t.Fatalf("reference lines are not what the test means: %+v", want)
	}
	p := openPager(t, path)
	ctx := context.Background()

	all, err := p.After(ctx, p.Start(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, "After(Start)", all, want)
	back, err := p.Before(ctx, p.End(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, "Before(End)", back, want)
	for _, n := range []int{1, 2, 3, 7} {
		checkLines(t, fmt.Sprint("forward by ", n), pageForward(t, p, n), want)
		checkLines(t, fmt.Sprint("backward by ", n), pageBackward(t, p, n), want)
	}
	// Both directions give the same positions, and every position reads
	// back the line that starts there.
	for i, l := range all {
		if l.Pos != back[i].Pos || l.Next != back[i].Next {
			t.Fatalf("line %d: forward %v-%v, backward %v-%v", i, l.Pos, l.Next, back[i].Pos, back[i].Next)
		}
		one, err := p.After(ctx, l.Pos, 1)
		if err != nil || len(one) != 1 || string(one[0].Text) != string(l.Text) {
			t.Fatalf("After(%v) = %s, %v; want %q", l.Pos, showLines(one), err, l.Text)
		}
		if l.Partial {
			continue
		}
		prev, err := p.Before(ctx, l.Next, 1)
		if err != nil || len(prev) != 1 || string(prev[0].Text) != string(l.Text) {
			t.Fatalf("Before(%v) = %s, %v; want %q", l.Next, showLines(prev), err, l.Text)
		}
	}
	// Lines just above a line in the middle of a chunk.
	mid := all[len(all)-4] // "in", third line of its chunk
	got, err := p.Before(ctx, mid.Pos, 2)
	if err != nil || len(got) != 2 || string(got[0].Text) != "many" || string(got[1].Text) != "lines" {
		t.Fatalf("Before(mid-chunk) = %s, %v", showLines(got), err)
	}
	if p.Offset(p.Start()) != 0 || p.Offset(p.End()) != p.Size() || p.Offset(mid.Pos) <= 0 || p.Offset(mid.Pos) >= p.Size() {
		t.Fatalf("offsets: start %d, mid %d, end %d, size %d", p.Offset(p.Start()), p.Offset(mid.Pos), p.Offset(p.End()), p.Size())
	}
}

func TestPagerEmptyAndMissing(t *testing.T) {
	dir := t.TempDir()
	_, err := OpenPager(filepath.Join(dir, "none.log"))
	if !errors.Is(err, errdefs.ErrNotFound) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing log: %v", err)
	}
	path := filepath.Join(dir, "empty.log")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p := openPager(t, path)
	ctx := context.Background()
	if p.Start() != p.End() || p.Size() != 0 {
		t.Fatalf("empty log: start %v end %v size %d", p.Start(), p.End(), p.Size())
	}
	a, err1 := p.After(ctx, p.Start(), 10)
	b, err2 := p.Before(ctx, p.End(), 10)
	_, found, err3 := p.Search(ctx, p.Start(), "x", false)
	if len(a)+len(b) != 0 || found || errors.Join(err1, err2, err3) != nil {
		t.Fatalf("empty log: %d, %d lines, found %v, %v", len(a), len(b), found, errors.Join(err1, err2, err3))
	}
	// Output arriving later shows after a Refresh.
	writeLog(t, path, Options{}, []rec{{"stdout", t0, "hello\n"}})
	if changed, err := p.Refresh(); !changed || err != nil {
		t.Fatalf("Refresh = %v, %v", changed, err)
	}
	if ls, err := p.Before(ctx, p.End(), 10); err != nil || len(ls) != 1 || string(ls[0].Text) != "hello" {
		t.Fatalf("after output: %s %v", showLines(ls), err)
	}
}

func TestPagerIncompleteLastEntry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	writeLog(t, path, Options{}, []rec{{"stdout", t0, "done\n"}})
	// A writer in the middle of an entry.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	half := `{"log":"half writ`
	if _, err := f.WriteString(half); err != nil {
		t.Fatal(err)
	}
	p := openPager(t, path)
	ctx := context.Background()
	ls, err := p.Before(ctx, p.End(), 10)
	if err != nil || len(ls) != 1 || string(ls[0].Text) != "done" {
		t.Fatalf("with an incomplete entry: %s %v", showLines(ls), err)
	}
	if changed, err := p.Refresh(); changed || err != nil {
		t.Fatalf("Refresh with no complete entry = %v, %v", changed, err)
	}
	if _, err := f.WriteString(`ten\n","stream":"stderr","time":"2024-03-04T05:06:08Z"}` + "\n"); err != nil {
		t.Fatal(err)
	}
	if changed, err := p.Refresh(); !changed || err != nil {
		t.Fatalf("Refresh = %v, %v", changed, err)
	}
	ls, err = p.After(ctx, p.Start(), 10)
	if err != nil || len(ls) != 2 || string(ls[1].Text) != "half written" || ls[1].Stream != "stderr" {
		t.Fatalf("completed entry: %s %v", showLines(ls), err)
	}
}

func TestPagerPartialLineGrows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	w, err := NewWriter(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	write := func(s string) {
		t.Helper()
		if err := errors.Join(w.Write("stdout", t0, []byte(s)), w.Flush()); err != nil {
			t.Fatal(err)
		}
	}
	write("one\n$ ")
	p := openPager(t, path)
	ctx := context.Background()
	ls, err := p.Before(ctx, p.End(), 10)
	if err != nil || len(ls) != 2 || !ls[1].Partial || string(ls[1].Text) != "$ " {
		t.Fatalf("prompt: %s %v", showLines(ls), err)
	}
	prompt := ls[1].Pos
	write("ls\nthree\n")
	if changed, err := p.Refresh(); !changed || err != nil {
		t.Fatalf("Refresh = %v, %v", changed, err)
	}
	ls, err = p.After(ctx, prompt, 10)
	if err != nil || len(ls) != 2 || ls[0].Partial || string(ls[0].Text) != "$ ls" || string(ls[1].Text) != "three" {
		t.Fatalf("after the line ended: %s %v", showLines(ls), err)
	}
}

func TestPagerLongLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	big := strings.Repeat("0123456789", MaxLineLen/10+100)
	// A multi-byte rune straddles the cut.
	uni := strings.Repeat("a", MaxLineLen-1) + "é" + strings.Repeat("b", 100)
	var recs []rec
	recs = append(recs, rec{"stdout", t0, "before\n" + big + "\nafter\n"})
	// The same length in 7-byte chunks: joined, then cut.
	for i := 0; i < len(big); i += 7 {
		recs = append(recs, rec{"stderr", t0, big[i:min(i+7, len(big))]})
	}
	recs = append(recs, rec{"stderr", t0, "\n"}, rec{"stdout", t0, uni + "\nend\n"})
	writeLog(t, path, Options{}, recs)
	p := openPager(t, path)
	ctx := context.Background()
	fwd, err := p.After(ctx, p.Start(), 100)
	if err != nil {
		t.Fatal(err)
	}
	back := pageBackward(t, p, 1)
	want := []struct {
		text string
		cut  bool
	}{{"before", false}, {big[:MaxLineLen], true}, {"after", false}, {big[:MaxLineLen], true}, {strings.Repeat("a", MaxLineLen-1), true}, {"end", false}}
	for _, got := range [][]Line{fwd, back} {
		if len(got) != len(want) {
			t.Fatalf("%d lines, want %d", len(got), len(want))
		}
		for i, w := range want {
			if string(got[i].Text) != w.text || got[i].Cut != w.cut {
				t.Errorf("line %d: %d bytes cut=%v, want %d bytes cut=%v", i, len(got[i].Text), got[i].Cut, len(w.text), w.cut)
			}
		}
	}
	if fwd[3].Stream != "stderr" || fwd[3].Pos != back[3].Pos {
		t.Errorf("joined long line: %s at %v / %v", fwd[3].Stream, fwd[3].Pos, back[3].Pos)
	}
	// A search only looks at what a line shows.
	if _, found, err := p.Search(ctx, p.Start(), "bbb", false); found || err != nil {
		t.Errorf("found text past the cut: %v %v", found, err)
	}
}

func TestPagerSearch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	recs := pagerRecs()
	recs = append(recs[:len(recs)-1], rec{"stdout", t0, "L'ÉCOLE est fermée\nend\n"})
	writeLog(t, path, Options{}, recs)
	p := openPager(t, path)
	ctx := context.Background()
	find := func(from Pos, q string, backward bool) (Line, bool) {
		t.Helper()
		l, ok, err := p.Search(ctx, from, q, backward)
		if err != nil {
			t.Fatal(err)
		}
		return l, ok
	}
	l, ok := find(p.Start(), "LINE 0", false)
	if !ok || string(l.Text) != "line 00 of a longer run" {
		t.Fatalf("forward: %q %v", l.Text, ok)
	}
	l, ok = find(l.Next, "line 0", false)
	if !ok || string(l.Text) != "line 01 of a longer run" {
		t.Fatalf("forward from the match: %q %v", l.Text, ok)
	}
	// Forward includes the line at from; backward starts above it.
	if l2, ok := find(l.Pos, "line 01", false); !ok || l2.Pos != l.Pos {
		t.Fatalf("forward from the matching line: %v %v", l2.Pos, ok)
	}
	if _, ok := find(l.Pos, "line 01", true); ok {
		t.Fatal("backward search found the line it started at")
	}
	l, ok = find(p.End(), "line 0", true)
	if !ok || string(l.Text) != "line 09 of a longer run" {
		t.Fatalf("backward: %q %v", l.Text, ok)
	}
	l, ok = find(p.End(), "école", true)
	if !ok || string(l.Text) != "L'ÉCOLE est fermée" {
		t.Fatalf("unicode fold: %q %v", l.Text, ok)
	}
	// Text joined across chunks, and text inside one of several lines.
	if l, ok = find(p.Start(), "ACROSS three", false); !ok || string(l.Text) != "split across three chunks" {
		t.Fatalf("joined: %q %v", l.Text, ok)
	}
	if l, ok = find(p.End(), "\\ back\tsl", true); !ok || !strings.HasPrefix(string(l.Text), "utf-8") {
		t.Fatalf("escapes: %q %v", l.Text, ok)
	}
	if l, ok = find(p.Start(), "ONE", false); !ok || string(l.Text) != "one" {
		t.Fatalf("within a chunk: %q %v", l.Text, ok)
	}
	if _, ok := find(p.Start(), "nowhere to be found", false); ok {
		t.Fatal("found a missing string")
	}
	if _, ok := find(p.End(), "nowhere to be found", true); ok {
		t.Fatal("found a missing string backwards")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := p.Search(cctx, p.Start(), "nowhere", false); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled search: %v", err)
	}
}

// rotatingLog writes n numbered lines to a log that rotates every few KB.
func rotatingLog(t testing.TB, path string, from, n int, opts Options) {
	t.Helper()
	w, err := NewWriter(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := from; i < from+n; i++ {
		if err := w.Write("stdout", t0.Add(time.Duration(i)*time.Second), fmt.Appendf(nil, "entry %05d %s\n", i, strings.Repeat("x", 50))); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestPagerRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	opts := Options{MaxSize: 4 << 10, MaxFile: 4}
	rotatingLog(t, path, 0, 150, opts)
	if _, err := os.Stat(path + ".3"); err != nil {
		t.Fatalf("the test needs four files: %v", err)
	}
	p := openPager(t, path)
	ctx := context.Background()
	want := refLines(t, path)
	checkLines(t, "forward", pageForward(t, p, 5), want)
	checkLines(t, "backward", pageBackward(t, p, 5), want)

	// Search across files: the first line is in path.3, the last in path.
	first := want[0].text[:11]
	l, ok, err := p.Search(ctx, p.End(), first, true)
	if err != nil || !ok || !strings.HasPrefix(string(l.Text), first) {
		t.Fatalf("backward across files: %q %v %v", l.Text, ok, err)
	}
	last := want[len(want)-1].text[:11]
	l, ok, err = p.Search(ctx, p.Start(), last, false)
	if err != nil || !ok || !strings.HasPrefix(string(l.Text), last) {
		t.Fatalf("forward across files: %q %v %v", l.Text, ok, err)
	}

	// Rotation while open: positions in files still held stay valid.
	keep, err := p.Before(ctx, p.End(), 30)
	if err != nil {
		t.Fatal(err)
	}
	mark := keep[0] // in an older file by now
	rotatingLog(t, path, 150, 40, opts)
	if changed, err := p.Refresh(); !changed || err != nil {
		t.Fatalf("Refresh after rotation = %v, %v", changed, err)
	}
	ls, err := p.After(ctx, mark.Pos, 1)
	if err != nil || len(ls) != 1 || string(ls[0].Text) != string(mark.Text) {
		t.Fatalf("old position after rotation: %s %v, want %q", showLines(ls), err, mark.Text)
	}
	want = refLines(t, path)
	checkLines(t, "forward after rotation", pageForward(t, p, 7), want)
	checkLines(t, "backward after rotation", pageBackward(t, p, 7), want)
	// A position in a file rotation dropped means the start.
	dropped, err := p.After(ctx, Pos{}, 1)
	if err != nil || len(dropped) != 1 || string(dropped[0].Text) != want[0].text {
		t.Fatalf("dropped position: %s %v", showLines(dropped), err)
	}
}

func TestPagerRotationSingleFile(t *testing.T) {
	// MaxFile 1: the log is replaced by a new file when it fills up.
	path := filepath.Join(t.TempDir(), "c.log")
	opts := Options{MaxSize: 2 << 10, MaxFile: 1}
	rotatingLog(t, path, 0, 20, opts)
	p := openPager(t, path)
	rotatingLog(t, path, 20, 40, opts)
	if changed, err := p.Refresh(); !changed || err != nil {
		t.Fatalf("Refresh = %v, %v", changed, err)
	}
	checkLines(t, "after replacement", pageBackward(t, p, 4), refLines(t, path))
}

func TestPagerCorruptAndDocker(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	data := `{"log":"good one\n","stream":"stdout","time":"2024-03-04T05:06:07Z"}
not json at all
{"stream":"stderr","log":"\u003chtml\u003e from docker\n","time":"2024-03-04T05:06:08.5Z"}
{"log":"","stream":"stdout","time":"2024-03-04T05:06:09Z"}
{"log":"last\n","stream":"stdout","time":"2024-03-04T05:06:10Z"}
`
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	p := openPager(t, path)
	for _, ls := range [][]Line{pageForward(t, p, 1), pageBackward(t, p, 1)} {
		if len(ls) != 3 || string(ls[1].Text) != "<html> from docker" || ls[1].Stream != "stderr" || string(ls[2].Text) != "last" {
			t.Fatalf("lines: %s", showLines(ls))
		}
	}
}

func TestPagerConcurrentAndClosed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	opts := Options{MaxSize: 8 << 10, MaxFile: 3}
	rotatingLog(t, path, 0, 300, opts)
	p, err := OpenPager(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for g := range 4 {
		wg.Go(func() {
			for i := range 20 {
				if _, _, err := p.Search(ctx, p.End(), "entry 00000", true); err != nil {
					errs <- err
				}
				if _, err := p.Before(ctx, p.End(), 10+g+i); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 10 {
			rotatingLog(t, path, 300+i*20, 20, opts)
			if _, err := p.Refresh(); err != nil {
				errs <- err
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.After(ctx, p.Start(), 1); !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("After on a closed pager: %v", err)
	}
	if _, err := p.Refresh(); !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("Refresh on a closed pager: %v", err)
	}
}

func TestPagerOverLongEntrySkipped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	var b bytes.Buffer
	b.WriteString(`{"log":"a\n","stream":"stdout","time":"2024-03-04T05:06:07Z"}` + "\n")
	b.WriteString(`{"log":"` + strings.Repeat("z", maxEntryLen+10) + `\n","stream":"stdout","time":"2024-03-04T05:06:07Z"}` + "\n")
	b.WriteString(`{"log":"b\n","stream":"stdout","time":"2024-03-04T05:06:07Z"}` + "\n")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	p := openPager(t, path)
	for _, ls := range [][]Line{pageForward(t, p, 1), pageBackward(t, p, 1)} {
		if len(ls) != 2 || string(ls[0].Text) != "a" || string(ls[1].Text) != "b" {
			t.Fatalf("lines: %s", showLines(ls))
		}
	}
}

func TestLowerInto(t *testing.T) {
	for _, s := range []string{
		"", "A", "Hello, WORLD! @[`{ AZaz 0123456789", "ÀÉÎÕÜ àéîõü ĞİŞ", "mixed ÉCOLE and ASCII ABCDEFGHIJKLMNOPQRSTUVWXYZ",
		"invalid \xff\xfe UTF-8 ABC", strings.Repeat("@AZ[`az{", 9),
	} {
		want := strings.Map(func(r rune) rune { return unicode.ToLower(r) }, strings.ToValidUTF8(s, "\xff"))
		if strings.ContainsRune(s, utf8.RuneError) || !utf8.ValidString(s) {
			want = ""
			for i := 0; i < len(s); {
				r, n := utf8.DecodeRuneInString(s[i:])
				if r == utf8.RuneError && n == 1 {
					want += s[i : i+1]
				} else {
					want += string(unicode.ToLower(r))
				}
				i += n
			}
		}
		if got := string(lowerInto(nil, []byte(s))); got != want {
			t.Errorf("lowerInto(%q) = %q, want %q", s, got, want)
		}
	}
	// Every ASCII byte in every lane.
	for c := 0; c < 128; c++ {
		for pad := range 9 {
			s := strings.Repeat("x", pad) + string(rune(c)) + "yyyyyyyy"
			if got, want := string(lowerInto(nil, []byte(s))), strings.ToLower(s); got != want {
				t.Fatalf("lowerInto(%q) = %q, want %q", s, got, want)
			}
		}
	}
}

// TestPagerSearchMatchesScan checks Search against a plain scan of every
// line, on content made to trip a search that skips JSON it has not
// decoded: matches split across chunks, escapes, case, lines in pieces.
func TestPagerSearchMatchesScan(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	pieces := []string{
		"plain line\n", "needle\n", "NeEdLe in caps\n", "nee", "dle split\n", "ne\nedle\n",
		"tab\tneedle\n", "quote \"needle\"\n", "back\\slash needle\n", "<needle> & more\n",
		"ünïcödé NEEDLE\n", "x\n\n\n", "", "partial ", "needle\n", "needl", "e\n",
		strings.Repeat("filler ", 20) + "\n", "a\nb\nc\n", "KELVIN \u212a\n", "trailing backslash \\",
		"n\n", "literal \\n not a newline needle",
	}
	var recs []rec
	for i := range 3000 {
		p := pieces[(i*7+i/13)%len(pieces)]
		if i%97 == 0 {
			p = "rare one-of-a-kind marker\n"
		}
		recs = append(recs, rec{[]string{"stdout", "stderr"}[i%5/4], t0, p})
	}
	recs = append(recs, rec{"stdout", t0, "end\n"})
	writeLog(t, path, Options{MaxSize: 32 << 10, MaxFile: 5}, recs)
	// And a Docker-written entry, escaping <, > and &.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"log":"\u003cneedle\u003e \u0026 docker\n","stream":"stdout","time":"2024-03-04T05:06:07Z"}` + "\n")
	f.Close()

	p := openPager(t, path)
	ctx := context.Background()
	all, err := p.After(ctx, p.Start(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"needle", "NEEDLE", "le sp", "rare one", "one-of", "end", "k", "\u212a", "nowhere", "<needle>", "\\n", "e\tn", "filler filler"} {
		m := newFolder(q)
		var hits []int
		for i, l := range all {
			if m.match(l.Text) {
				hits = append(hits, i)
			}
		}
		// Forward from the start, hop by hop, and backward from the end.
		var got []int
		for from := p.Start(); ; {
			l, ok, err := p.Search(ctx, from, q, false)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			got = append(got, lineIndex(t, all, l.Pos))
			from = l.Next
		}
		if fmt.Sprint(got) != fmt.Sprint(hits) {
			t.Fatalf("forward %q: %d hits %v..., scan has %d %v...", q, len(got), got[:min(len(got), 10)], len(hits), hits[:min(len(hits), 10)])
		}
		got = got[:0]
		for from := p.End(); ; {
			l, ok, err := p.Search(ctx, from, q, true)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			got = append(got, lineIndex(t, all, l.Pos))
			from = l.Pos
		}
		slices.Reverse(got)
		if fmt.Sprint(got) != fmt.Sprint(hits) {
			t.Fatalf("backward %q: %d hits, scan has %d", q, len(got), len(hits))
		}
	}
}

func lineIndex(t *testing.T, all []Line, pos Pos) int {
	t.Helper()
	for i, l := range all {
		if l.Pos == pos {
			return i
		}
	}
	t.Fatalf("no line at %v", pos)
	return -1
}
