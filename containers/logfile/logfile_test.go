package logfile

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"berth/errdefs"
)

var t0 = time.Date(2024, 3, 4, 5, 6, 7, 123456789, time.UTC)

// tricky holds chunks that exercise every escape.
var tricky = []string{
	"",
	"plain ascii line\n",
	`quotes " and "" and \ backslashes \\ \" \n literal`,
	"control \x00\x01\x07\x08\x0b\x0c\x1b\x1f\x7f chars\n",
	"tabs\tand\rcarriage\r\nreturns\n",
	"many\nlines\nin\none\nchunk\n",
	"no newline at end",
	"utf-8: é ü 世界 🎉 \u2028 \u2029 <html> & \ufeff\n",
	"invalid: \xff \xfe \xc3 \xe4\xb8 \xed\xa0\x80 end\n",
	"\xf0\x9f\x8e", // truncated 4-byte sequence
	"12345678\"2345678\\234567\n1234567\x80",
	strings.Repeat("a", 100) + "\x01" + strings.Repeat("b", 7) + "\"",
}

// jsonDecoded is what encoding/json makes of s after a Marshal round trip:
// the value any reader of the log must see.
func jsonDecoded(t testing.TB, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var out string
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func checkEncode(t testing.TB, s string) {
	t.Helper()
	enc := append([]byte{'"'}, appendString(nil, []byte(s))...)
	enc = append(enc, '"')
	if !json.Valid(enc) {
		t.Fatalf("invalid JSON for %q: %s", s, enc)
	}
	var got string
	if err := json.Unmarshal(enc, &got); err != nil {
		t.Fatalf("unmarshal %s: %v", enc, err)
	}
	if want := jsonDecoded(t, s); got != want {
		t.Fatalf("encode %q: decodes to %q, encoding/json gives %q", s, got, want)
	}
	// The fast decoder must agree too.
	var d decoder
	line := fmt.Sprintf(`{"log":%s,"stream":"stdout","time":"2024-03-04T05:06:07.5Z"}`, enc)
	if _, _, ok := d.fast([]byte(line)); !ok {
		t.Fatalf("fast decoder rejected writer output %s", line)
	}
	if string(d.out) != got {
		t.Fatalf("fast decode of %s = %q, want %q", enc, d.out, got)
	}
}

func TestEncodeMatchesEncodingJSON(t *testing.T) {
	for _, s := range tricky {
		checkEncode(t, s)
	}
	// Every single byte, at every offset of an 8-byte lane.
	for c := 0; c < 256; c++ {
		for pad := 0; pad < 9; pad++ {
			checkEncode(t, strings.Repeat("x", pad)+string([]byte{byte(c)})+"tail")
		}
	}
	if got := string(appendString(nil, []byte("a\"b\\c\nd\re\tf\x01g\xffh"))); got != `a\"b\\c\nd\re\tf\u0001g\ufffdh` {
		t.Fatalf("escapes: %s", got)
	}
}

func FuzzEncode(f *testing.F) {
	for _, s := range tricky {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkEncode(t, string(b))
	})
}

// FuzzDecode checks the fast decoder on lines produced by encoding/json
// (which escapes differently: \u003c, \u2028, surrogate pairs never, ...)
// and on hand-made escapes.
func FuzzDecode(f *testing.F) {
	for _, s := range tricky {
		f.Add(s, false)
	}
	f.Add(`\ud83c\udf89 \ud800 x \udc00 \u00e9\u0041\/`, true)
	f.Fuzz(func(t *testing.T, s string, raw bool) {
		var line []byte
		if raw {
			// s is the JSON string body as is. The fast path does not
			// validate raw bytes (see decoder), so keep to what a
			// conforming writer can produce.
			if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 }) {
				return
			}
			line = []byte(`{"log":"` + s + `","stream":"stderr","time":"2024-03-04T05:06:07Z"}`)
		} else {
			var err error
			line, err = json.Marshal(jsonEntry{Log: s, Stream: "stderr", Time: t0})
			if err != nil {
				t.Fatal(err)
			}
		}
		var want jsonEntry
		werr := json.Unmarshal(line, &want)
		var d decoder
		stream, tm, ok := d.decode(line)
		if werr != nil {
			return // the fast path may be more lenient; nothing to compare
		}
		if !ok {
			t.Fatalf("decode %s failed; encoding/json succeeds", line)
		}
		if string(d.out) != want.Log || stream != want.Stream || !tm.Equal(want.Time) {
			t.Fatalf("decode %s = %q %q %v, want %q %q %v", line, d.out, stream, tm, want.Log, want.Stream, want.Time)
		}
		for i, e := range d.ends {
			if d.out[e-1] != '\n' || (i > 0 && bytes.IndexByte(d.out[d.ends[i-1]:e-1], '\n') >= 0) {
				t.Fatalf("bad line ends %v for %q", d.ends, d.out)
			}
		}
		if n := bytes.Count(d.out, []byte{'\n'}); n != len(d.ends) {
			t.Fatalf("%d line ends recorded, %d newlines in %q", len(d.ends), n, d.out)
		}
	})
}

