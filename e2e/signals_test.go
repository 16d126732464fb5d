package e2e

// Signals and terminals, as Docker's behave: every process of a container
// starts with no signal ignored or blocked, whatever berth itself was
// started with; the signals `berth run` gets go to the container's process
// (--sig-proxy), and the terminal's ^C reaches it as SIGINT; the command
// line can always be stopped; -t with an input that is not a terminal is
// refused; --init makes PID 1 an init of berth's own that reaps orphans
// and passes signals on.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// blockedExecEnv: the test binary, started with it set, blocks signals and
// executes its arguments (execBlocked), so that berth starts with them
// blocked, as under some service managers.
const blockedExecEnv = "BERTH_E2E_EXEC_BLOCKED"

// blockedSignals are those execBlocked blocks (SIGHUP, SIGINT and SIGTERM
// too, which Go unblocks in its own threads but a child inherits).
var blockedSignals = []syscall.Signal{syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGTERM, syscall.SIGWINCH, syscall.SIGALRM}

func execBlocked() {
	runtime.LockOSThread()
	var set uint64
	for _, s := range blockedSignals {
		set |= 1 << (uint(s) - 1)
	}
	if _, _, e := unix.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_BLOCK, uintptr(unsafe.Pointer(&set)), 0, 8, 0, 0); e != 0 {
		fmt.Fprintln(os.Stderr, "block signals:", e)
		os.Exit(2)
	}
	err := unix.Exec(os.Args[1], os.Args[1:], os.Environ())
	fmt.Fprintln(os.Stderr, "exec:", err)
	os.Exit(2)
}

// launched runs berth as its parent process left it: with signals ignored
// (a shell's trap ” runs it) or blocked (execBlocked runs it).
func (e *env) launched(how string, args ...string) (stdout, stderr string, code int) {
	e.t.Helper()
	self, err := os.Executable()
	if err != nil {
		e.t.Fatal(err)
	}
	berth := append([]string{berthBin, "--root", e.root}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	var cmd *exec.Cmd
	switch how {
	case "ignored":
		sh := `trap '' HUP INT QUIT PIPE USR1 USR2 TSTP TTIN TTOU WINCH ALRM; exec "$@"`
		cmd = exec.CommandContext(ctx, "/bin/sh", append([]string{"-c", sh, "sh"}, berth...)...)
	case "blocked":
		cmd = exec.CommandContext(ctx, self, berth...)
		cmd.Env = append(os.Environ(), blockedExecEnv+"=1")
	default:
		e.t.Fatalf("launched %q", how)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		e.t.Fatalf("%s: %v", strings.Join(cmd.Args, " "), err)
	}
	if ctx.Err() != nil {
		e.t.Fatalf("%s: no exit after %v", strings.Join(cmd.Args, " "), cmdTimeout)
	}
	return out.String(), errb.String(), code
}

// TestSignalsCleanSlate: a container's processes start with every signal
// at its default action and none blocked (/proc/PID/status SigIgn and
// SigBlk all zeros) although berth was started with signals ignored or
// blocked: PID 1, PID 1's child under --init (and what PID 1 ignores),
// and exec'd processes, with and without a terminal.
func TestSignalsCleanSlate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.runD("--name", "slate", "busybox", "sleep", "1000")
	grep := []string{"grep", "-E", "^Sig(Ign|Blk):"}
	cases := []struct {
		name string
		args []string
		want int // lines of output
	}{
		{"run", append([]string{"run", "--rm", "busybox"}, append(grep, "/proc/1/status")...), 2},
		{"run -t", append([]string{"run", "--rm", "-t", "busybox"}, append(grep, "/proc/1/status")...), 2},
		// PID 1 is berth's init here: a Go program, whose threads block
		// signals for a moment now and then (fork, a new thread), so its
		// SigBlk is not read; what it ignores still counts.
		{"run --init", append([]string{"run", "--rm", "--init", "busybox"}, append(grep, "/proc/self/status", "/proc/1/status")...), 4},
		{"exec", append([]string{"exec", "slate"}, append(grep, "/proc/self/status")...), 2},
		{"exec -t", append([]string{"exec", "-t", "slate"}, append(grep, "/proc/self/status")...), 2},
	}
	for _, how := range []string{"ignored", "blocked"} {
		for _, c := range cases {
			out, stderr, code := e.launched(how, c.args...)
			if code != 0 {
				t.Errorf("%s, signals %s in berth: exit %d: %s", c.name, how, code, stderr)
				continue
			}
			got := lines(strings.ReplaceAll(out, "\r", ""))
			if len(got) != c.want {
				t.Errorf("%s, signals %s in berth: %q, want %d lines", c.name, how, got, c.want)
			}
			for _, l := range got {
				if strings.HasPrefix(l, "/proc/1/status:SigBlk:") && c.name == "run --init" {
					continue
				}
				if f := strings.Fields(l); len(f) != 2 || strings.Trim(f[1], "0") != "" {
					t.Errorf("%s, signals %s in berth: %q, want no signal ignored or blocked", c.name, how, l)
				}
			}
		}
	}
}

