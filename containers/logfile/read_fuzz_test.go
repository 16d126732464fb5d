package logfile

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// A log file holds what the container printed, and a container can print
// anything; the file may also be cut short by a crash, or written by
// Docker. FuzzReadLogFile puts arbitrary bytes in a log and its rotated
// file and reads them every way berth does (logs, logs --tail, the UI's
// pager and search): none may panic, and --tail must give the last lines
// of what a full read gives, as the two read the files in opposite
// directions.
func FuzzReadLogFile(f *testing.F) {
	line := func(log, stream, tm string) string {
		return `{"log":"` + log + `","stream":"` + stream + `","time":"` + tm + "\"}\n"
	}
	good := line(`hello\n`, "stdout", "2024-03-04T05:06:07.123456789Z") +
		line(`part`, "stderr", "2024-03-04T05:06:08Z") +
		line(`ial\nnext\n`, "stderr", "2024-03-04T05:06:08.5Z")
	seeds := []string{
		"",
		"\n\n\n",
		good,
		good[:len(good)-10], // cut mid-entry
		line(`\u00e9\ud83c\udf89\ud800\"\\\/\b\f\r\t`, "stdout", "2024-03-04T05:06:07Z"),
		line(`x`, "stdout", "2024-03-04T05:06:07+02:00"),
		line(`x`, "stdout", "2024-03-04T05:06:60Z"),
		line(`x`, "stdout", "2024-03-04T05:06:07.1234567891Z"),
		line("raw\x00\xff", "weird", "2024-03-04T05:06:07Z"),
		`{"stream":"stdout","log":"docker order\n","time":"2024-03-04T05:06:07Z"}` + "\n",
		`{"log":"\u` + "\n" + `{"log":"x\` + "\n" + `{"log":1}` + "\n" + `not json` + "\n",
		strings.Repeat(line(`a\n`, "stdout", "2024-03-04T05:06:07Z"), 50),
	}
	for i, s := range seeds {
		f.Add([]byte(s), uint16(i*7), uint8(i%4))
	}
	f.Fuzz(func(t *testing.T, data []byte, split uint16, tail uint8) {
		dir := t.TempDir()
		path := filepath.Join(dir, "c.log")
		cut := int(split) % (len(data) + 1)
		if err := os.WriteFile(rotatedName(path, 1), data[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data[cut:], 0o600); err != nil {
			t.Fatal(err)
		}

		all := readAll(t, path, ReadOptions{Tail: -1})
		for _, e := range all {
			if i := bytes.IndexByte(e.Line, '\n'); len(e.Line) == 0 || i >= 0 && i != len(e.Line)-1 {
				t.Fatalf("entry %q is not one piece of a line", e.Line)
			}
		}
		n := int(tail%16) + 1
		if got, want := readAll(t, path, ReadOptions{Tail: n}), tailRef(all, n); !sameEntries(got, want) {
			t.Fatalf("tail %d = %q, want the last lines of a full read %q", n, lines(got), lines(want))
		}

		p, err := OpenPager(path)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		ctx := context.Background()
		for _, backward := range []bool{false, true} {
			// Search reads the same entries through its own raw filter.
			from := p.Start()
			if backward {
				from = p.End()
			}
			if _, _, err := p.Search(ctx, from, "a", backward); err != nil {
				t.Fatal(err)
			}
		}
		fwd, err := p.After(ctx, p.Start(), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		back, err := p.Before(ctx, p.End(), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		text := 0
		for _, l := range fwd {
			text += len(l.Text)
		}
		if text >= pageBudget {
			return // both stopped early, at opposite ends
		}
		if len(fwd) != len(back) {
			t.Fatalf("%d lines forward, %d backward", len(fwd), len(back))
		}
		for i := range fwd {
			if fwd[i].Pos != back[i].Pos || !bytes.Equal(fwd[i].Text, back[i].Text) {
				t.Fatalf("line %d: forward %v %q, backward %v %q", i, fwd[i].Pos, fwd[i].Text, back[i].Pos, back[i].Text)
			}
		}
	})
}

func lines(es []Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, string(e.Line))
	}
	return out
}

// FuzzWriteReadLog checks the round trip a container's output makes: what
// the Writer records comes back from Read as the same lines, with the same
// stream and time. Bytes that are not UTF-8 come back as U+FFFD, one per
// byte, as Docker's json-file driver stores them.
func FuzzWriteReadLog(f *testing.F) {
	for i, s := range tricky {
		f.Add([]byte(s), i%2 == 0, int64(i)*1_000_000_007+t0.UnixNano())
	}
	f.Fuzz(func(t *testing.T, p []byte, stderr bool, nanos int64) {
		stream := "stdout"
		if stderr {
			stream = "stderr"
		}
		tm := time.Unix(0, nanos) // years 1678 to 2262: all RFC 3339
		path := filepath.Join(t.TempDir(), "c.log")
		writeLog(t, path, Options{}, []rec{{stream: stream, t: tm, p: string(p)}})

		var got bytes.Buffer
		for _, e := range readAll(t, path, ReadOptions{Tail: -1}) {
			if e.Stream != stream || !e.Time.Equal(tm) {
				t.Fatalf("entry %q: stream %q time %v, want %q %v", e.Line, e.Stream, e.Time, stream, tm)
			}
			got.Write(e.Line)
		}
		if want := validUTF8(p); !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("read back %q, want %q", got.Bytes(), want)
		}
	})
}

// validUTF8 replaces each byte of p that is not part of a valid UTF-8
// sequence with U+FFFD.
func validUTF8(p []byte) []byte {
	var out []byte
	for len(p) > 0 {
		r, size := utf8.DecodeRune(p)
		if r == utf8.RuneError && size == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, p[:size]...)
		}
		p = p[size:]
	}
	return out
}