func TestParseTime(t *testing.T) {
	var d decoder
	for _, s := range []string{
		"2024-03-04T05:06:07Z", "2024-03-04T05:06:07.1Z", "2024-03-04T05:06:59.123456789Z",
		"2024-03-04T05:06:00.000000001Z", "2024-03-04T05:07:00.5Z", "2024-03-04T05:07:00.5+02:00",
		"2024-02-29T23:59:59.999Z", "2024-03-04T05:07:01.05Z",
	} {
		want, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		// Twice: once filling the cache, once using it.
		for range 2 {
			got, ok := d.parseTime([]byte(s))
			if !ok || !got.Equal(want) {
				t.Fatalf("parseTime(%s) = %v %v, want %v", s, got, ok, want)
			}
		}
	}
	for _, s := range []string{"2024-03-04T05:06:60Z", "2024-03-04T05:06:07.Z", "2024-03-04T05:06:0xZ", "nonsense"} {
		if _, ok := d.parseTime([]byte(s)); ok {
			t.Errorf("parseTime(%s) accepted", s)
		}
	}
}

type rec struct {
	stream string
	t      time.Time
	p      string
}

func writeLog(t testing.TB, path string, opts Options, recs []rec) {
	t.Helper()
	w, err := NewWriter(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		if err := w.Write(r.stream, r.t, []byte(r.p)); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func readAll(t testing.TB, path string, opts ReadOptions) []Entry {
	t.Helper()
	var out []Entry
	err := Read(context.Background(), path, opts, func(e Entry) error {
		e.Line = bytes.Clone(e.Line)
		out = append(out, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// streamText concatenates the content of entries per stream.
func streamText(es []Entry) map[string]string {
	m := map[string]*strings.Builder{}
	for _, e := range es {
		if m[e.Stream] == nil {
			m[e.Stream] = &strings.Builder{}
		}
		m[e.Stream].Write(e.Line)
	}
	out := map[string]string{}
	for k, v := range m {
		out[k] = v.String()
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	var recs []rec
	want := map[string]string{}
	for i, s := range tricky {
		stream := "stdout"
		if i%2 == 1 {
			stream = "stderr"
		}
		recs = append(recs, rec{stream, t0.Add(time.Duration(i) * time.Millisecond), s})
		want[stream] += jsonDecoded(t, s)
	}
	// A multi-byte rune split across two chunks: each half is invalid on
	// its own and becomes U+FFFD per byte (Docker does the same).
	world := "世" // e4 b8 96
	recs = append(recs, rec{"stdout", t0.Add(time.Second), "split " + world[:1]}, rec{"stdout", t0.Add(time.Second), world[1:] + "\n"})
	want["stdout"] += "split \ufffd\ufffd\ufffd\n"
	writeLog(t, path, Options{}, recs)

	got := readAll(t, path, ReadOptions{Tail: -1})
	gt := streamText(got)
	for _, s := range []string{"stdout", "stderr"} {
		if gt[s] != want[s] {
			t.Errorf("%s:\n got %q\nwant %q", s, gt[s], want[s])
		}
	}
	// Every entry is one line (at most one '\n', at its end) with the time
	// of a written chunk.
	times := map[time.Time]bool{}
	for _, r := range recs {
		times[r.t] = true
	}
	for _, e := range got {
		if i := bytes.IndexByte(e.Line, '\n'); i >= 0 && i != len(e.Line)-1 {
			t.Errorf("entry holds more than one line: %q", e.Line)
		}
		if len(e.Line) == 0 {
			t.Errorf("empty entry")
		}
		if !times[e.Time] {
			t.Errorf("entry time %v was never written", e.Time)
		}
	}
}

func TestCompatibleWithEncodingJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	var recs []rec
	for i, s := range tricky {
		recs = append(recs, rec{[]string{"stdout", "stderr"}[i%2], t0.Add(time.Duration(i) * 1001 * time.Microsecond), s})
	}
	writeLog(t, path, Options{}, recs)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != len(recs) {
		t.Fatalf("%d lines for %d entries", len(lines), len(recs))
	}
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d not JSON: %v: %s", i, err, l)
		}
		if len(m) != 3 {
			t.Errorf("line %d has keys %v", i, m)
		}
		var e jsonEntry
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatal(err)
		}
		if e.Log != jsonDecoded(t, recs[i].p) || e.Stream != recs[i].stream || !e.Time.Equal(recs[i].t) {
			t.Errorf("line %d = %+v, want %+v", i, e, recs[i])
		}
		if !strings.HasPrefix(l, `{"log":"`) || !strings.Contains(l, `"time":"`+recs[i].t.Format(time.RFC3339Nano)+`"}`) {
			t.Errorf("line %d not in Docker's shape: %s", i, l)
		}
	}
}

// Lines written by Docker itself (one object per line, other key orders,
// extra keys) go through the slow path.
func TestReadsDockerFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	content := `{"log":"hello\n","stream":"stdout","time":"2024-03-04T05:06:07.000000001Z"}
{"stream":"stderr","log":"oops \u003cb\u003e\n","time":"2024-03-04T05:06:08Z"}
{"log":"x\n","stream":"stdout","attrs":{"a":"b"},"time":"2024-03-04T07:06:08+02:00"}
not json at all
{"log":"y\n","stream":"stdout","time":"2024-03-04T05:06:09Z"}
`
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, path, ReadOptions{Tail: -1})
	want := []string{"stdout hello\n", "stderr oops <b>\n", "stdout x\n", "stdout y\n"}
	if len(got) != len(want) {
		t.Fatalf("got %d entries: %+v", len(got), got)
	}
	for i, e := range got {
		if e.Stream+" "+string(e.Line) != want[i] {
			t.Errorf("entry %d = %s %q", i, e.Stream, e.Line)
		}
	}
	if !got[2].Time.Equal(time.Date(2024, 3, 4, 5, 6, 8, 0, time.UTC)) {
		t.Errorf("time with offset: %v", got[2].Time)
	}
}

// tailRef computes the last n lines of a full read: a line is a run of
// entries ending with one that ends in '\n', or the final entry.
func tailRef(all []Entry, n int) []Entry {
	count := 0
	for i := len(all) - 1; i >= 0; i-- {
		if i == len(all)-1 || bytes.HasSuffix(all[i].Line, []byte{'\n'}) {
			count++
			if count == n+1 {
				return all[i+1:]
			}
		}
	}
	return all
}

func sameEntries(a, b []Entry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Stream != b[i].Stream || !a[i].Time.Equal(b[i].Time) || !bytes.Equal(a[i].Line, b[i].Line) {
			return false
		}
	}
	return true
}

