package logfile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// benchChunk returns n bytes of mostly-ASCII log text: lines of 40-120
// characters, a tab and a quote here and there, a few UTF-8 runes.
func benchChunk(n int) []byte {
	b := make([]byte, 0, n+200)
	for i := 0; len(b) < n; i++ {
		b = fmt.Appendf(b, "2024-03-04 05:06:07.%03d INFO  [worker-%d] request id=%08x path=/api/v1/items", i%1000, i%16, i*2654435761)
		switch i % 10 {
		case 3:
			b = append(b, " status=\"ok\"\tdur=12ms"...)
		case 7:
			b = append(b, " user=José 東京"...)
		}
		b = append(b, '\n')
	}
	return b[:n]
}

func BenchmarkWrite(b *testing.B) {
	path := filepath.Join(b.TempDir(), "c.log")
	// Rotation bounds the disk used by long runs.
	w, err := NewWriter(path, Options{MaxSize: 256 << 20, MaxFile: 2})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	chunk := benchChunk(32 << 10)
	tm := time.Now()
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := w.Write("stdout", tm, chunk); err != nil {
			b.Fatal(err)
		}
		if err := w.Flush(); err != nil { // the monitor flushes after each read batch
			b.Fatal(err)
		}
	}
}

// makeLog writes a log of about size bytes (of JSON) with chunks of
// chunkSize bytes of content.
func makeLog(b *testing.B, path string, size int64, chunkSize int) int64 {
	w, err := NewWriter(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	chunk := benchChunk(64 << 10)
	tm := time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)
	for i := 0; w.size+int64(len(w.buf)) < size; i++ {
		off := (i * 997) % (len(chunk) - chunkSize)
		p := chunk[off : off+chunkSize]
		if err := w.Write([]string{"stdout", "stderr"}[i%2], tm, p); err != nil {
			b.Fatal(err)
		}
		tm = tm.Add(1234567 * time.Nanosecond)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return fi.Size()
}

// BenchmarkReadAll reads a 200 MB log back: with 32 KiB chunks (a busy
// container) and with one ~100-byte line per chunk (the worst case for
// per-entry costs). The reported MB/s is of log file bytes.
func BenchmarkReadAll(b *testing.B) {
	dir := b.TempDir()
	for _, chunkSize := range []int{32 << 10, 100} {
		path := filepath.Join(dir, fmt.Sprint(chunkSize, ".log"))
		size := makeLog(b, path, 200<<20, chunkSize)
		b.Run(fmt.Sprintf("chunk=%d", chunkSize), func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				var lines, content int
				err := Read(context.Background(), path, ReadOptions{Tail: -1}, func(e Entry) error {
					lines++
					content += len(e.Line)
					return nil
				})
				if err != nil || lines == 0 {
					b.Fatal(err, lines)
				}
			}
		})
	}
}

// BenchmarkTail reads the last 100 lines of a 1 GB log. Allocated bytes per
// op stay constant whatever the size of the log.
func BenchmarkTail(b *testing.B) {
	path := filepath.Join(b.TempDir(), "big.log")
	size := makeLog(b, path, 1<<30, 32<<10)
	b.Logf("log: %d bytes", size)
	for _, n := range []int{100, 10000} {
		b.Run(fmt.Sprint("Tail=", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				lines := 0
				err := Read(context.Background(), path, ReadOptions{Tail: n}, func(e Entry) error {
					lines++
					return nil
				})
				if err != nil || lines < n { // a line split across chunks is two entries
					b.Fatal(err, lines)
				}
			}
		})
	}
	runtime.GC()
}

// BenchmarkFollowRotation follows a log through rotation at 1 MB a file
// (--log-opt max-size=1m), the writer writing 64 MB in 32 KiB chunks as a
// busy container's monitor does.
//
// catch-up: the follower is held at the log's first line while the writer
// writes it all (max-file=80: nothing is dropped), then let go: read-MB/s
// is its own speed from file to file, 64 rotations followed by identity
// (the rotation index), to the end. flat-out: max-file=3 and the writer
// never waits; lost-% is the share of lines rotated away before the
// follower read them (each announced), read-MB/s what it delivered over
// the time the writer and it took.
func BenchmarkFollowRotation(b *testing.B) {
	const total = 64 << 20
	for _, mode := range []string{"catch-up", "flat-out"} {
		b.Run(mode, func(b *testing.B) {
			chunk := benchChunk(32 << 10)
			maxFile := map[string]int{"catch-up": 80, "flat-out": 3}[mode]
			var lostLines, allLines, got int64
			var took time.Duration
			for b.Loop() {
				path := filepath.Join(b.TempDir(), "c.log")
				w, err := NewWriter(path, Options{MaxSize: 1 << 20, MaxFile: maxFile})
				if err != nil {
					b.Fatal(err)
				}
				tm := time.Now()
				if err := w.Write("stdout", tm, []byte("first\n")); err != nil {
					b.Fatal(err)
				}
				w.Flush()
				var delivered atomic.Int64
				var done atomic.Bool
				held, release := make(chan struct{}), make(chan struct{})
				result := make(chan error, 1)
				go func() {
					first := true
					result <- Read(context.Background(), path, ReadOptions{Tail: -1, Follow: true, Done: done.Load}, func(e Entry) error {
						if first && mode == "catch-up" {
							close(held)
							<-release
						}
						first = false
						if e.Lost > 0 {
							lostLines += e.Lost
						}
						delivered.Add(int64(len(e.Line)))
						return nil
					})
				}()
				if mode == "catch-up" {
					<-held
				}
				start := time.Now()
				for written := 0; written < total; written += len(chunk) {
					if err := w.Write("stdout", tm, chunk); err != nil {
						b.Fatal(err)
					}
					if err := w.Flush(); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
				allLines += readIndex(path).endLines
				done.Store(true)
				if mode == "catch-up" {
					start = time.Now()
					close(release)
				}
				if err := <-result; err != nil {
					b.Fatal(err)
				}
				took += time.Since(start)
				got += delivered.Load()
			}
			b.ReportMetric(100*float64(lostLines)/float64(allLines), "lost-%")
			b.ReportMetric(float64(got)/1e6/took.Seconds(), "read-MB/s")
		})
	}
}