// attached is a foreground `berth run` (or exec) whose output the test
// reads line by line.
type attached struct {
	t      *testing.T
	cmd    *exec.Cmd
	out    *bufio.Reader
	stderr syncBuffer
}

// syncBuffer is a buffer written by exec's copying goroutine and read by
// the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (e *env) startAttached(ctx context.Context, args ...string) *attached {
	e.t.Helper()
	a := &attached{t: e.t.(*testing.T), cmd: e.command(ctx, args...)}
	stdout, err := a.cmd.StdoutPipe()
	if err != nil {
		a.t.Fatal(err)
	}
	a.cmd.Stderr = &a.stderr
	// An exec'd process without a terminal holds our stderr as long as it
	// runs: Wait gives up on it after the command has exited.
	a.cmd.WaitDelay = 5 * time.Second
	if err := a.cmd.Start(); err != nil {
		a.t.Fatal(err)
	}
	a.out = bufio.NewReader(stdout)
	a.t.Cleanup(func() {
		if a.cmd.ProcessState == nil {
			_ = a.cmd.Process.Kill()
			_ = a.cmd.Wait()
		}
	})
	return a
}

// line waits for the next line of output and fails unless it is want.
func (a *attached) line(want string) {
	a.t.Helper()
	type res struct {
		s   string
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := a.out.ReadString('\n')
		ch <- res{s, err}
	}()
	select {
	case r := <-ch:
		if strings.TrimRight(r.s, "\r\n") != want {
			a.t.Fatalf("berth %s printed %q (%v), want %q; stderr %q", strings.Join(a.cmd.Args[1:], " "), r.s, r.err, want, a.stderr.String())
		}
	case <-time.After(cmdTimeout):
		a.t.Fatalf("berth %s: no %q within %v; stderr %q", strings.Join(a.cmd.Args[1:], " "), want, cmdTimeout, a.stderr.String())
	}
}

func (a *attached) signal(sig syscall.Signal) {
	a.t.Helper()
	if err := a.cmd.Process.Signal(sig); err != nil {
		a.t.Fatal(err)
	}
}

// wait waits for the command to end; code is its exit code, or -1 when a
// signal killed it (sig).
func (a *attached) wait() (code int, sig syscall.Signal) {
	a.t.Helper()
	done := make(chan error, 1)
	go func() { done <- a.cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(cmdTimeout):
		_ = a.cmd.Process.Kill()
		<-done
		a.t.Fatalf("berth %s did not end within %v; stderr %q", strings.Join(a.cmd.Args[1:], " "), cmdTimeout, a.stderr.String())
	}
	var ee *exec.ExitError
	switch {
	case err == nil, errors.Is(err, exec.ErrWaitDelay) && a.cmd.ProcessState.Success():
		return 0, 0
	case errors.Is(err, exec.ErrWaitDelay):
		return a.cmd.ProcessState.ExitCode(), 0
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return -1, ws.Signal()
		}
		return ee.ExitCode(), 0
	}
	a.t.Fatalf("berth %s: %v", strings.Join(a.cmd.Args[1:], " "), err)
	return
}