// mixedRecs makes entries of many shapes, including ones larger than the
// tail block and lines split across chunks.
func mixedRecs(n int) []rec {
	var recs []rec
	tm := t0
	for i := 0; i < n; i++ {
		tm = tm.Add(time.Duration(i%7) * 100 * time.Millisecond)
		var p string
		switch i % 9 {
		case 0:
			p = fmt.Sprintf("line %d\n", i)
		case 1:
			p = fmt.Sprintf("a %d\nb %d\nc \"%d\"\n", i, i, i)
		case 2:
			p = fmt.Sprintf("partial %d ", i) // continued by the next
		case 3:
			p = fmt.Sprintf("rest %d\nand more\t", i)
		case 4:
			p = strings.Repeat(fmt.Sprintf("long line %d with \\ and \x01 ", i), 1+i%300) + "\n"
		case 5:
			p = strings.Repeat("x\n", 1+i%50)
		case 6:
			p = "\n\n\n"
		case 7:
			p = strings.Repeat("y", 70<<10) + "\n" // one line longer than a tail block
		case 8:
			p = fmt.Sprintf("utf8 é世 %d\n", i)
		}
		recs = append(recs, rec{[]string{"stdout", "stderr"}[i%2], tm, p})
	}
	return recs
}

func TestTail(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		recs []rec
	}{
		{"mixed", Options{}, mixedRecs(200)},
		{"rotated", Options{MaxSize: 100 << 10, MaxFile: 100}, mixedRecs(200)},
		{"unterminated last", Options{}, append(mixedRecs(20), rec{"stdout", t0.Add(time.Hour), "no newline"})},
		{"one entry", Options{}, []rec{{"stdout", t0, "a\nb\nc\n"}}},
		{"empty", Options{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.log")
			writeLog(t, path, tc.opts, tc.recs)
			if tc.opts.MaxFile > 1 {
				if _, err := os.Stat(path + ".2"); err != nil {
					t.Fatalf("expected rotated files: %v", err)
				}
			}
			all := readAll(t, path, ReadOptions{Tail: -1})
			if len(tc.recs) > 0 && len(all) == 0 {
				t.Fatal("nothing read")
			}
			lines := 0
			for i, e := range all {
				if i == len(all)-1 || bytes.HasSuffix(e.Line, []byte{'\n'}) {
					lines++
				}
			}
			ns := []int{0, 1, 2, 3, 4, 5, 7, 10, 33, 100, 500, lines - 1, lines, lines + 1, lines + 1000}
			for n := 0; n < min(lines, 400); n++ {
				ns = append(ns, n)
			}
			for n := 400; n < lines; n += 1 + n/4 {
				ns = append(ns, n)
			}
			for _, n := range ns {
				if n < 0 {
					continue
				}
				got := readAll(t, path, ReadOptions{Tail: n})
				if want := tailRef(all, n); !sameEntries(got, want) {
					t.Fatalf("Tail %d: got %d entries, want %d", n, len(got), len(want))
				}
			}
		})
	}
}

