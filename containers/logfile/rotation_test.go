package logfile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// numberedFollow is what a follower delivered of a log of numbered lines
// ("n 000123\n"): the numbers in order, and the Lost markers, each with
// the count of numbers seen before it.
type numberedFollow struct {
	nums  []int
	marks []mark
}

type mark struct {
	at   int // len(nums) when it came
	lost int64
}

func (nf *numberedFollow) entry(t *testing.T, e Entry) {
	if e.Lost != 0 {
		nf.marks = append(nf.marks, mark{len(nf.nums), e.Lost})
		return
	}
	s := strings.TrimSuffix(strings.TrimPrefix(string(e.Line), "n "), "\n")
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Errorf("line %q is not a numbered line", e.Line)
		return
	}
	nf.nums = append(nf.nums, n)
}

// check verifies that the numbers from first to last are all there, in
// order, except where a marker says exactly how many are missing.
func (nf *numberedFollow) check(t *testing.T, first, last int) {
	t.Helper()
	if len(nf.nums) == 0 || nf.nums[0] != first || nf.nums[len(nf.nums)-1] != last {
		t.Fatalf("follower saw %d numbers, want %d..%d", len(nf.nums), first, last)
	}
	marks := map[int]int64{}
	for _, m := range nf.marks {
		if _, dup := marks[m.at]; dup || m.at == 0 {
			t.Fatalf("marker at %d: two at one place, or before any line", m.at)
		}
		marks[m.at] = m.lost
	}
	for i := 1; i < len(nf.nums); i++ {
		gap := int64(nf.nums[i] - nf.nums[i-1] - 1)
		lost, marked := marks[i]
		switch {
		case gap < 0:
			t.Fatalf("line %d came after %d", nf.nums[i], nf.nums[i-1])
		case gap == 0 && marked:
			t.Fatalf("marker (%d lost) between %d and %d, where nothing is missing", lost, nf.nums[i-1], nf.nums[i])
		case gap > 0 && !marked:
			t.Fatalf("lines %d..%d missing without a marker", nf.nums[i-1]+1, nf.nums[i]-1)
		case gap > 0 && lost != gap:
			t.Fatalf("marker says %d lost between %d and %d, want %d", lost, nf.nums[i-1], nf.nums[i], gap)
		}
	}
}

func numberedLine(i int) []byte { return fmt.Appendf(nil, "n %06d\n", i) }