// trapScript traps sig (a name without SIG) with "got NAME" and exit 5,
// and SIGSYS with "barrier" and exit 9: berth kill -s SYS, sent after a
// signal that may or may not have been passed on, shows whether it was
// (the shell runs its traps in signal order, and SIGSYS comes last).
func trapScript(sig string) string {
	return fmt.Sprintf(`trap "echo got %[1]s; exit 5" %[1]s; trap "echo barrier; exit 9" SYS; echo ready; while :; do sleep 0.1; done`, sig)
}

var proxyCases = []struct {
	sig  syscall.Signal
	name string
}{{syscall.SIGHUP, "HUP"}, {syscall.SIGINT, "INT"}, {syscall.SIGTERM, "TERM"}, {syscall.SIGUSR1, "USR1"}}

// TestSignalProxyToPID1: a signal sent to `berth run` (no -t) reaches the
// container's process, a shell's trap, with and without --init; the
// command then ends with the container's exit code.
func TestSignalProxyToPID1(t *testing.T) {
	t.Parallel()
	for _, c := range proxyCases {
		for _, init := range []bool{false, true} {
			name := c.name
			if init {
				name += "/init"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t)
				args := []string{"run", "--rm"}
				if init {
					args = append(args, "--init")
				}
				a := e.startAttached(context.Background(), append(args, "busybox", "sh", "-c", trapScript(c.name))...)
				a.line("ready")
				a.signal(c.sig)
				a.line("got " + c.name)
				if code, sig := a.wait(); code != 5 {
					t.Errorf("berth run after SIG%s: exit %d (signal %v), want the container's 5; stderr %q", c.name, code, sig, a.stderr.String())
				}
			})
		}
	}
}

// TestSignalProxyOff: with --sig-proxy=false a signal to `berth run` stays
// with it: SIGINT and SIGTERM end it at once (128+n), SIGHUP kills it,
// SIGUSR1 does nothing (what Go programs do, Docker's too; a SIGTERM then
// ends it); the container runs on and never sees the signal.
func TestSignalProxyOff(t *testing.T) {
	t.Parallel()
	for _, c := range proxyCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			name := "np-" + strings.ToLower(c.name)
			a := e.startAttached(context.Background(), "run", "--sig-proxy=false", "--name", name, "busybox", "sh", "-c", trapScript(c.name))
			a.line("ready")
			a.signal(c.sig)
			if c.sig == syscall.SIGUSR1 {
				a.signal(syscall.SIGTERM)
			}
			code, sig := a.wait()
			switch c.sig {
			case syscall.SIGUSR1:
				if code != 143 {
					t.Errorf("run --sig-proxy=false after SIGUSR1 and SIGTERM: exit %d (signal %v), want 143", code, sig)
				}
			case syscall.SIGINT, syscall.SIGTERM:
				if code != 128+int(c.sig) {
					t.Errorf("run --sig-proxy=false after SIG%s: exit %d (signal %v), want %d", c.name, code, sig, 128+int(c.sig))
				}
			default:
				if sig != c.sig {
					t.Errorf("run --sig-proxy=false after SIG%s: exit %d (signal %v), want death by the signal", c.name, code, sig)
				}
			}
			if got := e.inspect("{{.State.Running}}", name); got != "true" {
				t.Fatalf("the container stopped with its command line")
			}
			e.ok("kill", "-s", "SYS", name)
			if got := strings.TrimSpace(e.ok("wait", name)); got != "9" {
				t.Errorf("wait after the barrier: %s, want 9", got)
			}
			if logs := e.ok("logs", name); logs != "ready\nbarrier\n" {
				t.Errorf("the container's output %q, want ready and barrier: SIG%s reached it", logs, c.name)
			}
		})
	}
}

