package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// lostLine is the marker `logs` prints on stderr where rotation removed
// lines before they were read.
var lostLine = regexp.MustCompile(`^berth: (\d+) lines? lost here: the log rotated before they could be read$`)

// seqFollow is what `logs -f` printed (stdout and stderr on one pipe) of a
// container running seq: the numbers, and the markers with the count of
// numbers before each.
type seqFollow struct {
	nums  []int
	marks map[int]int // len(nums) when it came -> lines it says were lost
	// A line cut by a loss: the one before a marker may have come in part
	// (its end was lost: it counts as lost). The one after may lack its
	// start (its end was kept: it does not), and is taken as the number
	// before the next whole line.
	heads map[int]string
}

func readSeqFollow(t *testing.T, r io.Reader) *seqFollow {
	sf := &seqFollow{marks: map[int]int{}, heads: map[int]string{}}
	sc := bufio.NewScanner(r)
	var text []string
	for sc.Scan() {
		text = append(text, sc.Text())
	}
	for i := 0; i < len(text); i++ {
		l := text[i]
		if m := lostLine.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[1])
			if _, dup := sf.marks[len(sf.nums)]; dup {
				t.Errorf("two markers in a row at %d", len(sf.nums))
			}
			sf.marks[len(sf.nums)] = n
			continue
		}
		k := len(sf.nums)
		if i > 0 && lostLine.MatchString(text[i-1]) && i+1 < len(text) {
			// The end of a line whose start was lost (as little as its
			// '\n': an empty line): it is the line before the next whole one.
			if next, err := strconv.Atoi(text[i+1]); err == nil && next-1 != sf.last() && strings.HasSuffix(strconv.Itoa(next-1), l) {
				sf.nums = append(sf.nums, next-1)
				continue
			}
		}
		n, err := strconv.Atoi(l)
		if err != nil {
			t.Errorf("logs -f printed %q: neither a number nor a marker", l)
			continue
		}
		if k > 0 && n != sf.nums[k-1]+1 && i+1 < len(text) && lostLine.MatchString(text[i+1]) {
			sf.heads[k] = l // the start of a line whose end was lost
			continue
		}
		sf.nums = append(sf.nums, n)
	}
	return sf
}

// last is the number that came last, or 0.
func (sf *seqFollow) last() int {
	if len(sf.nums) == 0 {
		return 0
	}
	return sf.nums[len(sf.nums)-1]
}

// check verifies that 1..last all came, in order, except where a marker
// stands exactly where lines are missing and says how many.
func (sf *seqFollow) check(t *testing.T, last int) {
	t.Helper()
	if len(sf.nums) == 0 || sf.nums[0] != 1 || sf.nums[len(sf.nums)-1] != last {
		t.Fatalf("logs -f printed %d numbers, want 1..%d with gaps only where marked", len(sf.nums), last)
	}
	for at := range sf.marks {
		if at == 0 || at >= len(sf.nums) {
			t.Fatalf("marker at %d of %d numbers", at, len(sf.nums))
		}
	}
	for i := 1; i < len(sf.nums); i++ {
		gap := sf.nums[i] - sf.nums[i-1] - 1
		lost, marked := sf.marks[i]
		switch {
		case gap < 0:
			t.Fatalf("%d came after %d", sf.nums[i], sf.nums[i-1])
		case gap == 0 && marked:
			t.Fatalf("marker (%d lost) between %d and %d, where nothing is missing", lost, sf.nums[i-1], sf.nums[i])
		case gap > 0 && !marked:
			t.Fatalf("%d..%d missing, and nothing said so", sf.nums[i-1]+1, sf.nums[i]-1)
		case gap > 0 && lost == gap+1 && sf.heads[i] == "":
			// The line before the marker came whole but for its '\n',
			// which was lost with what followed: it counts as lost.
		case gap > 0 && lost != gap:
			t.Fatalf("marker says %d lost between %d and %d, want %d", lost, sf.nums[i-1], sf.nums[i], gap)
		}
		if h, ok := sf.heads[i]; ok && (!marked || !strings.HasPrefix(strconv.Itoa(sf.nums[i-1]+1), h)) {
			t.Fatalf("%q after %d is not the start of the line lost next", h, sf.nums[i-1])
		}
	}
}

// startSeq runs a container that prints 1..n once /tmp/go exists, its log
// rotated at 1 MB over three files.
func startSeq(e *env, name string, n int) {
	e.t.Helper()
	e.runD("--name", name, "--log-opt", "max-size=1m", "--log-opt", "max-file=3", "busybox", "sh", "-c",
		fmt.Sprintf("while [ ! -e /tmp/go ]; do sleep 0.05; done; seq 1 %d", n))
}

// followSeq starts `logs -f name` with stdout and stderr on one pipe (so
// that markers keep their place among the lines) and returns the pipe.
func followSeq(t *testing.T, e *env, ctx context.Context, name string) (*os.File, func() error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := e.command(ctx, "logs", "-f", name)
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() { r.Close() })
	return r, cmd.Wait
}

