package logfile

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"
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
	for _, dir := range []struct {
		name     string
		backward bool
	}{{"SearchForward", false}, {"SearchBackward", true}} {
		b.Run(dir.name, func(b *testing.B) {
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
	runtime.GC()
}
