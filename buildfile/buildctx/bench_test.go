package buildctx

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// bigContext is 5,000 files of 1-8 KiB in 100 directories (about 22 MB).
func bigContext(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	content := make([]byte, 8<<10)
	for i := range content {
		content[i] = byte(i * 7)
	}
	for d := range 100 {
		sub := filepath.Join(dir, "src", fmt.Sprintf("pkg%03d", d))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range 50 {
			n := 1<<10 + (d*50+f)%(7<<10)
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("file%02d.go", f)), content[:n], 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte("**/*.tmp\n!keep.tmp\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

// A first build: every file read and hashed.
func BenchmarkChecksum5000Cold(b *testing.B) {
	dir := bigContext(b)
	b.ResetTimer()
	for b.Loop() {
		c, err := FromDir(dir)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Checksum([]string{"."}, CopyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// A later step of the same build, or the same Context again: metadata
// only.
func BenchmarkChecksum5000Cached(b *testing.B) {
	c, err := FromDir(bigContext(b))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.Checksum([]string{"."}, CopyOptions{}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Checksum([]string{"."}, CopyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteLayer5000(b *testing.B) {
	c, err := FromDir(bigContext(b))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if err := c.WriteLayer(io.Discard, []string{"."}, "/app/", CopyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
