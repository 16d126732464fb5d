package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"berth/internal/testimage"
)

var (
	// berthBin is the berth binary built once for the whole run.
	berthBin string
	// busyboxTar is the busybox rootfs tarball, built once.
	busyboxTar []byte
	// busyboxTarPath is the same tarball as a file.
	busyboxTarPath string
)

// cmdTimeout bounds every berth command a test runs, so that a hang fails
// the test instead of blocking the suite.
const cmdTimeout = 60 * time.Second

func TestMain(m *testing.M) {
	if os.Getenv(blockedExecEnv) != "" {
		execBlocked() // does not return
	}
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "e2e: FAIL: these tests must run as root (real namespaces, mounts and ptys): sudo scripts/test, or go test as root")
		return 1
	}
	if out, err := exec.Command(testimage.BusyboxPath, "--list-full").Output(); err != nil || len(out) == 0 {
		fmt.Fprintf(os.Stderr, "e2e: FAIL: %s is missing or is not busybox-static (%v): apt-get install busybox-static, or run scripts/test\n", testimage.BusyboxPath, err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "berth-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: FAIL:", err)
		return 1
	}
	defer os.RemoveAll(tmp)

	modRoot, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: FAIL: find the module root:", err)
		return 1
	}
	berthBin = filepath.Join(tmp, "berth")
	build := exec.Command("go", "build", "-o", berthBin, "berth")
	build.Dir = modRoot
	build.Env = append(os.Environ(), "CGO_ENABLED=0") // as shipped: static
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: FAIL: go build berth: %v\n%s", err, out)
		return 1
	}

	var buf bytes.Buffer
	if err := testimage.WriteBusyboxTar(&buf); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: FAIL: build the busybox rootfs:", err)
		return 1
	}
	busyboxTar = buf.Bytes()
	busyboxTarPath = filepath.Join(tmp, "busybox.tar")
	if err := os.WriteFile(busyboxTarPath, busyboxTar, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: FAIL:", err)
		return 1
	}
	return m.Run()
}

// moduleRoot finds the directory of berth's go.mod: from `go env GOMOD`,
// else the parent of this package's directory.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err == nil {
		if mod := strings.TrimSpace(string(out)); mod != "" && mod != os.DevNull {
			return filepath.Dir(mod), nil
		}
	}
	abs, err := filepath.Abs("..")
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(abs, "go.mod")); err != nil {
		return "", err
	}
	return abs, nil
}

// env is one test's berth state root.
type env struct {
	t    testing.TB
	root string
}

// newEnv makes a fresh state root with busybox:latest imported, and
// registers the clean-up that removes every container and then fails the
// test if a mount or process of the root is left behind.
func newEnv(t testing.TB) *env {
	t.Helper()
	e := newBareEnv(t)
	e.importBusybox("busybox")
	return e
}

// newBareEnv is newEnv without the busybox image.
func newBareEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, root: t.TempDir()}
	t.Cleanup(e.cleanup)
	return e
}

// importBusybox imports the busybox rootfs as ref, with CMD ["sh"].
func (e *env) importBusybox(ref string) string {
	e.t.Helper()
	out, stderr, code := e.runWith(runOpts{stdin: bytes.NewReader(busyboxTar)}, "import", "-c", `CMD ["sh"]`, "-", ref)
	if code != 0 {
		e.t.Fatalf("import busybox as %s: exit %d\nstdout: %s\nstderr: %s", ref, code, clip(out), clip(stderr))
	}
	return strings.TrimSpace(out)
}

// runOpts tune one berth command.
type runOpts struct {
	stdin   io.Reader
	env     []string // added to this process's environment
	timeout time.Duration
	bin     string     // the berth binary; berthBin when empty
	extra   []*os.File // inherited as fd 3, 4, ...
}

// command returns an exec.Cmd for berth with this env's root.
func (e *env) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, berthBin, append([]string{"--root", e.root}, args...)...)
	cmd.Env = append(os.Environ(), "BERTH_ROOT=")
	return cmd
}

// run runs berth with args and returns its streams and exit code.
func (e *env) run(args ...string) (stdout, stderr string, code int) {
	e.t.Helper()
	return e.runWith(runOpts{}, args...)
}

