//go:build amd64

package seccomp

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// call spells a raw-syscall probe.
func call(nr uintptr, args ...uint64) string {
	s := fmt.Sprint(nr)
	for _, a := range args {
		s += fmt.Sprintf(":%#x", a)
	}
	return s
}

// expect runs probes in a child under p and checks each result; a
// result "!E" means anything but E.
func expect(t *testing.T, p *Program, nnp bool, want [][2]string) childRun {
	t.Helper()
	r := runChild(t, p, nnp, probeNames(want)...)
	if !r.state.Success() {
		t.Fatalf("child: %v\n%s", r.state, r.stderr)
	}
	for _, w := range want {
		got, ok := r.results[w[0]]
		switch {
		case !ok:
			t.Errorf("%s: no result", w[0])
		case strings.HasPrefix(w[1], "!") && got == w[1][1:]:
			t.Errorf("%s: got %s, want anything else", w[0], got)
		case !strings.HasPrefix(w[1], "!") && got != w[1]:
			t.Errorf("%s: got %s, want %s", w[0], got, w[1])
		}
	}
	return r
}

func compileDefault(t *testing.T, caps ...string) *Program {
	t.Helper()
	s, err := Default(specWithCaps(caps...))
	if err != nil {
		t.Fatal(err)
	}
	return mustCompile(t, s)
}

const (
	afVSOCK    = 40
	afALG      = 38
	perLinux32 = 0x0008
)

// TestKernelDefault loads Docker's default profile for Docker's default
// capabilities into a child and checks what its syscalls get. Each probe
// is made so that the kernel, if the filter let it through, would answer
// something else than the filter's errno (the child is root with every
// capability, and multi-threaded).
func TestKernelDefault(t *testing.T) {
	requireKernel(t)
	expect(t, compileDefault(t, dockerCaps...), true, defaultProbes)
}

// TestKernelProbesTell: without a filter, every probe that the default
// profile denies gets another answer from the kernel, so the denials
// above are the filter's (but for the numbers no kernel has, which are
// there to show that the filter says ENOSYS, not EPERM).
func TestKernelProbesTell(t *testing.T) {
	requireKernel(t)
	r := runChild(t, nil, false, probeNames(defaultProbes)...)
	for _, w := range defaultProbes {
		if nr, err := strconv.ParseUint(w[0], 10, 32); err == nil && nr > unix.SYS_RSEQ_SLICE_YIELD {
			continue
		}
		if w[1] != "ok" && r.results[w[0]] == w[1] {
			t.Errorf("%s: %s without a filter too", w[0], w[1])
		}
	}
}

func probeNames(want [][2]string) []string {
	out := make([]string, len(want))
	for i, w := range want {
		out[i] = w[0]
	}
	return out
}

var defaultProbes = [][2]string{
	{"status", "2"},
	{call(unix.SYS_GETPID), "ok"},
	{call(unix.SYS_KEYCTL, 0, 0, 0), "EPERM"},
	{call(unix.SYS_ADD_KEY, 0, 0, 0, 0, 0), "EPERM"},
	{call(unix.SYS_REQUEST_KEY, 0, 0, 0, 0), "EPERM"},
	{call(unix.SYS_IO_URING_SETUP, 0, 0), "EPERM"},
	{call(unix.SYS_IO_URING_ENTER, 0, 0, 0, 0, 0, 0), "EPERM"},
	{call(unix.SYS_IO_URING_REGISTER, 0, 0, 0, 0), "EPERM"},
	{call(unix.SYS_CLONE3, 0, 0), "ENOSYS"},
	{call(unix.SYS_UNSHARE, unix.CLONE_NEWUSER), "EPERM"},
	// Allowed, CLONE_NEWUSER with CLONE_FS would be EINVAL.
	{call(unix.SYS_CLONE, unix.CLONE_NEWUSER|unix.CLONE_FS), "EPERM"},
	{call(unix.SYS_CLONE, unix.CLONE_NEWNET|unix.CLONE_FS|unix.CLONE_NEWUSER), "EPERM"},
	{"forkexec", "ok"},
	{"threads", "ok"},
	{call(unix.SYS_PERSONALITY, 0xffffffff), "ok"},
	{call(unix.SYS_PERSONALITY, perLinux32), "ok"},
	{call(unix.SYS_PERSONALITY, 0), "ok"},
	// The kernel takes an unsigned int; the filter sees all 64 bits.
	{call(unix.SYS_PERSONALITY, 1<<32|perLinux32), "EPERM"},
	{call(unix.SYS_PERSONALITY, 0x10), "EPERM"},
	{call(unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_STREAM, 0), "ok"},
	{call(unix.SYS_SOCKET, unix.AF_UNIX, unix.SOCK_STREAM, 0), "ok"},
	{call(unix.SYS_SOCKET, unix.AF_INET6, unix.SOCK_DGRAM, 0), "ok"},
	{call(unix.SYS_SOCKET, afVSOCK, unix.SOCK_STREAM, 0), "EPERM"},
	{call(unix.SYS_SOCKET, afALG, unix.SOCK_SEQPACKET, 0), "EPERM"},
	{call(unix.SYS_SOCKET, 1<<32|unix.AF_INET, unix.SOCK_STREAM, 0), "EPERM"},
	// Known to the profile, denied: the default action.
	{call(unix.SYS_MOUNT, 0, 0, 0, 0, 0), "EPERM"},
	{call(unix.SYS_SETNS, 0xffffffff, 0), "EPERM"},
	{call(unix.SYS_REBOOT, 0, 0, 0, 0), "EPERM"},
	{call(unix.SYS_OPEN_BY_HANDLE_AT, 0, 0, 0), "EPERM"},
	// Newer than the profile (its last is removexattrat, 466), or than
	// any kernel: ENOSYS, so that a libc falls back.
	{call(unix.SYS_OPEN_TREE_ATTR), "ENOSYS"},
	{call(unix.SYS_RSEQ_SLICE_YIELD + 1), "ENOSYS"},
	{call(unix.SYS_REMOVEXATTRAT, 0, 0, 0, 0), "!EPERM"},
	{call(1000), "ENOSYS"},
	{call(0x3fffffff), "ENOSYS"},
}