func TestSinceUntil(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	var recs []rec
	for i := 0; i < 100; i++ {
		recs = append(recs, rec{"stdout", t0.Add(time.Duration(i) * time.Second), fmt.Sprintf("%d\n", i)})
	}
	writeLog(t, path, Options{MaxSize: 1000, MaxFile: 50}, recs)
	nums := func(es []Entry) string {
		var s []string
		for _, e := range es {
			s = append(s, strings.TrimSuffix(string(e.Line), "\n"))
		}
		return strings.Join(s, ",")
	}
	cases := []struct {
		opts ReadOptions
		want string
	}{
		{ReadOptions{Tail: -1, Since: t0.Add(97 * time.Second)}, "97,98,99"},
		{ReadOptions{Tail: -1, Since: t0.Add(97*time.Second - 1)}, "97,98,99"},
		{ReadOptions{Tail: -1, Since: t0.Add(97*time.Second + 1)}, "98,99"},
		{ReadOptions{Tail: -1, Until: t0.Add(2 * time.Second)}, "0,1,2"},
		{ReadOptions{Tail: -1, Since: t0.Add(10 * time.Second), Until: t0.Add(12 * time.Second)}, "10,11,12"},
		{ReadOptions{Tail: 2, Since: t0.Add(10 * time.Second), Until: t0.Add(20 * time.Second)}, "19,20"},
		{ReadOptions{Tail: 5, Since: t0.Add(98 * time.Second)}, "98,99"},
		{ReadOptions{Tail: -1, Since: t0.Add(time.Hour)}, ""},
		{ReadOptions{Tail: 3, Until: t0.Add(-time.Second)}, ""},
	}
	for _, c := range cases {
		if got := nums(readAll(t, path, c.opts)); got != c.want {
			t.Errorf("%+v: got %s, want %s", c.opts, got, c.want)
		}
	}
}

