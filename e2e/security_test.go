package e2e

// Attacks on the host from inside a container, each reproduced end to end:
// the tests pass when berth stops them. The static helper programs they run
// in containers live in testdata/watcher (the CVE-2019-5736 attacker) and
// testdata/syscalls (raw system calls for the seccomp checks).

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// fileSpec is one entry imageWith adds to the busybox rootfs: a regular
// file (body, mode), a symlink (link) or a directory (dir).
type fileSpec struct {
	mode int64
	body []byte
	link string
	dir  bool
}

func secFile(mode int64, body []byte) fileSpec { return fileSpec{mode: mode, body: body} }
func secLink(target string) fileSpec           { return fileSpec{link: target} }

// imageWith imports, as ref, the busybox rootfs with files added: an entry
// replaces the busybox entry of the same name and everything under it.
// Missing parent directories are created.
func imageWith(t *testing.T, e *env, ref string, files map[string]fileSpec) {
	t.Helper()
	clean := func(name string) string { return strings.Trim(path.Clean("/"+name), "/") }
	replaced := func(name string) bool {
		for k := range files {
			k = clean(k)
			if name == k || strings.HasPrefix(name, k+"/") {
				return true
			}
		}
		return false
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tr := tar.NewReader(bytes.NewReader(busyboxTar))
	dirs := map[string]bool{"": true}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read the busybox tar: %v", err)
		}
		name := clean(h.Name)
		if replaced(name) {
			continue
		}
		if h.Typeflag == tar.TypeDir {
			dirs[name] = true
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			t.Fatal(err)
		}
	}
	names := make([]string, 0, len(files))
	for k := range files {
		names = append(names, k)
	}
	sort.Strings(names)
	mtime := time.Unix(1700000000, 0)
	for _, k := range names {
		f, name := files[k], clean(k)
		for _, d := range parents(name) {
			if !dirs[d] {
				dirs[d] = true
				if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: mtime}); err != nil {
					t.Fatal(err)
				}
			}
		}
		h := &tar.Header{Name: name, Mode: f.mode, ModTime: mtime}
		switch {
		case f.link != "":
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, f.link, 0o777
		case f.dir:
			h.Typeflag, h.Name = tar.TypeDir, name+"/"
			dirs[name] = true
			if h.Mode == 0 {
				h.Mode = 0o755
			}
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.body))
			if h.Mode == 0 {
				h.Mode = 0o644
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(f.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := e.runWith(runOpts{stdin: bytes.NewReader(buf.Bytes())}, "import", "-c", `CMD ["sh"]`, "-", ref)
	if code != 0 {
		t.Fatalf("import %s: exit %d\nstdout: %s\nstderr: %s", ref, code, clip(out), clip(stderr))
	}
}

// parents lists the directories above a slash-separated relative name,
// outermost first.
func parents(name string) []string {
	var out []string
	for i := 0; i < len(name); i++ {
		if name[i] == '/' {
			out = append(out, name[:i])
		}
	}
	return out
}

// testProgram builds testdata/<name> into a static binary, once per test
// binary, and returns its content. It lands next to berthBin, in the
// directory TestMain removes.
func testProgram(t *testing.T, name string) []byte {
	t.Helper()
	progMu.Lock()
	r := progs[name]
	if r == nil {
		r = &progBuild{}
		progs[name] = r
	}
	progMu.Unlock()
	r.once.Do(func() {
		out := filepath.Join(filepath.Dir(berthBin), "testprog-"+name)
		cmd := exec.Command("go", "build", "-o", out, "./testdata/"+name)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			r.err = fmt.Errorf("go build ./testdata/%s: %v\n%s", name, err, b)
			return
		}
		r.bin, r.err = os.ReadFile(out)
	})
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.bin
}

type progBuild struct {
	once sync.Once
	bin  []byte
	err  error
}

var (
	progMu sync.Mutex
	progs  = map[string]*progBuild{}
)

// berthCopy copies the berth binary to a new path, as a second install (an
// upgrade) would have it, and returns the path.
func berthCopy(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(berthBin)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "berth-copy")
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func fileSHA(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// binaryGuard records the sha256 of berth binaries and checks later that
// none changed.
type binaryGuard map[string]string

func guardBinaries(t *testing.T, paths ...string) binaryGuard {
	g := binaryGuard{}
	for _, p := range paths {
		g[p] = fileSHA(t, p)
	}
	return g
}

func (g binaryGuard) check(t *testing.T, when string) {
	t.Helper()
	for p, before := range g {
		if now := fileSHA(t, p); now != before {
			t.Errorf("%s: the host's berth binary %s was modified from inside a container (sha256 %s -> %s)", when, p, before[:12], now[:12])
		}
	}
}

// watcher is testdata/watcher running as the first process of a container,
// attached through `berth run -i`: closing its stdin stops it.
type watcher struct {
	t     *testing.T
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}

	mu  sync.Mutex
	out bytes.Buffer
}