// TestKernelSysAdmin: with CAP_SYS_ADMIN the profile lets namespace and
// mount syscalls through (the kernel then answers), io_uring stays denied.
func TestKernelSysAdmin(t *testing.T) {
	requireKernel(t)
	p := compileDefault(t, append(dockerCaps, "CAP_SYS_ADMIN")...)
	expect(t, p, true, [][2]string{
		{"status", "2"},
		{call(unix.SYS_UNSHARE, unix.CLONE_NEWUSER), "EINVAL"}, // a multi-threaded process
		{call(unix.SYS_CLONE, unix.CLONE_NEWUSER|unix.CLONE_FS), "EINVAL"},
		{call(unix.SYS_CLONE3, 0, 0), "EINVAL"},
		{call(unix.SYS_MOUNT, 0, 0, 0, 0, 0), "!EPERM"},
		{call(unix.SYS_UMOUNT2, 0, 0), "!EPERM"},
		{call(unix.SYS_SETNS, 0xffffffff, 0), "EBADF"},
		{call(unix.SYS_IO_URING_SETUP, 0, 0), "EPERM"},
		{call(unix.SYS_KEYCTL, 0, 0, 0), "EPERM"},
		{"forkexec", "ok"},
	})
}

// TestKernelWithoutNoNewPrivs: root may load a filter without
// no_new_privs, holding CAP_SYS_ADMIN.
func TestKernelWithoutNoNewPrivs(t *testing.T) {
	requireKernel(t)
	expect(t, compileDefault(t, dockerCaps...), false, [][2]string{
		{"status", "2"},
		{call(unix.SYS_KEYCTL, 0, 0, 0), "EPERM"},
		{call(unix.SYS_GETPID), "ok"},
	})
}

// TestKernelX32: an x32 syscall (on x86_64's audit architecture) kills
// the process rather than slipping past the x86_64 rules.
func TestKernelX32(t *testing.T) {
	requireKernel(t)
	r := runChild(t, compileDefault(t, dockerCaps...), true, call(0x40000000|unix.SYS_GETPID))
	if ws, ok := r.state.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != unix.SIGSYS {
		t.Fatalf("child: %v, want killed by SIGSYS\n%s", r.state, r.stderr)
	}
}

// TestKernelCustomJSON: a user's profile that allows everything but mkdir.
func TestKernelCustomJSON(t *testing.T) {
	requireKernel(t)
	s, err := Load([]byte(`{
		"defaultAction": "SCMP_ACT_ALLOW",
		"syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
	}`), specWithCaps(dockerCaps...))
	if err != nil {
		t.Fatal(err)
	}
	expect(t, mustCompile(t, s), true, [][2]string{
		{"mkdir:a", "EPERM"},
		{"mkdirat:b", "ok"},
		{call(unix.SYS_KEYCTL, 0, 0, 0), "!EPERM"},
		{call(1000), "ENOSYS"}, // the kernel's own: the default is ALLOW
		{"status", "2"},
	})
}

