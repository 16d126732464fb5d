package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestConcurrentCreateRemove: ten workers, each running berth create and
// berth rm ten times, at the same time on one state root.
func TestConcurrentCreateRemove(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const workers, each = 10, 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	var problems []string
	report := func(format string, args ...any) {
		mu.Lock()
		problems = append(problems, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	run := func(args ...string) (string, string, int) {
		ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
		defer cancel()
		cmd := e.command(ctx, args...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if err != nil {
			code = -1
			if cmd.ProcessState != nil {
				code = cmd.ProcessState.ExitCode()
			}
		}
		return out.String(), errb.String(), code
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				name := fmt.Sprintf("w%d-c%d", w, i)
				out, stderr, code := run("create", "--name", name, "busybox", "true")
				if code != 0 || stderr != "" || !fullID.MatchString(strings.TrimSpace(out)) {
					report("create --name %s: exit %d, stdout %q, stderr %q", name, code, out, stderr)
					continue
				}
				out, stderr, code = run("rm", name)
				if code != 0 || stderr != "" || out != name+"\n" {
					report("rm %s: exit %d, stdout %q, stderr %q", name, code, out, stderr)
				}
			}
		}()
	}
	wg.Wait()
	for _, p := range problems {
		t.Error(p)
	}
	if out := e.ok("ps", "-a", "-q"); out != "" {
		t.Errorf("after every create was removed, ps -a lists:\n%s", out)
	}
	ents, err := os.ReadDir(filepath.Join(e.root, "containers"))
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range ents {
		n := ent.Name()
		if n == ".lock" {
			continue
		}
		t.Errorf("left in %s/containers: %s", e.root, n)
	}
}

// bigTar writes the busybox rootfs followed by files of pseudo-random
// content (the same for the same seed) until about size bytes.
func bigTar(w io.Writer, size int64, seed uint64) error {
	tw := tar.NewWriter(w)
	tr := tar.NewReader(bytes.NewReader(busyboxTar))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "data/", Mode: 0o755, ModTime: time.Unix(1700000000, 0)}); err != nil {
		return err
	}
	rng := rand.NewChaCha8([32]byte{byte(seed)})
	const fileSize = 25 << 20
	for i := 0; int64(i)*fileSize < size; i++ {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("data/blob-%02d", i), Mode: 0o644, Size: fileSize, ModTime: time.Unix(1700000000, 0)}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.CopyN(tw, rng, fileSize); err != nil {
			return err
		}
	}
	return tw.Close()
}

// countingWriter counts what passes and calls at once, when n bytes have.
type countingWriter struct {
	w    io.Writer
	n    int64
	at   int64
	once sync.Once
	fn   func()
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if c.n >= c.at {
		c.once.Do(c.fn)
	}
	return n, err
}

// TestImportKilled: berth import killed with SIGKILL halfway through a
// 200 MB archive leaves the store consistent and usable.
func TestImportKilled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const size = 200 << 20
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := e.command(ctx, "import", "-c", `CMD ["sh"]`, "-", "big")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	cw := &countingWriter{w: stdin, at: size / 2, fn: func() {
		killed = true
		cmd.Process.Signal(syscall.SIGKILL)
	}}
	werr := bigTar(cw, size, 1)
	stdin.Close()
	err = cmd.Wait()
	if !killed {
		t.Fatalf("the import ended before half the archive was sent (%d bytes): %v %s", cw.n, err, stderr.String())
	}
	if werr == nil {
		t.Logf("note: the whole archive went into the pipe before the kill took effect")
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the import was not killed by SIGKILL: %v (%s)", err, stderr.String())
	}

	if out := e.ok("images", "--format", "{{.Repository}}"); strings.Contains(out, "big") {
		t.Errorf("images lists the killed import:\n%s", out)
	}
	if got := lines(e.ok("images", "-a", "-q")); len(got) != 1 {
		t.Errorf("images -a -q after the killed import: %v, want only busybox", got)
	}
	e.importBusybox("bb2")
	if out := e.ok("run", "--rm", "bb2", "echo", "bb2-ok"); out != "bb2-ok\n" {
		t.Errorf("run of an image imported after the kill: %q", out)
	}

	// The same import, complete this time.
	cmd = e.command(ctx, "import", "-c", `CMD ["sh"]`, "-", "big")
	stdin, err = cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	stderr.Reset()
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	werr = bigTar(stdin, size, 1)
	stdin.Close()
	if err := cmd.Wait(); err != nil || werr != nil {
		t.Fatalf("second import of the big archive: %v (write: %v): %s", err, werr, stderr.String())
	}
	if !strings.HasPrefix(stdout.String(), "sha256:") {
		t.Errorf("import printed %q", stdout.String())
	}
	out := e.ok("run", "--rm", "big", "sh", "-c", "ls /data | wc -l; wc -c < /data/blob-03")
	if f := strings.Fields(out); len(f) != 2 || f[0] != "8" || f[1] != fmt.Sprint(25<<20) {
		t.Errorf("in the big image: %q, want 8 files of %d bytes", out, 25<<20)
	}
	e.ok("rmi", "big")
	// Killed imports must not leak temporary files: after removing the
	// big image, no file of 25 MB may remain in the root.
	var left []string
	filepath.Walk(e.root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && fi.Size() >= 25<<20 {
			left = append(left, fmt.Sprintf("%s (%d bytes)", p, fi.Size()))
		}
		return nil
	})
	if len(left) > 0 {
		t.Errorf("after rmi big, large files remain in the state root (a killed import's leftovers?):\n  %s", strings.Join(left, "\n  "))
	}
}