// TestSignalsStopTheCLI: the command line can always be stopped, as
// Docker's: with --sig-proxy each SIGTERM goes to the container and the
// third ends the command (exit 1, the container running on); exec ends
// at the first, leaving its process running.
func TestSignalsStopTheCLI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.startAttached(context.Background(), "run", "--name", "stubborn", "busybox", "sh", "-c", `trap "echo got TERM" TERM; echo ready; while :; do sleep 0.1; done`)
	a.line("ready")
	a.signal(syscall.SIGTERM)
	a.line("got TERM")
	a.signal(syscall.SIGTERM)
	a.line("got TERM")
	a.signal(syscall.SIGTERM)
	if code, sig := a.wait(); code != 1 || !strings.Contains(a.stderr.String(), "got 3 SIGTERM/SIGINTs, forcefully exiting") {
		t.Errorf("after 3 SIGTERMs: exit %d (signal %v), stderr %q; want 1 and Docker's message", code, sig, a.stderr.String())
	}
	if got := e.inspect("{{.State.Running}}", "stubborn"); got != "true" {
		t.Errorf("the container stopped with its command line")
	}

	x := e.startAttached(context.Background(), "exec", "stubborn", "sh", "-c", `trap "echo got TERM" TERM; echo ready; exec sleep 1000`)
	x.line("ready")
	x.signal(syscall.SIGTERM)
	if code, sig := x.wait(); code != 128+int(syscall.SIGTERM) {
		t.Errorf("exec after SIGTERM: exit %d (signal %v), want 143", code, sig)
	}
	if out := e.ok("exec", "stubborn", "ps", "-o", "args"); !strings.Contains(out, "sleep 1000") {
		t.Errorf("the exec'd process ended with its command line:\n%s", out)
	}
}

// TestInputNotATerminal: -t with -i needs a terminal for input, as
// Docker's run, exec and attach say, instead of a container that waits
// on a terminal no one types on.
func TestInputNotATerminal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.runD("-t", "--name", "tty", "busybox", "sleep", "1000")
	for _, args := range [][]string{
		{"run", "-it", "busybox", "cat"},
		{"exec", "-it", "tty", "cat"},
		{"attach", "tty"},
	} {
		_, stderr, code := e.runWith(runOpts{stdin: strings.NewReader("x\n"), timeout: 30 * time.Second}, args...)
		if code != 1 || !strings.Contains(stderr, "the input device is not a TTY") {
			t.Errorf("echo x | berth %s: exit %d, stderr %q; want 1 and \"the input device is not a TTY\"", strings.Join(args, " "), code, stderr)
		}
	}
	if ids := lines(e.ok("ps", "-a", "-q")); len(ids) != 1 {
		t.Errorf("run -it refused still made a container: %v", ids)
	}
}

// TestCtrlCThroughTerminal: ^C typed on `run -it` is the container's
// SIGINT (its terminal's foreground process gets it), with and without
// --init; a SIGTERM sent to the command line goes to the container too
// (--sig-proxy holds with -t, as in Docker since 20.10).
func TestCtrlCThroughTerminal(t *testing.T) {
	t.Parallel()
	for _, init := range [][]string{nil, {"--init"}} {
		e := newEnv(t)
		args := append(append([]string{"run", "-it", "--rm"}, init...), "busybox", "sh", "-c", `trap "echo got INT; exit 7" INT; echo ready; while :; do sleep 0.1; done`)
		p := startPty(t, e, 24, 80, args...)
		p.expect("ready", ptyWait)
		p.send("\x03")
		p.expect("got INT", ptyWait)
		if code := p.wait(ptyWait); code != 7 {
			t.Errorf("run -it %v after ^C: exit %d, want 7; output %q", init, code, clip(p.output()))
		}

		args = append(append([]string{"run", "-it", "--rm"}, init...), "busybox", "sh", "-c", `trap "echo got TERM; exit 6" TERM; echo ready; while :; do sleep 0.1; done`)
		p = startPty(t, e, 24, 80, args...)
		p.expect("ready", ptyWait)
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		p.expect("got TERM", ptyWait)
		if code := p.wait(ptyWait); code != 6 {
			t.Errorf("run -it %v after SIGTERM to berth: exit %d, want 6; output %q", init, code, clip(p.output()))
		}
	}
}