// TestKernelArgs checks each comparison against the real kernel, on
// 64-bit values whose high word decides. Every rule is for getppid,
// which ignores its arguments, and ANDs a selector (arg5 == rule number)
// with the comparison under test; a match returns errno 100+number.
func TestKernelArgs(t *testing.T) {
	requireKernel(t)
	type cmp = specs.LinuxSeccompArg
	rules := [][]cmp{
		1: {{Index: 0, Op: specs.OpEqualTo, Value: 1<<32 | 8}},
		2: {{Index: 0, Op: specs.OpNotEqual, Value: 1<<32 | 8}},
		3: {{Index: 0, Op: specs.OpGreaterThan, Value: 0xffffffff}},
		4: {{Index: 0, Op: specs.OpGreaterEqual, Value: 1 << 32}},
		5: {{Index: 0, Op: specs.OpLessThan, Value: 1 << 32}},
		6: {{Index: 0, Op: specs.OpLessEqual, Value: 0xffffffff}},
		7: {{Index: 0, Op: specs.OpMaskedEqual, Value: 0xff000000ff, ValueTwo: 0x1200000034}},
		8: {{Index: 1, Op: specs.OpGreaterThan, Value: 1<<32 | 5}},
		9: {{Index: 0, Op: specs.OpGreaterEqual, Value: 0x10}, {Index: 1, Op: specs.OpLessThan, Value: 2 << 32}},
	}
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}
	for i, conds := range rules {
		if conds == nil {
			continue
		}
		e := uint(100 + i)
		s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{
			Names: []string{"getppid"}, Action: specs.ActErrno, ErrnoRet: &e,
			Args: append([]cmp{{Index: 5, Op: specs.OpEqualTo, Value: uint64(i)}}, conds...),
		})
	}
	// Two comparisons of one argument: runc makes them alternatives.
	eacces := uint(unix.EACCES)
	s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{
		Names: []string{"getpgrp"}, Action: specs.ActErrno, ErrnoRet: &eacces,
		Args: []cmp{{Index: 0, Op: specs.OpGreaterEqual, Value: 1 << 32}, {Index: 0, Op: specs.OpLessEqual, Value: 1}},
	})

	hit := func(rule int) string { return unix.ErrnoName(syscall.Errno(100 + rule)) }
	g := func(sel uint64, a0, a1 uint64) string { return call(unix.SYS_GETPPID, a0, a1, 0, 0, 0, sel) }
	expect(t, mustCompile(t, s), true, [][2]string{
		{g(0, 1<<32|8, 0), "ok"},
		{g(1, 1<<32|8, 0), hit(1)},
		{g(1, 8, 0), "ok"},
		{g(1, 2<<32|8, 0), "ok"},
		{g(2, 1<<32|8, 0), "ok"},
		{g(2, 8, 0), hit(2)},
		{g(2, 1<<32, 0), hit(2)},
		{g(3, 0xffffffff, 0), "ok"},
		{g(3, 1<<32, 0), hit(3)},
		{g(3, 0xffffffff00000000, 0), hit(3)},
		{g(4, 0xffffffff, 0), "ok"},
		{g(4, 1<<32, 0), hit(4)},
		{g(5, 0xffffffff, 0), hit(5)},
		{g(5, 0, 0), hit(5)},
		{g(5, 1<<32, 0), "ok"},
		{g(6, 0xffffffff, 0), hit(6)},
		{g(6, 1<<32, 0), "ok"},
		{g(7, 0x1200000034, 0), hit(7)},
		{g(7, 0xabcd00120fff0034, 0), hit(7)},
		{g(7, 0x1300000034, 0), "ok"},
		{g(7, 0x1200000035, 0), "ok"},
		{g(8, 0, 1<<32|6), hit(8)},
		{g(8, 0, 1<<32|5), "ok"},
		{g(8, 0, 2<<32), hit(8)},
		{g(8, 0, 0xffffffff), "ok"},
		{g(9, 0x10, 2<<32-1), hit(9)},
		{g(9, 0xf, 0), "ok"},
		{g(9, 0x10, 2<<32), "ok"},
		{call(unix.SYS_GETPGRP, 1<<32), "EACCES"},
		{call(unix.SYS_GETPGRP, 0), "EACCES"},
		{call(unix.SYS_GETPGRP, 2), "ok"},
	})
}