// `logs -f` follows a container that writes 50 MB through a 1 MB x 3
// rotation: every line is accounted for, either printed in order or
// announced as lost exactly where and as many as were lost.
func TestLogsFollowRotation50MB(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 7_000_000 // 55 MB of output
	startSeq(e, "big", n)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r, wait := followSeq(t, e, ctx, "big")
	e.ok("exec", "big", "touch", "/tmp/go")
	sf := readSeqFollow(t, r)
	if err := wait(); err != nil {
		t.Fatalf("logs -f: %v", err)
	}
	if code := strings.TrimSpace(e.ok("wait", "big")); code != "0" {
		t.Fatalf("container exit %s", code)
	}
	sf.check(t, n)
	lost := 0
	for _, k := range sf.marks {
		lost += k
	}
	t.Logf("logs -f: %d lines printed, %d announced lost at %d places", len(sf.nums), lost, len(sf.marks))
}

// A reader that stops draining its output (a consumer that stopped
// reading the pipe) while the container writes past every file it had not
// reached: the loss is announced where it happened, with its exact size,
// and nothing else is missing. Then `logs`, --tail and --since read the
// rotated files right.
func TestLogsFollowLossAnnounced(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 2_000_000 // 15 MB: a dozen rotations
	startSeq(e, "lossy", n)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r, wait := followSeq(t, e, ctx, "lossy")
	e.ok("exec", "lossy", "touch", "/tmp/go")
	// Read the first line, then nothing until the container is done: the
	// pipe fills and logs -f stops in the middle of the first file.
	br := bufio.NewReaderSize(r, 16)
	first, err := br.ReadString('\n')
	if err != nil || first != "1\n" {
		t.Fatalf("first line %q, %v", first, err)
	}
	if code := strings.TrimSpace(e.ok("wait", "lossy")); code != "0" {
		t.Fatalf("container exit %s", code)
	}
	sf := readSeqFollow(t, io.MultiReader(strings.NewReader(first), br))
	if err := wait(); err != nil {
		t.Fatalf("logs -f: %v", err)
	}
	sf.check(t, n)
	if len(sf.marks) == 0 {
		t.Fatal("no loss announced, though the reader stopped for a dozen rotations")
	}

	// Without -f: the files kept, in order, from the first line of the
	// oldest to the last, and no marker.
	dir := filepath.Join(e.root, "containers", e.inspect("{{.Id}}", "lossy"))
	oldest := firstNumber(t, filepath.Join(dir, "json.log.2"))
	out, stderr, code := e.run("logs", "lossy")
	if code != 0 || stderr != "" {
		t.Fatalf("logs: exit %d, stderr %q", code, stderr)
	}
	checkRange(t, "logs", out, oldest, n)
	out = e.ok("logs", "--tail", "1000", "lossy")
	checkRange(t, "logs --tail 1000", out, n-999, n)
	// More lines than the newest file holds: the tail starts in an older one.
	out = e.ok("logs", "--tail", "250000", "lossy")
	checkRange(t, "logs --tail 250000", out, n-249999, n)

	// --since: exactly the lines stamped at or after a time taken from the
	// middle of the oldest file.
	stamped := lines(e.ok("logs", "-t", "lossy"))
	if len(stamped) != n-oldest+1 {
		t.Fatalf("logs -t: %d lines, want %d", len(stamped), n-oldest+1)
	}
	ts, _, _ := strings.Cut(stamped[len(stamped)/8], " ")
	since, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	firstAfter := 0
	for _, l := range stamped {
		ts, num, _ := strings.Cut(l, " ")
		tm, _ := time.Parse(time.RFC3339Nano, ts)
		if !tm.Before(since) {
			if want == 0 {
				firstAfter, _ = strconv.Atoi(num)
			}
			want++
		}
	}
	out = e.ok("logs", "--since", ts, "lossy")
	checkRange(t, "logs --since "+ts, out, firstAfter, n)
	if got := strings.Count(out, "\n"); got != want {
		t.Fatalf("logs --since: %d lines, want %d", got, want)
	}
}

// firstNumber is the first number the log file at path holds.
func firstNumber(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadBytes('\n')
	if err != nil {
		t.Fatal(err)
	}
	var ent struct{ Log string }
	if err := json.Unmarshal(line, &ent); err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.SplitN(ent.Log, "\n", 2)[0])
	if err != nil {
		t.Fatalf("%s starts with %q", path, ent.Log)
	}
	return n
}

// checkRange checks that out is the numbers from..to, one a line.
func checkRange(t *testing.T, what, out string, from, to int) {
	t.Helper()
	next := from
	for l := range bytes.Lines([]byte(out)) {
		n, err := strconv.Atoi(strings.TrimSuffix(string(l), "\n"))
		if err != nil || n != next {
			t.Fatalf("%s: line %q where %d was due (from %d to %d)", what, l, next, from, to)
		}
		next++
	}
	if next != to+1 {
		t.Fatalf("%s: ended before %d (want %d..%d)", what, next, from, to)
	}
}