func (e *env) runWith(o runOpts, args ...string) (stdout, stderr string, code int) {
	e.t.Helper()
	timeout := o.timeout
	if timeout == 0 {
		timeout = cmdTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := e.command(ctx, args...)
	if o.bin != "" {
		cmd.Path, cmd.Args[0] = o.bin, o.bin
	}
	cmd.ExtraFiles = o.extra
	cmd.Env = append(cmd.Env, o.env...)
	cmd.Stdin = o.stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	// A background process (a monitor) that kept our pipes open would
	// block Wait forever: give up on the pipes a while after exit.
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	stdout, stderr = out.String(), errb.String()
	switch {
	case ctx.Err() != nil:
		e.t.Fatalf("berth %s: no exit after %v (killed)\nstdout: %s\nstderr: %s", strings.Join(args, " "), timeout, clip(stdout), clip(stderr))
	case errors.Is(err, exec.ErrWaitDelay):
		e.t.Errorf("berth %s: exited, but a process it left behind still holds its stdout/stderr", strings.Join(args, " "))
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return stdout, stderr, 0
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			e.t.Fatalf("berth %s: killed by %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), ws.Signal(), clip(stdout), clip(stderr))
		}
		return stdout, stderr, ee.ExitCode()
	case errors.Is(err, exec.ErrWaitDelay):
		return stdout, stderr, cmd.ProcessState.ExitCode()
	}
	e.t.Fatalf("berth %s: %v", strings.Join(args, " "), err)
	return "", "", -1
}

// ok runs berth and fails the test unless it exits 0; it returns stdout.
func (e *env) ok(args ...string) string {
	e.t.Helper()
	out, stderr, code := e.run(args...)
	if code != 0 {
		e.t.Fatalf("berth %s: exit %d, want 0\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, clip(out), clip(stderr))
	}
	return out
}

// fails runs berth and fails the test unless it exits with code; it
// returns both streams.
func (e *env) fails(code int, args ...string) (stdout, stderr string) {
	e.t.Helper()
	out, errOut, got := e.run(args...)
	if got != code {
		e.t.Fatalf("berth %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), got, code, clip(out), clip(errOut))
	}
	return out, errOut
}

// failsAny runs berth and fails the test if it exits 0.
func (e *env) failsAny(args ...string) (stdout, stderr string, code int) {
	e.t.Helper()
	out, errOut, got := e.run(args...)
	if got == 0 {
		e.t.Fatalf("berth %s: exit 0, want a failure\nstdout: %s\nstderr: %s", strings.Join(args, " "), clip(out), clip(errOut))
	}
	return out, errOut, got
}

// runD runs a detached container and returns its full ID.
func (e *env) runD(args ...string) string {
	e.t.Helper()
	out := e.ok(append([]string{"run", "-d"}, args...)...)
	id := strings.TrimSpace(out)
	if !fullID.MatchString(id) {
		e.t.Fatalf("run -d %s printed %q, want a 64-hex ID", strings.Join(args, " "), out)
	}
	return id
}

// inspect returns a container's (or image's) field through a template.
func (e *env) inspect(format, name string) string {
	e.t.Helper()
	return strings.TrimSpace(e.ok("inspect", "--format", format, name))
}

// waitState waits until inspect's {{.State.Status}} is want.
func (e *env) waitState(name, want string, timeout time.Duration) {
	e.t.Helper()
	var got string
	ok := waitFor(timeout, func() bool {
		got = e.inspect("{{.State.Status}}", name)
		return got == want
	})
	if !ok {
		e.t.Fatalf("container %s: status %q after %v, want %q", name, got, timeout, want)
	}
}

var (
	fullID  = regexp.MustCompile(`^[0-9a-f]{64}$`)
	shortID = regexp.MustCompile(`^[0-9a-f]{12}$`)
)

// waitFor polls cond every 50ms until it holds or timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lines splits output into its non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// cleanup removes every container of the root, then fails the test if a
// mount or a process of the root remains.
func (e *env) cleanup() {
	t := e.t
	if _, err := os.Stat(e.root); err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	run := func(args ...string) (string, string, error) {
		cmd := e.command(ctx, args...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		cmd.WaitDelay = 5 * time.Second
		err := cmd.Run()
		return out.String(), errb.String(), err
	}
	out, stderr, err := run("ps", "-a", "-q", "--no-trunc")
	if err != nil {
		t.Errorf("cleanup: berth ps -aq: %v\n%s", err, stderr)
	}
	if ids := strings.Fields(out); len(ids) > 0 {
		if _, stderr, err := run(append([]string{"rm", "-f"}, ids...)...); err != nil {
			t.Errorf("cleanup: berth rm -f %s: %v\n%s", strings.Join(ids, " "), err, stderr)
		}
	}
	var left []string
	waitFor(10*time.Second, func() bool {
		left = append(leftovers(e.root), leftoverCgroups(e.root)...)
		return len(left) == 0
	})
	if len(left) > 0 {
		t.Errorf("left behind under state root %s after removing every container:\n  %s", e.root, strings.Join(left, "\n  "))
		// Do not leave them for the next tests: kill and unmount.
		for _, l := range left {
			var pid int
			if _, err := fmt.Sscanf(l, "process %d", &pid); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(200 * time.Millisecond)
		for _, l := range left {
			if mp, ok := strings.CutPrefix(l, "mount "); ok {
				_ = syscall.Unmount(strings.Fields(mp)[0], syscall.MNT_DETACH)
			}
		}
	}
}

// mentions reports whether s names path root or something under it.
func mentions(s, root string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], root)
		if j < 0 {
			return false
		}
		end := i + j + len(root)
		if end == len(s) || strings.ContainsRune("/ ,:\n\t\x00", rune(s[end])) {
			return true
		}
		i = end
	}
}

// leftovers lists mounts and processes that still use root: mounts in this
// mount namespace, processes whose command line, cwd or root is under it,
// and processes in another mount namespace that has a mount of it (a
// container's overlay names its upper dir).
func leftovers(root string) []string {
	var out []string
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) > 4 && mentions(l, root) {
				out = append(out, "mount "+f[4]+" ("+l+")")
			}
		}
	}
	self := os.Getpid()
	myNS, _ := os.Readlink("/proc/self/ns/mnt")
	nsChecked := map[string]bool{myNS: true}
	ents, _ := os.ReadDir("/proc")
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pid == self {
			continue
		}
		dir := "/proc/" + ent.Name()
		cmdline, _ := os.ReadFile(dir + "/cmdline")
		args := strings.ReplaceAll(strings.TrimRight(string(cmdline), "\x00"), "\x00", " ")
		why := ""
		if mentions(string(cmdline), root) {
			why = "command line"
		}
		for _, link := range []string{"cwd", "root"} {
			if p, err := os.Readlink(dir + "/" + link); err == nil && mentions(p, root) {
				why = link + " " + p
			}
		}
		if ns, err := os.Readlink(dir + "/ns/mnt"); err == nil && !nsChecked[ns] {
			if b, err := os.ReadFile(dir + "/mountinfo"); err == nil {
				if mentions(string(b), root) {
					why = "mount namespace " + ns + " holds a mount of the root"
				} else {
					nsChecked[ns] = true
				}
			}
		}
		if why != "" {
			out = append(out, fmt.Sprintf("process %d (%s): %s", pid, args, why))
		}
	}
	return out
}