func (w *watcher) output() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.String()
}

func (w *watcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.Write(p)
}

// startWatcher runs the watcher in image img (which has it at /watcher)
// with the test's berth binary, and waits until it polls. The watcher's
// own container must not be run by a binary under test: its monitor would
// keep that binary busy (ETXTBSY) and hide the attack.
func startWatcher(t *testing.T, e *env, name, img string, runArgs ...string) *watcher {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	args := append([]string{"run", "-i", "--rm", "--name", name}, runArgs...)
	args = append(args, img, "/watcher", "-stdin", "-limit", "150s")
	cmd := e.command(ctx, args...)
	w := &watcher{t: t, name: name, cmd: cmd, done: make(chan struct{})}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	w.stdin = stdin
	cmd.Stdout, cmd.Stderr = w, w
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = cmd.Wait()
		cancel()
		close(w.done)
	}()
	t.Cleanup(func() {
		w.stdin.Close()
		select {
		case <-w.done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-w.done
		}
	})
	ready := waitFor(30*time.Second, func() bool {
		select {
		case <-w.done:
			return true
		default:
		}
		return strings.Contains(w.output(), "READY\n")
	})
	if !ready || !strings.Contains(w.output(), "READY\n") {
		t.Fatalf("the watcher did not start: %q", clip(w.output()))
	}
	return w
}

var watcherSummary = regexp.MustCompile(`attempts=(\d+) opened=(\d+) wrote=(\d+) scans=(\d+) hits=(\d+) errors=(\S*)`)

// stop closes the watcher's stdin, waits for its summary and returns the
// number of foreign binaries it held (opened) and wrote to (wrote).
func (w *watcher) stop() (opened, wrote int, out string) {
	w.t.Helper()
	w.stdin.Close()
	select {
	case <-w.done:
	case <-time.After(60 * time.Second):
		w.t.Fatalf("the watcher did not stop within 60s of its stdin closing: %q", clip(w.output()))
	}
	out = w.output()
	m := watcherSummary.FindStringSubmatch(out)
	if m == nil {
		w.t.Fatalf("the watcher printed no summary: %q", clip(out))
	}
	opened, _ = strconv.Atoi(m[2])
	wrote, _ = strconv.Atoi(m[3])
	if n := strings.Count(out, "\nWROTE "); n > wrote {
		wrote = n
	}
	return opened, wrote, out
}

// TestSecurityBinaryOverwrite is CVE-2019-5736's method against berth
// exec: a process of the container holds /proc/PID/exe of every berth
// process that shows up in the container's PID namespace (between fork and
// execve, an exec'd process is still berth) and writes to it once it has
// exited. The attacker has CAP_SYS_PTRACE (--cap-add SYS_PTRACE), without
// which it cannot open the exe of a process with more capabilities.
func TestSecurityBinaryOverwrite(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	imageWith(t, e, "watcher", map[string]fileSpec{"watcher": secFile(0o755, testProgram(t, "watcher"))})
	cp := berthCopy(t)
	guard := guardBinaries(t, berthBin, cp)

	w := startWatcher(t, e, "overwrite-watcher", "watcher", "--cap-add", "SYS_PTRACE")
	for i := 0; i < 300; i++ {
		if _, stderr, code := e.runWith(runOpts{bin: cp}, "exec", w.name, "true"); code != 0 {
			t.Fatalf("exec #%d with the copy: exit %d: %s", i, code, stderr)
		}
	}
	// Containers run by the copy: their init is the copy until it executes
	// the command. The watcher cannot see those (another PID namespace):
	// they are here so that the copy's checksum covers run's path too.
	for i := 0; i < 10; i++ {
		if _, stderr, code := e.runWith(runOpts{bin: cp}, "run", "--rm", "busybox", "true"); code != 0 {
			t.Fatalf("run #%d with the copy: exit %d: %s", i, code, stderr)
		}
	}
	opened, wrote, out := w.stop()
	t.Logf("watcher: %s", lastLine(out))
	if wrote != 0 {
		t.Errorf("a container process wrote to a berth binary through /proc/PID/exe of an exec'd process (%d times):\n%s", wrote, clip(wroteReport(out)))
	}
	if opened == 0 {
		t.Errorf("the watcher never held the binary of an exec'd process: the test proves nothing (%s)", lastLine(out))
	}
	guard.check(t, "after 300 execs with a watcher in the container")
}