// procStat is a process's state letter and parent from /proc/PID/stat text.
func procStat(stat string) (state string, ppid int) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return "", 0
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 2 {
		return "", 0
	}
	ppid, _ = strconv.Atoi(f[1])
	return f[0], ppid
}

// TestInitReapsZombies: an orphan whose parent exits goes to PID 1; under
// --init it is reaped when it ends. Without --init a PID 1 that never
// waits (sleep) leaves it a zombie, as the kernel makes it: the test can
// see one.
func TestInitReapsZombies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// The subshell starts the orphan and exits; the container's command
	// becomes sleep, which never waits; the orphan then writes its PID and
	// ends.
	script := `p=$$; (P=$p sh -c 'while [ "$(cat /proc/$P/comm)" != sleep ]; do sleep 0.05; done; echo $$ > /tmp/orphan' &); exec sleep 1000`
	for _, init := range []bool{true, false} {
		name := "zombie-noinit"
		args := []string{"--name", name}
		if init {
			name = "zombie-init"
			args = []string{"--name", name, "--init"}
		}
		e.runD(append(args, "busybox", "sh", "-c", script)...)
		var pid string
		if !waitFor(cmdTimeout, func() bool {
			out, _, code := e.run("exec", name, "cat", "/tmp/orphan")
			pid = strings.TrimSpace(out)
			return code == 0 && pid != ""
		}) {
			t.Fatalf("%s: the orphan never wrote its PID", name)
		}
		var state string
		var ppid int
		gone := waitFor(cmdTimeout, func() bool {
			out, _, code := e.run("exec", name, "cat", "/proc/"+pid+"/stat")
			if code != 0 {
				return true // reaped
			}
			state, ppid = procStat(out)
			return !init && state == "Z"
		})
		switch {
		case init && !gone:
			t.Errorf("--init: the orphan %s is still there (state %s, parent %d): PID 1 did not reap it", pid, state, ppid)
		case init:
			if out := e.ok("exec", name, "sh", "-c", "cat /proc/[0-9]*/stat"); strings.Contains(out, ") Z ") {
				t.Errorf("--init: a zombie is left in /proc:\n%s", out)
			}
		case !gone || state != "Z" || ppid != 1:
			t.Errorf("without --init: the orphan %s is in state %q with parent %d, want a zombie of PID 1 (the test could not see one)", pid, state, ppid)
		}
	}
}