// clip shortens s for a failure message.
func clip(s string) string {
	const max = 600
	if len(s) <= max {
		return s
	}
	return s[:max/2] + fmt.Sprintf(" ...[%d bytes]... ", len(s)-max) + s[len(s)-max/2:]
}

// hostCapBnd is this process's capability bounding set.
func hostCapBnd(t testing.TB) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "CapBnd:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no CapBnd in /proc/self/status")
	return 0
}

// leftoverCgroups lists the cgroups of this root's containers that still
// exist. Every container this root ever had is in its event log.
func leftoverCgroups(root string) []string {
	data, err := os.ReadFile(filepath.Join(root, "events.log"))
	if err != nil {
		return nil
	}
	var left []string
	seen := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		var ev struct {
			Type, Action string
			Actor        struct{ ID string }
		}
		if json.Unmarshal([]byte(line), &ev) != nil || ev.Type != "container" || ev.Action != "create" || seen[ev.Actor.ID] {
			continue
		}
		seen[ev.Actor.ID] = true
		for _, base := range []string{"/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids", "/sys/fs/cgroup"} {
			p := filepath.Join(base, "berth", ev.Actor.ID)
			if _, err := os.Stat(p); err == nil {
				left = append(left, "cgroup "+p)
			}
		}
	}
	return left
}