// TestSecurityProcSelfExe: a script whose interpreter is #!/proc/self/exe
// makes the process executing it run whatever binary it was running before
// execve: berth's, when berth starts it. Another process of the container
// must still not be able to write to that binary.
func TestSecurityProcSelfExe(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	variants := map[string]string{
		"/evil":         "#!/proc/self/exe\n",
		"/evil-init":    "#!/proc/self/exe init\n",
		"/evil-monitor": "#!/proc/self/exe monitor\n",
	}
	files := map[string]fileSpec{"watcher": secFile(0o755, testProgram(t, "watcher"))}
	for p, body := range variants {
		files[p] = secFile(0o755, []byte(body))
	}
	imageWith(t, e, "evil", files)
	cp := berthCopy(t)
	guard := guardBinaries(t, berthBin, cp)
	names := make([]string, 0, len(variants))
	for p := range variants {
		names = append(names, p)
	}
	sort.Strings(names)

	// As the container's first process: it may fail, it must not hang.
	for _, p := range names {
		_, stderr, code := e.runWith(runOpts{bin: cp, timeout: 30 * time.Second}, "run", "--rm", "--entrypoint", p, "evil")
		t.Logf("run --entrypoint %s: exit %d %s", p, code, strings.TrimSpace(clip(stderr)))
	}
	guard.check(t, "after running #!/proc/self/exe entrypoints")

	// As an exec'd process, with an attacker waiting in the container (no
	// extra capability).
	w := startWatcher(t, e, "selfexe-watcher", "evil")
	for i := 0; i < 5; i++ {
		for _, p := range names {
			_, stderr, code := e.runWith(runOpts{bin: cp, timeout: 30 * time.Second}, "exec", w.name, p)
			if i == 0 {
				t.Logf("exec %s: exit %d %s", p, code, strings.TrimSpace(clip(stderr)))
			}
		}
	}
	opened, wrote, out := w.stop()
	t.Logf("watcher: %s", lastLine(out))
	if wrote != 0 {
		t.Errorf("a container process wrote to the berth binary that a #!/proc/self/exe script ran (held %d, wrote %d):\n%s", opened, wrote, clip(wroteReport(out)))
	}
	guard.check(t, "after exec of #!/proc/self/exe scripts with a watcher in the container")
}

// TestSecurityHostileImageSymlinks: an image's /dev, /proc, /sys, /dev/pts
// and /etc files are symlinks to host paths; berth resolves them inside the
// container or refuses, and never touches the host path.
func TestSecurityHostileImageSymlinks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const hostContent = "host file content, not the container's\n"
	up := strings.Repeat("../", 12)
	rel := func(p string) string { return up + strings.TrimPrefix(p, "/") }
	cases := []struct {
		name, entry string
		toFile      bool // the link names the host file, else the host directory
		relative    bool
	}{
		{"dev", "dev", false, false},
		{"proc", "proc", false, false},
		{"sys", "sys", false, false},
		{"dev-pts", "dev/pts", false, false},
		{"dev-relative", "dev", false, true},
		{"hosts", "etc/hosts", true, false},
		{"hostname", "etc/hostname", true, false},
		{"resolv", "etc/resolv.conf", true, false},
		{"hosts-relative", "etc/hosts", true, true},
		{"hostname-relative", "etc/hostname", true, true},
	}
	for _, c := range cases {
		// Host paths of this case only: a failure names the case that did it.
		hostDir := t.TempDir()
		if err := os.WriteFile(filepath.Join(hostDir, "keep"), []byte("sentinel\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		hostFile := filepath.Join(t.TempDir(), "hostfile")
		if err := os.WriteFile(hostFile, []byte(hostContent), 0o644); err != nil {
			t.Fatal(err)
		}
		target := hostDir
		if c.toFile {
			target = hostFile
		}
		if c.relative {
			target = rel(target)
		}
		img := "sym-" + c.name
		imageWith(t, e, img, map[string]fileSpec{c.entry: secLink(target)})
		for _, args := range [][]string{{"run", "--rm", img, "true"}, {"run", "--rm", "-t", img, "true"}} {
			what := fmt.Sprintf("image with /%s -> %s, berth %s", c.entry, target, strings.Join(args, " "))
			_, stderr, code := e.run(args...)
			if code != 0 && code != 125 {
				t.Errorf("%s: exit %d, want 0 or a clear refusal (125): %s", what, code, clip(stderr))
			}
			if code == 125 && strings.TrimSpace(stderr) == "" {
				t.Errorf("%s: refused with no message", what)
			}
			ents, err := os.ReadDir(hostDir)
			if err != nil {
				t.Fatalf("%s: the host directory: %v", what, err)
			}
			var names []string
			for _, ent := range ents {
				names = append(names, ent.Name())
			}
			if len(names) != 1 || names[0] != "keep" {
				t.Errorf("%s: the host directory %s now holds %v, want only keep", what, hostDir, names)
			}
			if b, err := os.ReadFile(filepath.Join(hostDir, "keep")); err != nil || string(b) != "sentinel\n" {
				t.Errorf("%s: the sentinel in the host directory: %q, %v", what, b, err)
			}
			if b, err := os.ReadFile(hostFile); err != nil || string(b) != hostContent {
				t.Errorf("%s: the host file %s: %q, %v; want it unchanged", what, hostFile, b, err)
			}
			if mi, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
				for _, l := range strings.Split(string(mi), "\n") {
					if mentions(l, hostDir) || mentions(l, hostFile) {
						t.Errorf("%s: a mount on the host path: %s", what, l)
					}
				}
			}
		}
	}
}