func TestRotation(t *testing.T) {
	for _, maxFile := range []int{0, 1, 2, 3, 5} {
		t.Run(fmt.Sprint("MaxFile=", maxFile), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "c.log")
			const maxSize = 1000
			var recs []rec
			var lines []string
			for i := 0; i < 300; i++ {
				l := fmt.Sprintf("entry %03d %s\n", i, strings.Repeat("z", i%40))
				recs = append(recs, rec{"stdout", t0.Add(time.Duration(i) * time.Millisecond), l})
				lines = append(lines, l)
			}
			writeLog(t, path, Options{MaxSize: maxSize, MaxFile: maxFile}, recs)

			all, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var ents []os.DirEntry
			for _, e := range all {
				if e.Name() != "c.log.idx" { // the rotation index
					ents = append(ents, e)
				}
			}
			if len(ents) == len(all) {
				t.Errorf("no rotation index beside the log")
			}
			keep := max(maxFile, 1)
			if len(ents) != keep {
				var names []string
				for _, e := range ents {
					names = append(names, e.Name())
				}
				t.Fatalf("files %v, want %d", names, keep)
			}
			for _, e := range ents {
				fi, _ := e.Info()
				if fi.Size() > maxSize {
					t.Errorf("%s has %d bytes > MaxSize", e.Name(), fi.Size())
				}
			}
			got := readAll(t, path, ReadOptions{Tail: -1})
			if len(got) == 0 || len(got) > len(lines) {
				t.Fatalf("read %d lines", len(got))
			}
			// The retained lines are the last ones written, in order.
			tail := lines[len(lines)-len(got):]
			for i, e := range got {
				if string(e.Line) != tail[i] {
					t.Fatalf("line %d = %q, want %q", i, e.Line, tail[i])
				}
			}
			// Each rotated file is nearly full (entries are <= 130 bytes).
			if min := (keep - 1) * (maxSize - 130) / 130; len(got) < min {
				t.Errorf("only %d lines retained, want >= %d", len(got), min)
			}
		})
	}
}

// An entry larger than MaxSize goes whole into a file of its own.
func TestRotationHugeEntry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	big := strings.Repeat("B", 5000) + "\n"
	writeLog(t, path, Options{MaxSize: 1000, MaxFile: 3}, []rec{
		{"stdout", t0, "small\n"}, {"stdout", t0, big}, {"stdout", t0, "after\n"},
	})
	// The big entry is split, so the files stay bounded: what is kept is
	// the end of the stream, within MaxFile files of about MaxSize each.
	got := streamText(readAll(t, path, ReadOptions{Tail: -1}))["stdout"]
	all := "small\n" + big + "after\n"
	if !strings.HasSuffix(all, got) || !strings.HasSuffix(got, "B\nafter\n") || len(got) > 3*1000 {
		t.Fatalf("kept %d bytes, not a bounded suffix of the stream", len(got))
	}
}

func TestPartialLastLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	writeLog(t, path, Options{}, []rec{{"stdout", t0, "one\n"}, {"stderr", t0, "two\n"}})
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"log":"frag`) // crash mid-write
	f.Close()

	for _, tail := range []int{-1, 1, 5} {
		got := readAll(t, path, ReadOptions{Tail: tail})
		want := "one\ntwo\n"
		if tail == 1 {
			want = "two\n"
		}
		var s string
		for _, e := range got {
			s += string(e.Line)
		}
		if s != want {
			t.Errorf("Tail %d: got %q, want %q", tail, s, want)
		}
	}

	// A new writer cuts the fragment off and continues on a fresh line.
	writeLog(t, path, Options{}, []rec{{"stdout", t0, "three\n"}})
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), "frag") {
		t.Errorf("fragment not removed: %s", data)
	}
	if got := streamText(readAll(t, path, ReadOptions{Tail: -1})); got["stdout"] != "one\nthree\n" || got["stderr"] != "two\n" {
		t.Errorf("after repair: %q", got)
	}
}

func TestCorruptLineSkipped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	writeLog(t, path, Options{}, []rec{{"stdout", t0, "a\n"}})
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("{\"log\":\"bad\\q\"}\n\x00\x00\x00\n")
	f.Close()
	writeLog(t, path, Options{}, []rec{{"stdout", t0, "b\n"}})
	if got := streamText(readAll(t, path, ReadOptions{Tail: -1}))["stdout"]; got != "a\nb\n" {
		t.Errorf("got %q", got)
	}
	if got := streamText(readAll(t, path, ReadOptions{Tail: 2}))["stdout"]; got != "a\nb\n" {
		t.Errorf("tail: got %q", got)
	}
}

func TestReadMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.log")
	for _, tail := range []int{-1, 0, 3} {
		err := Read(context.Background(), path, ReadOptions{Tail: tail}, func(Entry) error { return nil })
		if !errors.Is(err, errdefs.ErrNotFound) || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Tail %d: err = %v", tail, err)
		}
	}
}