// TestInitProcessTree: under --init, PID 1 is berth's init and the command
// its child, in a process group of its own, as Docker's docker-init
// (tini) has it; the command's status comes back as the container's, 128+n
// for a death by signal n; inspect shows HostConfig.Init.
func TestInitProcessTree(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	out := e.ok("run", "--rm", "--init", "busybox", "sh", "-c", `echo "$$ $PPID $(cut -d' ' -f5 /proc/$$/stat)"; cat /proc/1/cmdline | tr '\0' ' '; echo; cat /proc/1/comm`)
	got := lines(out)
	if len(got) != 3 {
		t.Fatalf("run --init: output %q", out)
	}
	f := strings.Fields(got[0])
	if len(f) != 3 || f[0] == "1" || f[1] != "1" || f[2] != f[0] {
		t.Errorf("run --init: the command's pid, parent and process group are %q, want a child of PID 1 leading its own group", got[0])
	}
	if strings.TrimSpace(got[1]) != "berth init" || got[2] != "berth" {
		t.Errorf("run --init: PID 1 is %q (%s), want berth's init", got[1], got[2])
	}
	for _, c := range []struct {
		script string
		want   int
	}{{"exit 3", 3}, {"kill -KILL $$", 137}, {"kill -TERM $$", 143}, {"exit 0", 0}} {
		if _, _, code := e.run("run", "--rm", "--init", "busybox", "sh", "-c", c.script); code != c.want {
			t.Errorf("run --init sh -c %q: exit %d, want %d", c.script, code, c.want)
		}
	}
	if _, stderr, code := e.run("run", "--rm", "--init", "busybox", "no-such-command"); code != 127 || !strings.Contains(stderr, "executable file not found") {
		t.Errorf("run --init of a missing command: exit %d, stderr %q; want 127", code, stderr)
	}
	// A signal sent to the container (kill) reaches the command.
	a := e.startAttached(context.Background(), "run", "--init", "--name", "fwd", "busybox", "sh", "-c", trapScript("USR2"))
	a.line("ready")
	e.ok("kill", "-s", "USR2", "fwd")
	a.line("got USR2")
	if code, _ := a.wait(); code != 5 {
		t.Errorf("run --init after kill -s USR2: exit %d, want 5", code)
	}
	if got := e.inspect("{{json .HostConfig.Init}}", "fwd"); got != "true" {
		t.Errorf("inspect HostConfig.Init with --init: %s, want true", got)
	}
	e.ok("create", "--name", "noinit", "busybox")
	if got := e.inspect("{{json .HostConfig.Init}}", "noinit"); got != "null" {
		t.Errorf("inspect HostConfig.Init without --init: %s, want null", got)
	}
}

// TestSecurityInitHoldsNothing: PID 1 under --init is a berth process in
// the container's PID namespace for as long as the container runs. A
// process of the container with CAP_SYS_PTRACE can reach it, so it must
// hold no more than the command: on every one of its threads the same
// user, capabilities, no_new_privs, seccomp mode and cgroups (cgroup v1
// places threads one by one) as its child; no
// descriptor of the host's; and its binary is the sealed view, which
// nothing can write.
func TestSecurityInitHoldsNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	script := `held() { echo "$(grep -E '^(Uid|Gid|CapPrm|CapEff|CapBnd|CapInh|CapAmb|NoNewPrivs|Seccomp):' $1/status | tr -s '\t\n' '  ') $(tr '\n' ' ' < $1/cgroup)"; }
for t in /proc/1/task/*; do echo "task $(held $t)"; done
echo "self $(held /proc/self)"
for f in /proc/1/fd/*; do echo "fd $(readlink $f)"; done
if echo x >> /proc/1/exe; then echo wrote-exe; fi`
	for _, user := range []string{"0", "1000"} {
		out, stderr, code := e.run("run", "--rm", "--init", "--cap-add", "SYS_PTRACE", "--user", user, "busybox", "sh", "-c", script)
		if code != 0 {
			t.Fatalf("--user %s: exit %d: %s", user, code, stderr)
		}
		var self string
		var tasks, fds []string
		for _, l := range lines(out) {
			kind, rest, _ := strings.Cut(l, " ")
			switch kind {
			case "self":
				self = rest
			case "task":
				tasks = append(tasks, rest)
			case "fd":
				fds = append(fds, rest)
			case "wrote-exe":
				t.Errorf("--user %s: a process of the container wrote to PID 1's binary", user)
			}
		}
		if self == "" || len(tasks) == 0 {
			t.Fatalf("--user %s: output %q, stderr %q", user, out, stderr)
		}
		for i, task := range tasks {
			if task != self {
				t.Errorf("--user %s: PID 1's thread %d holds\n  %s\nits child\n  %s", user, i, task, self)
			}
		}
		for _, fd := range fds {
			if fd == "" {
				continue // not readable: --user 1000 has no CAP_SYS_PTRACE
			}
			if !strings.HasPrefix(fd, "pipe:") && !strings.HasPrefix(fd, "anon_inode:") && fd != "/dev/null" {
				t.Errorf("--user %s: PID 1 holds %s", user, fd)
			}
		}
	}
}