// heldFiles opens the descriptors berth is given on top of stdio, as fds
// 3..9: /dev/null up to 6, then a host directory holding a secret (7), the
// secret file itself (8) and the host's root directory (9). It returns
// them, the secret, and the secret file's host path.
func heldFiles(t *testing.T) (files []*os.File, secret, secretPath string) {
	t.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	secret = "berth-e2e-host-secret-" + hex.EncodeToString(b[:])
	dir := t.TempDir()
	secretPath = filepath.Join(dir, "host-secret")
	if err := os.WriteFile(secretPath, []byte(secret+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	open := func(p string) *os.File {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	for i := 3; i <= 6; i++ {
		files = append(files, open(os.DevNull))
	}
	files = append(files, open(dir), open(secretPath), open("/"))
	return files, secret, secretPath
}

// runPty runs berth on a new terminal with extra descriptors and returns
// what it printed (\r\n made \n) and its exit code.
func runPty(t *testing.T, e *env, extra []*os.File, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := e.command(ctx, args...)
	cmd.Env = append(cmd.Env, "TERM=xterm")
	cmd.ExtraFiles = extra
	master, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		t.Fatalf("start berth %s on a pty: %v", strings.Join(args, " "), err)
	}
	defer master.Close()
	var out bytes.Buffer
	read := make(chan struct{})
	go func() {
		_, _ = io.Copy(&out, master) // ends with EIO once the terminal closes
		close(read)
	}()
	err = cmd.Wait()
	select {
	case <-read:
	case <-time.After(10 * time.Second):
		master.Close()
		<-read
	}
	if ctx.Err() != nil {
		t.Fatalf("berth %s on a pty: no exit after %v: %q", strings.Join(args, " "), cmdTimeout, clip(out.String()))
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("berth %s on a pty: %v", strings.Join(args, " "), err)
	}
	return strings.ReplaceAll(out.String(), "\r\n", "\n"), code
}

// TestSecurityInheritedDescriptors: descriptors berth inherits (a
// directory of the host, the host's root, a file) never reach a container
// process, in run, run -t, run -d, start -a, exec and exec -t.
func TestSecurityInheritedDescriptors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	extra, secret, secretPath := heldFiles(t)
	want := "0 1 2 3" // stdio, and ls's own handle on /proc/self/fd

	fds := func(what, out string) {
		t.Helper()
		if got := strings.Join(strings.Fields(out), " "); got != want {
			t.Errorf("%s: the container process has descriptors %q, want %q: berth's own descriptors leak into containers", what, got, want)
		}
	}
	out, stderr, code := e.runWith(runOpts{extra: extra}, "run", "--rm", "busybox", "ls", "/proc/self/fd")
	if code != 0 {
		t.Fatalf("run ls /proc/self/fd: exit %d: %s", code, stderr)
	}
	fds("run", out)

	ptyOut, code := runPty(t, e, extra, "run", "--rm", "-t", "busybox", "ls", "/proc/self/fd")
	if code != 0 {
		t.Errorf("run -t ls /proc/self/fd: exit %d: %q", code, ptyOut)
	}
	fds("run -t", ptyOut)

	// Through the host's root (fd 9) and the directory (fd 7) to the
	// secret; the file itself (fd 8).
	for _, p := range []string{"/proc/self/fd/9" + secretPath, "/proc/self/fd/7/host-secret", "/proc/self/fd/8"} {
		out, _, code := e.runWith(runOpts{extra: extra}, "run", "--rm", "busybox", "cat", p)
		if code == 0 || strings.Contains(out, secret) {
			t.Errorf("run cat %s: exit %d, %q: a container read a host file through a descriptor berth inherited", p, code, clip(out))
		}
	}

	// run -d: the container outlives the command that passed the fds.
	if _, stderr, code := e.runWith(runOpts{extra: extra}, "run", "-d", "--name", "fd-detached", "busybox", "ls", "/proc/self/fd"); code != 0 {
		t.Fatalf("run -d: exit %d: %s", code, stderr)
	}
	e.ok("wait", "fd-detached")
	fds("run -d (logs)", e.ok("logs", "fd-detached"))

	e.ok("create", "--name", "fd-start", "busybox", "ls", "/proc/self/fd")
	out, stderr, code = e.runWith(runOpts{extra: extra}, "start", "-a", "fd-start")
	if code != 0 {
		t.Fatalf("start -a: exit %d: %s", code, stderr)
	}
	fds("start -a", out)

	e.runD("--name", "fd-exec", "busybox", "sleep", "1000")
	out, stderr, code = e.runWith(runOpts{extra: extra}, "exec", "fd-exec", "ls", "/proc/self/fd")
	if code != 0 {
		t.Fatalf("exec ls /proc/self/fd: exit %d: %s", code, stderr)
	}
	fds("exec", out)
	ptyOut, code = runPty(t, e, extra, "exec", "-t", "fd-exec", "ls", "/proc/self/fd")
	if code != 0 {
		t.Errorf("exec -t ls /proc/self/fd: exit %d: %q", code, ptyOut)
	}
	fds("exec -t", ptyOut)
	out, _, code = e.runWith(runOpts{extra: extra}, "exec", "fd-exec", "cat", "/proc/self/fd/9"+secretPath)
	if code == 0 || strings.Contains(out, secret) {
		t.Errorf("exec cat /proc/self/fd/9%s: exit %d, %q: read a host file through an inherited descriptor", secretPath, code, clip(out))
	}
}

// TestSecurityWorkdirDescriptor is CVE-2024-21626: a working directory of
// /proc/self/fd/N makes the process start in whatever directory berth's own
// descriptor N was (an inherited one, a cgroup directory, ...), outside the
// container's root. berth must refuse it and never let the process reach
// the host.
func TestSecurityWorkdirDescriptor(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	extra, secret, secretPath := heldFiles(t)
	// From any directory of the host, enough .. lead to the host's root;
	// inside the container they stop at its root.
	probe := []string{"cat", "host-secret", strings.Repeat("../", 16) + strings.TrimPrefix(secretPath, "/")}

	for _, n := range []int{9, 7} {
		out, stderr, code := e.runWith(runOpts{extra: extra}, "run", "--rm", "-w", "/proc/self/fd/"+strconv.Itoa(n), "busybox", "pwd")
		if code == 0 || strings.Contains(out, "unreachable") || strings.HasPrefix(out, "/") {
			t.Errorf("run -w /proc/self/fd/%d pwd: exit %d, stdout %q, stderr %q; want a refusal", n, code, out, strings.TrimSpace(stderr))
		}
	}
	for n := 3; n <= 12; n++ {
		w := "/proc/self/fd/" + strconv.Itoa(n)
		out, stderr, code := e.runWith(runOpts{extra: extra}, append([]string{"run", "--rm", "-w", w, "busybox"}, probe...)...)
		if code == 0 || strings.Contains(out, secret) {
			t.Errorf("run -w %s cat ...: exit %d, stdout %q, stderr %q: the process started outside the container's root", w, code, clip(out), clip(strings.TrimSpace(stderr)))
		}
	}

	e.runD("--name", "wd-exec", "busybox", "sleep", "1000")
	out, stderr, code := e.runWith(runOpts{extra: extra}, "exec", "-w", "/proc/self/fd/9", "wd-exec", "pwd")
	if code == 0 || strings.Contains(out, "unreachable") || strings.HasPrefix(out, "/") {
		t.Errorf("exec -w /proc/self/fd/9 pwd: exit %d, stdout %q, stderr %q; want a refusal", code, out, strings.TrimSpace(stderr))
	}
	// exec's own descriptors too (namespaces, the container's cgroup).
	for n := 3; n <= 15; n++ {
		w := "/proc/self/fd/" + strconv.Itoa(n)
		for _, ex := range [][]*os.File{extra, nil} {
			out, stderr, code := e.runWith(runOpts{extra: ex}, append([]string{"exec", "-w", w, "wd-exec"}, probe...)...)
			if code == 0 || strings.Contains(out, secret) {
				t.Errorf("exec -w %s cat ... (%d inherited fds): exit %d, stdout %q, stderr %q: the process started outside the container's root", w, len(ex), code, clip(out), clip(strings.TrimSpace(stderr)))
			}
		}
	}
}

// TestSecurityUserRange: a uid or gid of (uid_t)-1 means "unchanged" to
// setresuid: the process would stay root. Docker accepts 0-2147483647.
func TestSecurityUserRange(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, u := range []string{"4294967295", "2147483648", "0:4294967295", "1000:2147483648", "4294967295:4294967295"} {
		out, stderr, code := e.run("run", "--rm", "-u", u, "busybox", "id")
		if code != 125 || !strings.Contains(stderr, "2147483647") {
			t.Errorf("run -u %s id: exit %d, stdout %q, stderr %q; want 125 and the uid/gid range 0-2147483647", u, code, strings.TrimSpace(out), strings.TrimSpace(stderr))
		}
		if left := strings.TrimSpace(e.ok("ps", "-a", "-q")); left != "" {
			t.Errorf("run --rm -u %s left a container behind: %s", u, left)
		}
	}
	if out := e.ok("run", "--rm", "-u", "2147483647:2147483647", "busybox", "id", "-u"); out != "2147483647\n" {
		t.Errorf("run -u 2147483647 id -u: %q", out)
	}
	e.runD("--name", "uid-exec", "busybox", "sleep", "1000")
	for _, u := range []string{"4294967295", "0:4294967295"} {
		out, stderr, code := e.run("exec", "-u", u, "uid-exec", "id")
		if code == 0 || strings.Contains(out, "uid=0") {
			t.Errorf("exec -u %s id: exit %d, stdout %q, stderr %q; want a refusal", u, code, strings.TrimSpace(out), strings.TrimSpace(stderr))
		}
	}
}

// TestSecurityReadOnlyEtc: --read-only covers the /etc files berth mounts
// into the container.
func TestSecurityReadOnlyEtc(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, f := range []string{"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"} {
		// Writable without --read-only: the check below can tell.
		e.ok("run", "--rm", "busybox", "sh", "-c", "echo x >> "+f)
		out, stderr, code := e.run("run", "--rm", "--read-only", "busybox", "sh", "-c", "echo x >> "+f+" && echo written")
		if code == 0 || strings.Contains(out, "written") {
			t.Errorf("--read-only: echo x >> %s: exit %d, %q %q; want it read-only", f, code, out, strings.TrimSpace(stderr))
		}
	}
	if _, stderr, code := e.run("run", "--rm", "--read-only", "busybox", "touch", "/new-file"); code == 0 || !strings.Contains(stderr, "Read-only") {
		t.Errorf("--read-only: touch /new-file: exit %d, %q; want Read-only file system", code, stderr)
	}
}

func readSysctl(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(name, ".", "/"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSecuritySysctls: Docker's defaults in a container's own network
// namespace, --sysctl for namespaced keys only, and never the host's.
func TestSecuritySysctls(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	keys := []string{"net.ipv4.ip_forward", "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start", "kernel.msgmax", "vm.swappiness"}
	host := map[string]string{}
	for _, k := range keys {
		host[k] = readSysctl(t, k)
	}
	t.Cleanup(func() {
		for _, k := range keys {
			if now := readSysctl(t, k); now != host[k] {
				t.Errorf("the host's %s changed from %q to %q (restored)", k, strings.TrimSpace(host[k]), strings.TrimSpace(now))
				_ = os.WriteFile("/proc/sys/"+strings.ReplaceAll(k, ".", "/"), []byte(host[k]), 0o644)
			}
		}
	})

	if out := e.ok("run", "--rm", "busybox", "cat", "/proc/sys/net/ipv4/ping_group_range"); out != "0\t2147483647\n" {
		t.Errorf("ping_group_range in a container: %q, want Docker's 0-2147483647", out)
	}
	if out := e.ok("run", "--rm", "busybox", "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"); out != "0\n" {
		t.Errorf("ip_unprivileged_port_start in a container: %q, want Docker's 0", out)
	}
	// With the host's network those defaults are not applied to the host.
	e.ok("run", "--rm", "--network", "host", "busybox", "true")

	out, stderr, code := e.run("run", "--rm", "--sysctl", "net.ipv4.ip_forward=1", "busybox", "cat", "/proc/sys/net/ipv4/ip_forward")
	if code != 0 || out != "1\n" {
		t.Errorf("--sysctl net.ipv4.ip_forward=1: exit %d, %q %q; want 1 inside", code, out, strings.TrimSpace(stderr))
	}
	out, stderr, code = e.run("run", "--rm", "--sysctl", "kernel.msgmax=65536", "busybox", "cat", "/proc/sys/kernel/msgmax")
	if code != 0 || out != "65536\n" {
		t.Errorf("--sysctl kernel.msgmax=65536: exit %d, %q %q; want 65536 inside (IPC namespace)", code, out, strings.TrimSpace(stderr))
	}
	_, stderr, code = e.run("run", "--rm", "--sysctl", "vm.swappiness=10", "busybox", "true")
	if code != 125 || !strings.Contains(stderr, "vm.swappiness") || strings.Contains(stderr, "unknown flag") {
		t.Errorf("--sysctl vm.swappiness=10: exit %d, %q; want 125 and a refusal naming the key (not namespaced)", code, strings.TrimSpace(stderr))
	}
	_, stderr, code = e.run("run", "--rm", "--network", "host", "--sysctl", "net.ipv4.ip_forward=1", "busybox", "true")
	if code != 125 || !strings.Contains(stderr, "ip_forward") || strings.Contains(stderr, "unknown flag") {
		t.Errorf("--network host --sysctl net.ipv4.ip_forward=1: exit %d, %q; want 125 and a refusal (the host's network namespace)", code, strings.TrimSpace(stderr))
	}
}

// parseProbes reads the syscalls program's name=result lines.
func parseProbes(out string) map[string]string {
	m := map[string]string{}
	for _, l := range lines(out) {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), "="); ok {
			m[k] = v
		}
	}
	return m
}

var probeNames = []string{"keyctl", "add_key", "request_key", "io_uring_setup", "clone3", "unshare_user", "clone_newuser", "getpid", "threads", "fork"}

// TestSecuritySeccomp: Docker's default seccomp profile applies to the
// container's process and to exec'd ones; unconfined, a custom profile and
// --privileged change it; real glibc programs still work under it.
func TestSecuritySeccomp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	imageWith(t, e, "sc", map[string]fileSpec{"syscalls": secFile(0o755, testProgram(t, "syscalls"))})

	seccompMode := func(what string, args ...string) string {
		t.Helper()
		out, stderr, code := e.run(args...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", what, code, stderr)
		}
		return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(out), "Seccomp:"))
	}
	if m := seccompMode("run", "run", "--rm", "sc", "grep", "^Seccomp:", "/proc/self/status"); m != "2" {
		t.Errorf("run: Seccomp: %s in /proc/self/status, want 2 (filtered)", m)
	}
	e.runD("--name", "sc-exec", "sc", "sleep", "1000")
	if m := seccompMode("exec", "exec", "sc-exec", "grep", "^Seccomp:", "/proc/self/status"); m != "2" {
		t.Errorf("exec: Seccomp: %s in /proc/self/status, want 2 (filtered)", m)
	}

	want := map[string]string{
		"keyctl": "EPERM", "add_key": "EPERM", "request_key": "EPERM", "io_uring_setup": "EPERM",
		"clone3": "ENOSYS", "unshare_user": "EPERM", "clone_newuser": "EPERM",
		"getpid": "ok", "threads": "ok", "fork": "ok",
	}
	for _, how := range [][]string{{"run", "--rm", "sc"}, {"exec", "sc-exec"}} {
		args := append(append([]string{}, how...), "/syscalls")
		out, stderr, code := e.run(append(args, probeNames...)...)
		if code != 0 {
			t.Errorf("%s /syscalls: exit %d: %s", how[0], code, stderr)
		}
		got := parseProbes(out)
		for _, name := range probeNames {
			if got[name] != want[name] {
				t.Errorf("%s under the default profile: %s=%s, want %s", how[0], name, got[name], want[name])
			}
		}
	}
	if _, _, code := e.run("run", "--rm", "sc", "unshare", "-U", "true"); code == 0 {
		t.Errorf("run unshare -U true: exit 0, want the user namespace refused")
	}
	if out := e.ok("run", "--rm", "sc", "sh", "-c", "for i in 1 2 3; do echo $i; done | wc -l"); strings.TrimSpace(out) != "3" {
		t.Errorf("a shell pipeline under the default profile: %q", out)
	}

	// unconfined
	if m := seccompMode("unconfined", "run", "--rm", "--security-opt", "seccomp=unconfined", "sc", "grep", "^Seccomp:", "/proc/self/status"); m != "0" {
		t.Errorf("--security-opt seccomp=unconfined: Seccomp: %s, want 0", m)
	}
	if got := parseProbes(e.ok("run", "--rm", "--security-opt", "seccomp=unconfined", "sc", "/syscalls", "keyctl")); got["keyctl"] == "EPERM" || got["keyctl"] == "" {
		t.Errorf("--security-opt seccomp=unconfined: keyctl=%s, want it allowed", got["keyctl"])
	}
	e.ok("create", "--name", "sc-unconfined", "--security-opt", "seccomp=unconfined", "sc", "true")
	if got := e.inspect("{{json .HostConfig.SecurityOpt}}", "sc-unconfined"); !strings.Contains(got, "seccomp=unconfined") {
		t.Errorf("inspect .HostConfig.SecurityOpt: %s, want seccomp=unconfined", got)
	}

	// A profile of one's own, in Docker's format.
	profile := filepath.Join(t.TempDir(), "profile.json")
	if err := os.WriteFile(profile, []byte(`{
	"defaultAction": "SCMP_ACT_ALLOW",
	"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]
}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := e.run("run", "--rm", "--security-opt", "seccomp="+profile, "sc", "mkdir", "/x")
	if code == 0 || !strings.Contains(stderr, "Operation not permitted") {
		t.Errorf("custom profile denying mkdir: mkdir /x: exit %d, %q; want Operation not permitted", code, strings.TrimSpace(stderr))
	}
	out, stderr, code := e.run("run", "--rm", "--security-opt", "seccomp="+profile, "sc", "/syscalls", "mkdir", "getpid", "keyctl", "fork")
	if got := parseProbes(out); code != 0 || got["mkdir"] != "EPERM" || got["getpid"] != "ok" || got["keyctl"] != "ok" || got["fork"] != "ok" {
		t.Errorf("custom profile: exit %d, %v (%s); want mkdir=EPERM and the rest allowed", code, got, strings.TrimSpace(stderr))
	}
	missing := filepath.Join(t.TempDir(), "nope.json")
	if _, stderr, code := e.run("run", "--rm", "--security-opt", "seccomp="+missing, "sc", "true"); code != 125 || !strings.Contains(stderr, missing) {
		t.Errorf("--security-opt seccomp=%s (missing): exit %d, %q; want 125 naming the file", missing, code, strings.TrimSpace(stderr))
	}

	if m := seccompMode("privileged", "run", "--rm", "--privileged", "sc", "grep", "^Seccomp:", "/proc/self/status"); m != "0" {
		t.Errorf("--privileged: Seccomp: %s, want 0", m)
	}
	if info := e.ok("info"); !strings.Contains(info, "seccomp") || !strings.Contains(info, "Profile: builtin") {
		t.Errorf("berth info does not list seccomp with Profile: builtin under Security Options:\n%s", info)
	}

	// The host's own glibc programs, with their libraries, under the
	// default profile.
	files := map[string]fileSpec{}
	for _, bin := range []string{"/bin/bash", "/usr/bin/dpkg", "/bin/ls"} {
		addHostBinary(t, files, bin)
	}
	imageWith(t, e, "hostbins", files)
	if out := e.ok("run", "--rm", "hostbins", "dpkg", "--version"); !strings.Contains(out, "dpkg") {
		t.Errorf("dpkg --version: %q", clip(out))
	}
	if out := e.ok("run", "--rm", "hostbins", "bash", "-c", "echo $((1+1)); grep ^Seccomp: /proc/self/status"); !strings.HasPrefix(out, "2\nSeccomp:\t2") {
		t.Errorf("bash -c 'echo $((1+1))' under the default profile: %q", out)
	}
	if out := e.ok("run", "--rm", "hostbins", "ls", "-la", "/"); !strings.Contains(out, "etc") {
		t.Errorf("ls -la /: %q", clip(out))
	}
	if out := e.ok("exec", "sc-exec", "true"); out != "" {
		t.Errorf("exec true: %q", out)
	}
}

// addHostBinary adds a host program and the shared libraries ldd lists to
// files, at the same paths.
func addHostBinary(t *testing.T, files map[string]fileSpec, bin string) {
	t.Helper()
	read := func(p string) []byte {
		b, err := os.ReadFile(p) // through symlinks: a regular file in the image
		if err != nil {
			t.Fatalf("host program %s: %v", p, err)
		}
		return b
	}
	files[bin] = secFile(0o755, read(bin))
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		t.Fatalf("ldd %s: %v", bin, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		var lib string
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			lib = f[2]
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			lib = f[0]
		}
		if lib != "" {
			files[lib] = secFile(0o755, read(lib))
		}
	}
}

func lastLine(s string) string {
	l := lines(s)
	if len(l) == 0 {
		return ""
	}
	return l[len(l)-1]
}

// wroteReport is the watcher's lines about the binaries it wrote: how it
// found each (OPENED, with the process's command line) and the write.
func wroteReport(out string) string {
	var pids []string
	for _, l := range lines(out) {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "WROTE" {
			pids = append(pids, f[1])
		}
	}
	var prefixes []string
	for _, p := range pids {
		prefixes = append(prefixes, "OPENED "+p+" ", "WROTE "+p+" ", "HITS "+p+" ")
	}
	return grepLines(out, append(prefixes, "attempts=")...)
}

// grepLines keeps the lines of s that start with one of the prefixes.
func grepLines(s string, prefixes ...string) string {
	var out []string
	for _, l := range lines(s) {
		for _, p := range prefixes {
			if strings.HasPrefix(l, p) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
