package e2e

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestStdin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	out, stderr, code := e.runWith(runOpts{stdin: strings.NewReader("data\nmore data\n")}, "run", "-i", "--rm", "busybox", "cat")
	if code != 0 || out != "data\nmore data\n" {
		t.Errorf("run -i cat with stdin: exit %d, %q (%s), want the input back", code, out, stderr)
	}
	big := strings.Repeat("0123456789abcdef", 64<<10) // 1 MiB, more than any pipe buffer
	out, _, code = e.runWith(runOpts{stdin: strings.NewReader(big)}, "run", "-i", "--rm", "busybox", "wc", "-c")
	if code != 0 || strings.TrimSpace(out) != "1048576" {
		t.Errorf("run -i wc -c with 1 MiB: exit %d, %q", code, out)
	}

	// Without -i the container's stdin is empty, and berth leaves ours
	// alone: the data is still in the pipe afterwards, and cat ends
	// although the pipe is never closed.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if _, err := w.WriteString("unread\n"); err != nil {
		t.Fatal(err)
	}
	out, stderr, code = e.runWith(runOpts{stdin: r, timeout: 20 * time.Second}, "run", "--rm", "busybox", "cat")
	if code != 0 || out != "" {
		t.Errorf("run cat without -i: exit %d, stdout %q, stderr %q; want nothing", code, out, stderr)
	}
	r.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 64)
	n, err := r.Read(buf)
	if err != nil || string(buf[:n]) != "unread\n" {
		t.Errorf("run without -i read our stdin: left %q (%v), want \"unread\\n\"", buf[:n], err)
	}
	// run -d never reads stdin either, even with -i.
	e.runWith(runOpts{stdin: r}, "run", "-d", "-i", "--name", "di", "busybox", "cat")
	if _, err := w.WriteString("still\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	r.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, err = r.Read(buf)
	if err != nil || string(buf[:n]) != "still\n" {
		t.Errorf("run -d -i read our stdin: left %q (%v)", buf[:n], err)
	}
	if got := e.inspect("{{.State.Running}}", "di"); got != "true" {
		t.Errorf("run -d -i cat: the container is not running (its stdin must stay open)")
	}
}

func TestSignalProxy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := e.command(ctx, "run", "--rm", "busybox", "sh", "-c", `trap "echo got; exit 5" TERM; echo ready; while :; do sleep 0.1; done`)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(stdout)
	if l, err := r.ReadString('\n'); l != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("foreground run printed %q (%v), want ready; stderr %s", l, err, stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	rest, _ := readAllTimeout(r, 15*time.Second)
	err = cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("berth run did not exit after SIGTERM")
	}
	var ee *exec.ExitError
	code := 0
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			t.Fatalf("berth run died of %v instead of passing SIGTERM to the container", ws.Signal())
		}
		code = ee.ExitCode()
	}
	if code != 5 || rest != "got\n" {
		t.Errorf("after SIGTERM: exit %d, output %q (stderr %q); want 5 and got", code, rest, stderr.String())
	}
	if out := e.ok("ps", "-a", "-q"); out != "" {
		t.Errorf("run --rm left %q", out)
	}
}

// readAllTimeout reads r to its end, giving up after d.
func readAllTimeout(r *bufio.Reader, d time.Duration) (string, error) {
	type res struct {
		s   string
		err error
	}
	ch := make(chan res, 1)
	go func() {
		b, err := io.ReadAll(r)
		ch <- res{string(b), err}
	}()
	select {
	case x := <-ch:
		return x.s, x.err
	case <-time.After(d):
		return "", errors.New("timeout")
	}
}