func TestCallbackError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	writeLog(t, path, Options{}, []rec{{"stdout", t0, "a\nb\nc\n"}})
	stop := errors.New("stop")
	n := 0
	err := Read(context.Background(), path, ReadOptions{Tail: -1}, func(Entry) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("err %v after %d calls", err, n)
	}
}

// follower runs Read with Follow and collects the text it delivers.
type follower struct {
	done   atomic.Bool
	mu     chan struct{}
	text   strings.Builder
	result chan error
}

func startFollow(ctx context.Context, path string, opts ReadOptions) *follower {
	fl := &follower{mu: make(chan struct{}, 1), result: make(chan error, 1)}
	opts.Follow = true
	opts.Done = fl.done.Load
	go func() {
		fl.result <- Read(ctx, path, opts, func(e Entry) error {
			fl.mu <- struct{}{}
			fl.text.Write(e.Line)
			<-fl.mu
			return nil
		})
	}()
	return fl
}

func (fl *follower) got() string {
	fl.mu <- struct{}{}
	defer func() { <-fl.mu }()
	return fl.text.String()
}

func (fl *follower) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for fl.got() != want {
		if time.Now().After(deadline) {
			t.Fatalf("follower has %q, want %q", fl.got(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (fl *follower) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-fl.result:
		return err
	case <-time.After(time.Minute):
		t.Fatal("Read did not return")
		return nil
	}
}

func TestFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	w, err := NewWriter(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	w.Write("stdout", t0, []byte("before\n"))
	w.Flush()

	all := startFollow(context.Background(), path, ReadOptions{Tail: -1})
	fresh := startFollow(context.Background(), path, ReadOptions{Tail: 0})
	all.waitFor(t, "before\n")
	// Write pings until fresh has started and seen one.
	pings := ""
	for deadline := time.Now().Add(time.Minute); fresh.got() == ""; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("fresh follower sees nothing")
		}
		w.Write("stdout", t0, []byte("ping\n"))
		w.Flush()
		pings += "ping\n"
	}
	freshPings := fresh.got()
	if strings.Contains(freshPings, "before") || !strings.HasSuffix(pings, freshPings) {
		t.Fatalf("Tail 0 follower saw %q", freshPings)
	}
	w.Write("stdout", t0, []byte("after 1\n"))
	w.Write("stderr", t0, []byte("after 2"))
	w.Flush()
	all.waitFor(t, "before\n"+pings+"after 1\nafter 2")
	fresh.waitFor(t, freshPings+"after 1\nafter 2")

	// Written and flushed at Close, just before Done turns true: must not
	// be lost.
	w.Write("stdout", t0, []byte(" end\n"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-all.result:
		t.Fatalf("Read returned before Done: %v", err)
	case <-time.After(150 * time.Millisecond):
	}
	all.done.Store(true)
	fresh.done.Store(true)
	for _, fl := range []*follower{all, fresh} {
		if err := fl.wait(t); err != nil {
			t.Fatal(err)
		}
	}
	if got := all.got(); got != "before\n"+pings+"after 1\nafter 2 end\n" {
		t.Errorf("all: %q", got)
	}
	if got := fresh.got(); got != freshPings+"after 1\nafter 2 end\n" {
		t.Errorf("fresh: %q", got)
	}
}

func TestFollowCancel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	writeLog(t, path, Options{}, []rec{{"stdout", t0, "x\n"}})
	ctx, cancel := context.WithCancel(context.Background())
	fl := startFollow(ctx, path, ReadOptions{Tail: -1})
	fl.waitFor(t, "x\n")
	cancel()
	if err := fl.wait(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestFollowUntil(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	writeLog(t, path, Options{}, []rec{{"stdout", t0, "x\n"}})
	fl := startFollow(context.Background(), path, ReadOptions{Tail: -1, Until: time.Now().Add(100 * time.Millisecond)})
	if err := fl.wait(t); err != nil {
		t.Fatal(err)
	}
	if fl.got() != "x\n" {
		t.Fatalf("got %q", fl.got())
	}
}

// The follower keeps up with a writer that rotates many times, for every
// MaxFile, as long as it is not more than MaxFile-1 rotations behind.
func TestFollowRotation(t *testing.T) {
	for _, maxFile := range []int{1, 2, 4} {
		t.Run(fmt.Sprint("MaxFile=", maxFile), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.log")
			w, err := NewWriter(path, Options{MaxSize: 2000, MaxFile: maxFile})
			if err != nil {
				t.Fatal(err)
			}
			fl := startFollow(context.Background(), path, ReadOptions{Tail: -1})
			var want strings.Builder
			for i := 0; i < 300; i++ {
				l := fmt.Sprintf("line %04d %s\n", i, strings.Repeat("r", 50))
				want.WriteString(l)
				w.Write([]string{"stdout", "stderr"}[i%2], t0, []byte(l))
				w.Flush()
				if i%10 == 9 {
					// ~700 bytes between waits: at most one rotation.
					fl.waitFor(t, want.String())
				}
			}
			w.Close()
			fl.done.Store(true)
			if err := fl.wait(t); err != nil {
				t.Fatal(err)
			}
			if fl.got() != want.String() {
				t.Fatalf("follower got %d bytes, want %d", len(fl.got()), want.Len())
			}
		})
	}
}

// A follower reading while a writer writes flat out sees a contiguous
// sequence of lines with no line duplicated or reordered.
func TestFollowConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	w, err := NewWriter(path, Options{MaxSize: 1 << 20, MaxFile: 1000})
	if err != nil {
		t.Fatal(err)
	}
	fl := startFollow(context.Background(), path, ReadOptions{Tail: -1})
	var want strings.Builder
	chunk := make([]byte, 0, 4096)
	for i := 0; i < 50000; i++ {
		chunk = fmt.Appendf(chunk, "%d\n", i)
		want.WriteString(fmt.Sprintf("%d\n", i))
		if len(chunk) > 3000 || i%7 == 0 {
			w.Write("stdout", time.Now(), chunk)
			chunk = chunk[:0]
			if i%5 == 0 {
				w.Flush()
			}
		}
	}
	w.Write("stdout", time.Now(), chunk)
	w.Close()
	fl.done.Store(true)
	if err := fl.wait(t); err != nil {
		t.Fatal(err)
	}
	if fl.got() != want.String() {
		t.Fatalf("follower got %d bytes, want %d", len(fl.got()), want.Len())
	}
}

