package logfile

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// BenchmarkPager1GB pages through a 1 GB log (written in b.TempDir, 32 KiB
// chunks of ~100-byte lines): what a viewer does on opening it, scrolling
// a page and jumping to either end, and scanning it whole for a search
// (MB/s of log bytes). Allocations per op show the Pager holds no more
// than the lines asked for, whatever the size of the log.
func BenchmarkPager1GB(b *testing.B) {
	path := filepath.Join(b.TempDir(), "big.log")
	size := makeLog(b, path, 1<<30, 32<<10)
	ctx := context.Background()
	const page = 48

	b.Run("OpenLastPage", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, err := OpenPager(path)
			if err != nil {
				b.Fatal(err)
			}
			ls, err := p.Before(ctx, p.End(), page)
			if err != nil || len(ls) != page {
				b.Fatal(err, len(ls))
			}
			p.Close()
		}
	})
	p, err := OpenPager(path)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	b.Run("PageUp", func(b *testing.B) {
		b.ReportAllocs()
		pos := p.End()
		for b.Loop() {
			ls, err := p.Before(ctx, pos, page)
			if err != nil || len(ls) != page {
				b.Fatal(err, len(ls))
			}
			pos = ls[0].Pos
		}
	})
	b.Run("FirstPage", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ls, err := p.After(ctx, p.Start(), page)
			if err != nil || len(ls) != page {
				b.Fatal(err, len(ls))
			}
		}
	})
	benchSearch(b, "Search", p, size)
	p.Close()
	// Chunks that end at line ends (a line-buffered program), where a
	// search skips most of the JSON without decoding it.
	aligned := filepath.Join(b.TempDir(), "aligned.log")
	size = alignedLog(b, aligned, 1<<30)
	if p, err = OpenPager(aligned); err != nil {
		b.Fatal(err)
	}
	benchSearch(b, "SearchAligned", p, size)
	runtime.GC()
}

// benchSearch searches the whole log for a missing string, both ways.
func benchSearch(b *testing.B, name string, p *Pager, size int64) {
	ctx := context.Background()
	for _, dir := range []struct {
		name     string
		backward bool
	}{{"Forward", false}, {"Backward", true}} {
		b.Run(name+dir.name, func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			from := p.Start()
			if dir.backward {
				from = p.End()
			}
			for b.Loop() {
				_, found, err := p.Search(ctx, from, "no such text", dir.backward)
				if err != nil || found {
					b.Fatal(err, found)
				}
			}
		})
	}
}

// alignedLog writes a log of about size bytes of ~4 KiB chunks that end
// at line ends.
func alignedLog(b *testing.B, path string, size int64) int64 {
	w, err := NewWriter(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	text := benchChunk(1 << 20)
	text = text[:bytes.LastIndexByte(text, '\n')+1]
	tm := time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)
	for i, off := 0, 0; w.size+int64(len(w.buf)) < size; i++ {
		end := min(off+4096, len(text))
		end += bytes.IndexByte(text[end-1:], '\n')
		if err := w.Write([]string{"stdout", "stderr"}[i%5/4], tm, text[off:end]); err != nil {
			b.Fatal(err)
		}
		if off = end; off == len(text) {
			off = 0
		}
		tm = tm.Add(time.Millisecond)
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