// A follower that stops reading while the writer rotates past every file
// it had not reached reads the file it holds to its end, then says
// exactly how many lines it lost, then goes on.
func TestFollowLossAnnounced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	w, err := NewWriter(path, Options{MaxSize: 2000, MaxFile: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		w.Write("stdout", t0, numberedLine(i))
	}
	w.Flush()
	var nf numberedFollow
	blocked, release := make(chan struct{}), make(chan struct{})
	var done atomic.Bool
	result := make(chan error, 1)
	go func() {
		result <- Read(context.Background(), path, ReadOptions{Tail: -1, Follow: true, Done: done.Load}, func(e Entry) error {
			nf.entry(t, e)
			if len(nf.nums) == 1 {
				close(blocked)
				<-release // a consumer that stopped reading
			}
			return nil
		})
	}()
	<-blocked
	const n = 2000 // ~60 rotations of three files
	for i := 10; i < n; i++ {
		w.Write("stdout", t0, numberedLine(i))
		w.Flush()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if x := readIndex(path); x == nil || x.files[0].seq < 10 {
		t.Fatalf("the test needs many rotations: index %+v", x)
	}
	done.Store(true)
	close(release)
	select {
	case err := <-result:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Read did not return")
	}
	nf.check(t, 0, n-1)
	if len(nf.marks) != 1 {
		t.Fatalf("%d markers, want 1: %+v", len(nf.marks), nf.marks)
	}
	// The file held while stopped was read to its end: the loss starts
	// after it, not at the line the reader stopped on.
	if at := nf.marks[0].at; at < 20 {
		t.Errorf("marker after %d lines: the held file was not read to its end", at)
	}
}

// A follower beside a writer writing flat out through small files, with a
// consumer that now and then stops until the writer is well ahead, misses
// lines only where it says so, and by exactly as many as it says.
func TestFollowFlatOutAccounted(t *testing.T) {
	for _, maxFile := range []int{1, 2, 4} {
		t.Run(fmt.Sprint("MaxFile=", maxFile), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.log")
			w, err := NewWriter(path, Options{MaxSize: 4096, MaxFile: maxFile})
			if err != nil {
				t.Fatal(err)
			}
			const n = 60000
			var written atomic.Int64
			var done atomic.Bool
			var nf numberedFollow
			var started atomic.Bool
			result := make(chan error, 1)
			go func() {
				result <- Read(context.Background(), path, ReadOptions{Tail: -1, Follow: true, Done: done.Load}, func(e Entry) error {
					nf.entry(t, e)
					started.Store(true)
					if k := len(nf.nums); e.Lost == 0 && k%5000 == 0 {
						// Stall until the writer is 3000 lines on (or done).
						at := int64(nf.nums[k-1])
						for written.Load() < at+3000 && !done.Load() {
							time.Sleep(time.Millisecond)
						}
					}
					return nil
				})
			}()
			// Line 0 first, read before the rest comes: the follower
			// starts at the log's start.
			w.Write("stdout", t0, numberedLine(0))
			w.Flush()
			for deadline := time.Now().Add(time.Minute); !started.Load(); time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the follower did not start")
				}
			}
			chunk := make([]byte, 0, 4096)
			for i := 1; i < n; i++ {
				chunk = append(chunk, numberedLine(i)...)
				if len(chunk) > 300 || i%11 == 0 {
					w.Write("stdout", t0, chunk)
					w.Flush()
					chunk = chunk[:0]
					written.Store(int64(i))
				}
			}
			w.Write("stdout", t0, chunk)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			written.Store(n)
			done.Store(true)
			select {
			case err := <-result:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(time.Minute):
				t.Fatal("Read did not return")
			}
			nf.check(t, 0, n-1)
			if len(nf.marks) == 0 {
				t.Errorf("no loss at all: the stalls should have made some")
			}
		})
	}
}

