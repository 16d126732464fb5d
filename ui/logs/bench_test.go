package logs

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"berth/containers/logfile"
)

// bigLog is a 1 GB log written once per test binary run (in a temporary
// directory that TestMain removes), shared by the benchmarks.
var bigLog struct {
	once      sync.Once
	dir, path string
	err       error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bigLog.dir != "" {
		os.RemoveAll(bigLog.dir)
	}
	os.Exit(code)
}

// oneGB returns the path of a ~1 GB log written with logfile.Writer:
// lines of 60-200 bytes, in chunks of about 4 KiB (a busy container),
// one chunk in seven on stderr, a few non-ASCII runes and tabs.
func oneGB(b *testing.B) string {
	bigLog.once.Do(func() {
		bigLog.dir, bigLog.err = os.MkdirTemp("", "berth-logs-bench-")
		if bigLog.err != nil {
			return
		}
		bigLog.path = filepath.Join(bigLog.dir, "big.log")
		bigLog.err = writeBig(bigLog.path, 1<<30)
	})
	if bigLog.err != nil {
		b.Fatal(bigLog.err)
	}
	return bigLog.path
}

func writeBig(path string, size int64) error {
	var text bytes.Buffer
	for i := 0; text.Len() < 1<<20; i++ {
		fmt.Fprintf(&text, "2024-03-04 05:06:07.%03d INFO [worker-%d] request id=%08x path=/api/v1/items/%d status=200",
			i%1000, i%16, uint32(i)*2654435761, i)
		switch i % 10 {
		case 3:
			text.WriteString("\tdur=12ms user=\"José\" region=東京")
		case 7:
			text.WriteString(" " + strings.Repeat("payload ", 12))
		}
		text.WriteByte('\n')
	}
	content := text.Bytes()
	w, err := logfile.NewWriter(path, logfile.Options{})
	if err != nil {
		return err
	}
	tm := time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)
	var written int64
	for i, off := 0, 0; written < size; i++ {
		// Chunks end at line ends, as a line-buffered program writes.
		end := min(off+4096, len(content))
		if nl := bytes.IndexByte(content[end:], '\n'); nl >= 0 {
			end += nl + 1
		} else {
			end = len(content)
		}
		stream := "stdout"
		if i%7 == 6 {
			stream = "stderr"
		}
		if err := w.Write(stream, tm, content[off:end]); err != nil {
			return err
		}
		written += int64(end-off) + 80 // roughly, with the JSON around it
		off = end
		if off == len(content) {
			off = 0
		}
		tm = tm.Add(3 * time.Millisecond)
	}
	return w.Close()
}

// drive runs the commands a key or message returned, synchronously, and
// hands their messages back (the benchmarks never arm a wait: they do not
// deliver the open's own commands).
func drive(m *Model, cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	switch msg := cmd().(type) {
	case nil:
	case tea.BatchMsg:
		for _, c := range msg {
			drive(m, c)
		}
	default:
		drive(m, m.Update(msg))
	}
}

// peakRSS reports the process's peak resident set in MB (VmHWM).
func peakRSS(b *testing.B) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			b.ReportMetric(float64(kb)/1024, "peakRSS-MB")
		}
	}
}

// openBig opens the log in a 160x48 pane and applies the first page, as
// the app does with the open command's message.
func openBig(b *testing.B, path string) *Model {
	m := New(testCommon())
	m.SetSize(160, 48)
	msg := m.Open("big", "big", path)()
	m.Update(msg) // its commands (the wait, a read ahead) are not run
	return m
}

// BenchmarkOpen1GB opens a 1 GB log in the pane and renders the first
// frame at 160x48. Target: < 100 ms.
func BenchmarkOpen1GB(b *testing.B) {
	path := oneGB(b)
	b.ReportAllocs()
	for b.Loop() {
		m := openBig(b, path)
		v := m.View()
		if !strings.Contains(v, "request id=") || m.size < 1<<30 {
			b.Fatalf("first frame:\n%s", v)
		}
		m.Close()
	}
	peakRSS(b)
}

// BenchmarkPageUp1GB scrolls up a page at a time from the end of a 1 GB
// log, rendering each frame; reads by offset happen as the window nears
// its top (amortised in the figure). The window stays bounded.
func BenchmarkPageUp1GB(b *testing.B) {
	m := openBig(b, oneGB(b))
	defer m.Close()
	pgup := press("pgup")
	b.ReportAllocs()
	for b.Loop() {
		drive(m, m.Update(pgup))
		if m.View() == "" {
			b.Fatal("no frame")
		}
	}
	if n := len(m.lines); n > 6*m.chunk() {
		b.Fatalf("window of %d lines", n)
	}
	peakRSS(b)
}

// BenchmarkTop1GB jumps from the end of a 1 GB log to its start (g) and
// renders the frame; the jump back to the end (G) is not timed.
func BenchmarkTop1GB(b *testing.B) {
	m := openBig(b, oneGB(b))
	defer m.Close()
	top, bottom := press("g"), press("G")
	b.ReportAllocs()
	for b.Loop() {
		drive(m, m.Update(top))
		if m.offset > 1<<20 || m.View() == "" {
			b.Fatalf("not at the top: offset %d", m.offset)
		}
		b.StopTimer()
		drive(m, m.Update(bottom))
		b.StartTimer()
	}
	peakRSS(b)
}
