//go:build amd64

package seccomp

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The kernel tests re-execute the test binary as a child that loads a
// compiled program and then makes syscalls, printing one line per probe:
// the probe and "ok" or the errno's name (or a figure).
const (
	childProgram = "BERTH_SECCOMP_CHILD_PROGRAM" // file with a marshalled program, or "none"
	childProbes  = "BERTH_SECCOMP_CHILD_PROBES"  // probes, separated by spaces
	childNNP     = "BERTH_SECCOMP_CHILD_NNP"     // "1": set no_new_privs first
)

func TestMain(m *testing.M) {
	if os.Getenv(childProgram) != "" {
		os.Exit(child())
	}
	os.Exit(m.Run())
}

func child() int {
	probes := strings.Fields(os.Getenv(childProbes))
	if path := os.Getenv(childProgram); path != "none" {
		b, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		p, err := Unmarshal(b)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		if os.Getenv(childNNP) == "1" {
			if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 3
			}
		}
		if err := p.Apply(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
	}
	w := bufio.NewWriter(os.Stdout)
	for _, pr := range probes {
		fmt.Fprintf(w, "%s %s\n", pr, probe(pr))
		w.Flush()
	}
	return 0
}

func result(err error) string {
	if err == nil {
		return "ok"
	}
	if e, ok := err.(syscall.Errno); ok {
		if e == 0 {
			return "ok"
		}
		if name := unix.ErrnoName(e); name != "" {
			return name
		}
		return fmt.Sprintf("errno%d", int(e))
	}
	return strings.ReplaceAll(err.Error(), " ", "_")
}

// probe runs one probe:
//
//	NR[:ARG...]        the raw syscall, numbers in Go syntax
//	loop:N:NR[:ARG...] the raw syscall N times; prints ns per call
//	status             the Seccomp field of /proc/self/status
//	forkexec           runs /bin/true
//	threads            makes the Go runtime start 8 more threads
//	mkdir:NAME         mkdir(2) of NAME in $TMPDIR
//	mkdirat:NAME       mkdirat(2) of NAME in $TMPDIR
func probe(pr string) string {
	f := strings.Split(pr, ":")
	switch f[0] {
	case "status":
		b, err := os.ReadFile("/proc/self/status")
		if err != nil {
			return result(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "Seccomp:"); ok {
				return strings.TrimSpace(v)
			}
		}
		return "none"
	case "forkexec":
		return result(exec.Command("/bin/true").Run())
	case "threads":
		return threads()
	case "mkdir", "mkdirat":
		path, err := unix.BytePtrFromString(filepath.Join(os.TempDir(), f[1]))
		if err != nil {
			return result(err)
		}
		var e syscall.Errno
		if f[0] == "mkdir" {
			_, _, e = unix.RawSyscall(unix.SYS_MKDIR, uintptr(unsafe.Pointer(path)), 0o700, 0)
		} else {
			dirfd := unix.AT_FDCWD
			_, _, e = unix.RawSyscall(unix.SYS_MKDIRAT, uintptr(dirfd), uintptr(unsafe.Pointer(path)), 0o700)
		}
		return result(e)
	case "loop":
		n, _ := strconv.Atoi(f[1])
		nr, args := parseCall(f[2:])
		runtime.LockOSThread()
		start := time.Now()
		for range n {
			unix.RawSyscall6(nr, args[0], args[1], args[2], args[3], args[4], args[5])
		}
		return strconv.FormatFloat(float64(time.Since(start).Nanoseconds())/float64(n), 'f', 2, 64)
	}
	nr, args := parseCall(f)
	_, _, e := unix.RawSyscall6(nr, args[0], args[1], args[2], args[3], args[4], args[5])
	return result(e)
}

func parseCall(f []string) (uintptr, [6]uintptr) {
	var v [7]uintptr
	for i, s := range f {
		x, err := strconv.ParseUint(s, 0, 64)
		if err != nil {
			panic(err)
		}
		v[i] = uintptr(x)
	}
	return v[0], [6]uintptr(v[1:])
}

// threads starts goroutines that each hold a thread, so the runtime must
// clone new ones, and says whether it could.
func threads() string {
	count := func() int {
		b, _ := os.ReadFile("/proc/self/status")
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "Threads:"); ok {
				n, _ := strconv.Atoi(strings.TrimSpace(v))
				return n
			}
		}
		return 0
	}
	before := count()
	const n = 8
	ready, done := make(chan struct{}), make(chan struct{})
	for range n {
		go func() {
			runtime.LockOSThread()
			ready <- struct{}{}
			<-done
		}()
	}
	for range n {
		<-ready
	}
	after := count()
	close(done)
	if after < before+n-2 {
		return fmt.Sprintf("threads_%d_to_%d", before, after)
	}
	return "ok"
}

// childRun is the outcome of one child.
type childRun struct {
	results map[string]string
	state   *os.ProcessState
	stderr  string
}

// runChild runs the probes in a child under p (nil: no filter).
func runChild(t testing.TB, p *Program, nnp bool, probes ...string) childRun {
	t.Helper()
	dir := t.TempDir()
	path := "none"
	if p != nil {
		path = filepath.Join(dir, "program")
		if err := os.WriteFile(path, p.Marshal(), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childProgram+"="+path, childProbes+"="+strings.Join(probes, " "), "TMPDIR="+dir)
	if nnp {
		cmd.Env = append(cmd.Env, childNNP+"=1")
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	r := childRun{results: map[string]string{}, state: cmd.ProcessState, stderr: errb.String()}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if k, v, ok := strings.Cut(l, " "); ok {
			r.results[k] = v
		}
	}
	return r
}

func requireKernel(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the kernel tests run as root: their probes tell the filter's errors from the kernel's by holding every capability")
	}
	b, err := os.ReadFile("/proc/self/status")
	if err != nil || !bytes.Contains(b, []byte("Seccomp_filters:")) {
		t.Skip("this kernel reports no seccomp filters in /proc/self/status")
	}
}