// The index numbers the files in order and counts the lines before each,
// across a clean reopen, a writer that died without closing, and a log
// that had no index yet.
func TestWriterIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	opts := Options{MaxSize: 1500, MaxFile: 4}
	total := 0
	write := func(w *Writer, k int) {
		for range k {
			w.Write("stdout", t0, []byte("a\nb\nc")) // 2 lines ended, one begun
			w.Write("stderr", t0, []byte("d\n"))
			total += 3
		}
	}
	// checkIndex checks each file's line count against the numbers, and
	// (closed) the total against what was written.
	checkIndex := func(what string, closed bool) {
		t.Helper()
		x := readIndex(path)
		if x == nil {
			t.Fatalf("%s: no index", what)
		}
		if closed && x.endLines != int64(total) {
			t.Errorf("%s: end says %d lines, want %d", what, x.endLines, total)
		}
		for i, r := range x.files {
			name := rotatedName(path, len(x.files)-1-i)
			fi, err := os.Stat(name)
			if err != nil || inode(fi) != r.ino {
				t.Fatalf("%s: file %d (seq %d) is not %s", what, i, r.seq, name)
			}
			n, err := countFileLines(name)
			if err != nil {
				t.Fatal(err)
			}
			end := int64(total)
			if !closed {
				continue
			}
			if i+1 < len(x.files) {
				end = x.files[i+1].first
			}
			if r.first+n != end {
				t.Fatalf("%s: seq %d starts at line %d and holds %d lines, next starts at %d", what, r.seq, r.first, n, end)
			}
		}
	}
	w, err := NewWriter(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	write(w, 100)
	w.Close()
	checkIndex("after close", true)
	last := readIndex(path).newest().seq

	// Reopened: the numbers go on.
	w, _ = NewWriter(path, opts)
	write(w, 100)
	w.Flush()
	checkIndex("reopened", false)
	if x := readIndex(path); x.newest().seq <= last {
		t.Errorf("numbers did not go on: %d after %d", x.newest().seq, last)
	}
	// Not closed (killed): the next writer counts the lines itself.
	w2, err := NewWriter(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	write(w2, 50)
	w2.Close()
	w.f.Close()
	checkIndex("after a writer died", true)

	// No index (written by an older berth): one is made, counting from
	// the oldest file kept.
	os.Remove(indexPath(path))
	w, _ = NewWriter(path, opts)
	x := readIndex(path)
	if x == nil || x.files[0].seq != 1 || x.files[0].first != 0 || len(x.files) != 4 {
		t.Fatalf("made afresh: %+v", x)
	}
	total = 0 // lines before the oldest file kept are not counted
	for i := range 4 {
		n, _ := countFileLines(rotatedName(path, i))
		total += int(n)
	}
	write(w, 10)
	w.Close()
	checkIndex("made afresh", true)
}

// A position in a file rotation has dropped: After goes on at the start
// of what is left, after a Lost marker unless nothing was lost (the
// position was at the end of the file just before the first one kept).
func TestPagerLostMarker(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	w, err := NewWriter(path, Options{MaxSize: 600, MaxFile: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	i := 0
	writeUntil := func(cond func(x *rotIndex) bool) {
		t.Helper()
		for x := readIndex(path); !cond(x); x = readIndex(path) {
			w.Write("stdout", t0, numberedLine(i))
			w.Flush()
			i++
			if i > 10000 {
				t.Fatal("no rotation")
			}
		}
	}
	writeUntil(func(x *rotIndex) bool { return x.newest().seq == 2 })
	p := openPager(t, path)
	ctx := context.Background()
	all, err := p.After(ctx, p.Start(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	var endOf1, mid1 Pos
	for k, l := range all {
		if l.Pos.file == 1 && l.Next.file == 1 {
			endOf1 = l.Next
			if k == 2 {
				mid1 = l.Next
			}
		}
	}
	if endOf1.file != 1 || mid1.file != 1 || mid1 == endOf1 {
		t.Fatalf("positions in the first file: %v %v", endOf1, mid1)
	}
	// One rotation on: file 1 is gone, file 2 kept.
	writeUntil(func(x *rotIndex) bool { return x.files[0].seq == 2 })
	if _, err := p.Refresh(); err != nil {
		t.Fatal(err)
	}
	want := refLines(t, path)
	ls, err := p.After(ctx, endOf1, 2)
	if err != nil || len(ls) != 2 || ls[0].Lost || string(ls[0].Text) != want[0].text {
		t.Fatalf("after the end of a dropped file whose successor is kept: %s %v, want %q first", showLines(ls), err, want[0].text)
	}
	ls, err = p.After(ctx, mid1, 2)
	if err != nil || len(ls) != 2 || !ls[0].Lost || ls[1].Lost || string(ls[1].Text) != want[0].text || ls[0].Next != ls[1].Pos {
		t.Fatalf("after the middle of a dropped file: %s %v, want a marker then %q", showLines(ls), err, want[0].text)
	}
	// Two more: file 2 is gone too, so the end of file 1 lost it.
	writeUntil(func(x *rotIndex) bool { return x.files[0].seq == 4 })
	if _, err := p.Refresh(); err != nil {
		t.Fatal(err)
	}
	ls, err = p.After(ctx, endOf1, 1)
	if err != nil || len(ls) != 1 || !ls[0].Lost {
		t.Fatalf("after the end of a dropped file whose successor is dropped: %s %v, want a marker", showLines(ls), err)
	}
	// The zero Pos is the start, never a loss.
	if ls, err := p.After(ctx, Pos{}, 1); err != nil || len(ls) != 1 || ls[0].Lost {
		t.Fatalf("After(Pos{}): %s %v", showLines(ls), err)
	}
}