// TestKernelActions: LOG lets the call run, TRACE without a tracer makes
// it fail with ENOSYS, KILL_PROCESS and TRAP end the process by SIGSYS.
func TestKernelActions(t *testing.T) {
	requireKernel(t)
	rule := func(act specs.LinuxSeccompAction, arg uint64) specs.LinuxSyscall {
		return specs.LinuxSyscall{Names: []string{"getppid"}, Action: act,
			Args: []specs.LinuxSeccompArg{{Index: 0, Op: specs.OpEqualTo, Value: arg}}}
	}
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
		rule(specs.ActLog, 1), rule(specs.ActTrace, 2), rule(specs.ActKillProcess, 3), rule(specs.ActTrap, 4),
	}}
	p := mustCompile(t, s)
	expect(t, p, true, [][2]string{
		{call(unix.SYS_GETPPID, 1), "ok"},
		{call(unix.SYS_GETPPID, 2), "ENOSYS"},
	})
	for _, arg := range []uint64{3, 4} {
		r := runChild(t, p, true, call(unix.SYS_GETPPID, arg))
		ws, _ := r.state.Sys().(syscall.WaitStatus)
		killed := ws.Signaled() && ws.Signal() == unix.SIGSYS
		// The Go runtime catches the TRAP's SIGSYS and dies saying so.
		trapped := strings.Contains(r.stderr, "SIGSYS")
		if r.state.Success() || !(killed || trapped) {
			t.Errorf("getppid(%d): child %v, want death by SIGSYS\n%s", arg, r.state, r.stderr)
		}
	}
}

// TestLoadErrors: a broken profile is refused with a message that says
// where.
func TestLoadErrors(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{`{"defaultAction": "SCMP_ACT_ERRNO",
  "syscalls": [}`, "seccomp profile: line 2, column 16: invalid character '}' looking for beginning of value"},
		{`{"defaultAction": 1}`, "seccomp profile: line 1, column 19: defaultAction: got number, want string"},
		{`{"defaultAction": "SCMP_ACT_ALLOW",
"syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": -1}]}]}`,
			"seccomp profile: line 2, column 83: syscalls.args.index: got number -1, want non-negative integer"},
		{`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "includes": {"minKernel": "4"}}]}`,
			`seccomp profile: invalid kernel version: "4", expected "<kernel>.<major>"`},
		{`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_DENY"}]}`,
			`seccomp profile: syscalls[0] ("mkdir"): unknown action "SCMP_ACT_DENY"`},
		{`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ERRNO"}, {"name": "b", "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "op": "SCMP_CMP_EQUAL"}]}]}`,
			`seccomp profile: syscalls[1] ("b"): args[0]: unknown op "SCMP_CMP_EQUAL"`},
		{`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ERRNO", "includes": {"caps": ["CAP_SYS_ADMIN"]}}, {"names": [], "action": "SCMP_ACT_ERRNO"}]}`,
			`seccomp profile: syscalls[1] (): no syscall names`},
		{`{"syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}`, "seccomp profile: defaultAction is missing"},
		{`{}`, "seccomp profile: no defaultAction and no syscalls (to run without seccomp, use seccomp=unconfined)"},
		{`{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}`,
			"seccomp profile: both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'"},
		{`{"defaultAction": "SCMP_ACT_ALLOW", "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_Z80"]}]}`,
			`seccomp profile: archMap[0]: unknown architecture "SCMP_ARCH_Z80"`},
		{`{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_FAST"]}`, `seccomp profile: flags: unknown flag "SECCOMP_FILTER_FLAG_FAST"`},
	} {
		_, err := Load([]byte(c.body), specWithCaps(dockerCaps...))
		if err == nil || err.Error() != c.want {
			t.Errorf("Load(%s):\n got %v\nwant %s", c.body, err, c.want)
		}
	}
}

// TestLoadDockerJSON: Docker's default profile as JSON, loaded, says what
// Default says, less Default's additions.
func TestLoadDockerJSON(t *testing.T) {
	body, err := os.ReadFile(dockerJSON(t))
	if err != nil {
		t.Skip(err)
	}
	loaded, err := Load(body, specWithCaps(dockerCaps...))
	if err != nil {
		t.Fatal(err)
	}
	def, err := Default(specWithCaps(dockerCaps...))
	if err != nil {
		t.Fatal(err)
	}
	a, b := mustCompile(t, loaded), mustCompile(t, def)
	for n := uint32(0); n < 1100; n++ {
		d := data{nr: n, arch: unix.AUDIT_ARCH_X86_64}
		if n == unix.SYS_IO_URING_SETUP || n == unix.SYS_IO_URING_ENTER || n == unix.SYS_IO_URING_REGISTER {
			continue
		}
		if x, y := run(t, a, d), run(t, b, d); x != y {
			t.Errorf("nr %d: loaded %#x, default %#x", n, x, y)
		}
	}
}
