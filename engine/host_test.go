package engine_test

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"time"

	"berth/engine"
)

func TestHostReader(t *testing.T) {
	r, err := engine.OpenHostReader()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Read(); err != nil { // since boot
		t.Fatal(err)
	}
	// Keep a core busy between two readings.
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			default:
			}
		}
	}()
	time.Sleep(300 * time.Millisecond)
	hs, err := r.Read()
	close(done)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	f, err := os.Open("/proc/stat")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, "cpu") && len(l) > 3 && l[3] >= '0' && l[3] <= '9' {
			want++
		}
	}
	if hs.CPUs != want {
		t.Errorf("CPUs %d, /proc/stat has %d", hs.CPUs, want)
	}
	// A busy core is 100 on this scale; leave room for a loaded machine.
	if hs.CPUPercent < 30 || hs.CPUPercent > float64(100*hs.CPUs)+1 {
		t.Errorf("CPU %.1f%% with a core busy (%d CPUs)", hs.CPUPercent, hs.CPUs)
	}
	if hs.MemTotal == 0 || hs.MemUsed == 0 || hs.MemUsed >= hs.MemTotal {
		t.Errorf("memory %d of %d", hs.MemUsed, hs.MemTotal)
	}
}

// BenchmarkHostRead is one reading, as the UI takes every second.
func BenchmarkHostRead(b *testing.B) {
	r, err := engine.OpenHostReader()
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Read(); err != nil {
			b.Fatal(err)
		}
	}
}