func TestWriterConcurrentAndClosed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	w, err := NewWriter(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	donec := make(chan struct{})
	for _, s := range []string{"stdout", "stderr"} {
		go func() {
			for i := 0; i < 1000; i++ {
				w.Write(s, t0, []byte(s+"\n"))
			}
			donec <- struct{}{}
		}()
	}
	<-donec
	<-donec
	w.Close()
	if err := w.Write("stdout", t0, []byte("late")); err == nil {
		t.Error("Write after Close succeeded")
	}
	f, _ := os.Open(path)
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		if !json.Valid(sc.Bytes()) {
			t.Fatalf("invalid line %q", sc.Bytes())
		}
		n++
	}
	if n != 2000 {
		t.Errorf("%d lines, want 2000", n)
	}
}

// Steady-state writing does not allocate.
func TestWriteNoAlloc(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	w, err := NewWriter(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	chunk := benchChunk(32 << 10)
	allocs := testing.AllocsPerRun(200, func() {
		w.Write("stdout", t0, chunk)
		w.Flush()
	})
	if allocs > 0 {
		t.Errorf("%v allocations per Write+Flush", allocs)
	}
}

// A chunk far larger than max-size is split so that rotation still bounds
// the files (the monitor writes whole chunks, often many lines each).
func TestRotationSplitsLargeChunks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "json.log")
	w, err := NewWriter(path, Options{MaxSize: 1024, MaxFile: 2})
	if err != nil {
		t.Fatal(err)
	}
	var chunk []byte
	for i := 0; i < 400; i++ {
		chunk = append(chunk, fmt.Sprintf("line %03d\n", i)...)
	}
	if err := w.Write("stdout", time.Now(), chunk); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + ".1"} {
		fi, err := os.Stat(p)
		if err != nil || fi.Size() > 2048 {
			t.Errorf("%s: %v, size %v", p, err, fi)
		}
	}
	if _, err := os.Stat(path + ".2"); err == nil {
		t.Error("more files than max-file")
	}
	var last string
	Read(context.Background(), path, ReadOptions{Tail: -1}, func(e Entry) error { last = string(e.Line); return nil })
	if last != "line 399\n" {
		t.Errorf("last line %q", last)
	}
}
