//go:build amd64

package seccomp

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// dockerCaps are Docker's default capabilities.
var dockerCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

func specWithCaps(caps ...string) *specs.Spec {
	return &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: caps}}}
}

func errnoRet(e unix.Errno) uint32 { return unix.SECCOMP_RET_ERRNO | uint32(e) }

func nr(t testing.TB, name string) uint32 {
	t.Helper()
	n, ok := sysAMD64.lookup(name)
	if !ok {
		t.Fatalf("no syscall %q", name)
	}
	return n
}

func mustCompile(t testing.TB, s *specs.LinuxSeccomp) *Program {
	t.Helper()
	p, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Filter) > maxInsns {
		t.Fatalf("%d instructions", len(p.Filter))
	}
	return p
}

// TestDefaultDecisions runs Docker's default profile, compiled, in the
// emulator for the calls the kernel tests make, and checks the compiled
// filter against the reference reading for every x86_64 and x86 number.
func TestDefaultDecisions(t *testing.T) {
	s, err := Default(specWithCaps(dockerCaps...))
	if err != nil {
		t.Fatal(err)
	}
	p := mustCompile(t, s)
	t.Logf("Docker's default profile for Docker's default capabilities: %d instructions", len(p.Filter))

	x86 := uint32(unix.AUDIT_ARCH_X86_64)
	for _, c := range []struct {
		name string
		d    data
		want uint32
	}{
		{"getppid", data{nr: nr(t, "getppid"), arch: x86}, retAllow},
		{"keyctl", data{nr: nr(t, "keyctl"), arch: x86}, errnoRet(unix.EPERM)},
		{"io_uring_setup", data{nr: nr(t, "io_uring_setup"), arch: x86}, errnoRet(unix.EPERM)},
		{"clone3", data{nr: nr(t, "clone3"), arch: x86}, retENOSYS},
		{"clone thread", data{nr: nr(t, "clone"), arch: x86, args: [6]uint64{unix.CLONE_VM | unix.CLONE_THREAD | unix.CLONE_SIGHAND}}, retAllow},
		{"clone newuser", data{nr: nr(t, "clone"), arch: x86, args: [6]uint64{unix.CLONE_NEWUSER}}, errnoRet(unix.EPERM)},
		{"personality query", data{nr: nr(t, "personality"), arch: x86, args: [6]uint64{0xffffffff}}, retAllow},
		{"personality high word", data{nr: nr(t, "personality"), arch: x86, args: [6]uint64{1<<32 | 8}}, errnoRet(unix.EPERM)},
		{"socket inet", data{nr: nr(t, "socket"), arch: x86, args: [6]uint64{unix.AF_INET}}, retAllow},
		{"socket vsock", data{nr: nr(t, "socket"), arch: x86, args: [6]uint64{unix.AF_VSOCK}}, errnoRet(unix.EPERM)},
		{"1000", data{nr: 1000, arch: x86}, retENOSYS},
		{"x32 getpid", data{nr: x32Bit | nr(t, "getpid"), arch: x86}, retKillProcess},
		{"-1", data{nr: 1<<32 - 1, arch: x86}, retENOSYS},
		{"i386 getpid", data{nr: 20, arch: unix.AUDIT_ARCH_I386}, retAllow},
		{"i386 socketcall", data{nr: 102, arch: unix.AUDIT_ARCH_I386}, retAllow},
		{"aarch64", data{nr: 172, arch: unix.AUDIT_ARCH_AARCH64}, retKillProcess},
	} {
		got, steps, err := emulate(p.Filter, c.d)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got != c.want {
			t.Errorf("%s: got %#x, want %#x", c.name, got, c.want)
		}
		if c.name == "getppid" {
			t.Logf("getppid returns after %d instructions", steps)
			if steps > 16 {
				t.Errorf("getppid takes %d instructions", steps)
			}
		}
	}

	for _, audit := range []uint32{unix.AUDIT_ARCH_X86_64, unix.AUDIT_ARCH_I386} {
		for n := uint32(0); n < 1100; n++ {
			d := data{nr: n, arch: audit}
			if got, want := run(t, p, d), reference(s, d); got != want {
				t.Fatalf("arch %#x nr %d: got %#x, want %#x", audit, n, got, want)
			}
		}
	}
}

func run(t testing.TB, p *Program, d data) uint32 {
	t.Helper()
	got, _, err := emulate(p.Filter, d)
	if err != nil {
		t.Fatalf("%+v: %v", d, err)
	}
	return got
}

// TestDefaultCapabilities: the capability-gated rules follow the spec.
func TestDefaultCapabilities(t *testing.T) {
	x86 := uint32(unix.AUDIT_ARCH_X86_64)
	for _, c := range []struct {
		caps []string
		d    data
		want uint32
	}{
		{nil, data{nr: nr(t, "unshare"), arch: x86}, errnoRet(unix.EPERM)},
		{[]string{"CAP_SYS_ADMIN"}, data{nr: nr(t, "unshare"), arch: x86}, retAllow},
		{[]string{"CAP_SYS_ADMIN"}, data{nr: nr(t, "mount"), arch: x86}, retAllow},
		{[]string{"CAP_SYS_ADMIN"}, data{nr: nr(t, "clone"), arch: x86, args: [6]uint64{unix.CLONE_NEWUSER}}, retAllow},
		{[]string{"CAP_SYS_ADMIN"}, data{nr: nr(t, "clone3"), arch: x86}, retAllow},
		{[]string{"CAP_SYS_ADMIN"}, data{nr: nr(t, "io_uring_setup"), arch: x86}, errnoRet(unix.EPERM)},
		{[]string{"CAP_SYS_BOOT"}, data{nr: nr(t, "reboot"), arch: x86}, retAllow},
		{nil, data{nr: nr(t, "reboot"), arch: x86}, errnoRet(unix.EPERM)},
		{[]string{"CAP_DAC_READ_SEARCH"}, data{nr: nr(t, "open_by_handle_at"), arch: x86}, retAllow},
	} {
		s, err := Default(specWithCaps(c.caps...))
		if err != nil {
			t.Fatal(err)
		}
		if got := run(t, mustCompile(t, s), c.d); got != c.want {
			t.Errorf("caps %v nr %d: got %#x, want %#x", c.caps, c.d.nr, got, c.want)
		}
	}
	// A spec without capabilities is a container without any.
	for _, spec := range []*specs.Spec{nil, {}, {Process: &specs.Process{}}} {
		if _, err := Default(spec); err != nil {
			t.Errorf("Default(%+v): %v", spec, err)
		}
	}
}

// TestCompileDeterministic: the same profile gives the same program.
func TestCompileDeterministic(t *testing.T) {
	s, err := Default(specWithCaps(dockerCaps...))
	if err != nil {
		t.Fatal(err)
	}
	a, b := mustCompile(t, s), mustCompile(t, s)
	if !slices.Equal(a.Filter, b.Filter) {
		t.Fatal("two compiles differ")
	}
	u, err := Unmarshal(a.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(u.Filter, a.Filter) || u.Flags != a.Flags {
		t.Fatal("Unmarshal(Marshal(p)) differs from p")
	}
	for _, bad := range [][]byte{nil, []byte("BSF1"), a.Marshal()[:len(a.Marshal())-1], append([]byte("XXXX"), a.Marshal()[4:]...)} {
		if _, err := Unmarshal(bad); err == nil {
			t.Errorf("Unmarshal(%d bytes) took a broken program", len(bad))
		}
	}
}

// Values near the edges of the 32-bit halves.
var edges = []uint64{0, 1, 2, 7, 8, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
	1 << 32, 1<<32 + 1, 1<<32 | 8, 2 << 32, 0xffffffff00000000, 0xffffffffffffffff, 0x1200000034}

func randomValue(r *rand.Rand) uint64 {
	if r.IntN(4) == 0 {
		return r.Uint64() >> r.UintN(64)
	}
	return edges[r.IntN(len(edges))]
}

var (
	ops     = []specs.LinuxSeccompOperator{specs.OpEqualTo, specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpGreaterThan, specs.OpGreaterEqual, specs.OpMaskedEqual}
	actions = []specs.LinuxSeccompAction{specs.ActAllow, specs.ActErrno, specs.ActKill, specs.ActKillProcess, specs.ActKillThread, specs.ActTrap, specs.ActTrace, specs.ActLog}
)

// randomProfile makes a profile of n rules over the first span numbers
// of x86_64's table.
func randomProfile(r *rand.Rand, n, span int) *specs.LinuxSeccomp {
	pick := func() string {
		if r.IntN(30) == 0 {
			return "no_such_syscall"
		}
		for {
			s := sysAMD64.names[r.IntN(len(sysAMD64.names))]
			if int(s.nr) < span {
				return s.name
			}
		}
	}
	errno := func() *uint {
		if r.IntN(3) == 0 {
			return nil
		}
		e := uint(1 + r.IntN(3))
		return &e
	}
	s := &specs.LinuxSeccomp{DefaultAction: actions[r.IntN(len(actions))], DefaultErrnoRet: errno()}
	if r.IntN(2) == 0 {
		s.Architectures = []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}
	}
	for range n {
		sc := specs.LinuxSyscall{Action: actions[r.IntN(len(actions))], ErrnoRet: errno()}
		for range 1 + r.IntN(3) {
			sc.Names = append(sc.Names, pick())
		}
		if r.IntN(3) > 0 {
			for range 1 + r.IntN(3) {
				sc.Args = append(sc.Args, specs.LinuxSeccompArg{
					Index: uint(r.IntN(3)), Op: ops[r.IntN(len(ops))],
					Value: randomValue(r), ValueTwo: randomValue(r),
				})
			}
		}
		s.Syscalls = append(s.Syscalls, sc)
	}
	return s
}

// TestRandomProfiles compiles random profiles (some large enough that
// the tree's jumps need long jumps) and checks every decision against
// the reference on numbers and arguments near the rules' values.
func TestRandomProfiles(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	longJumps := 0
	for i := range 300 {
		n, span := 1+r.IntN(12), 40
		if i%10 == 0 {
			n, span = 100+r.IntN(60), 480
		}
		s := randomProfile(r, n, span)
		p, err := Compile(s)
		if err != nil {
			t.Fatalf("profile %d: %v", i, err)
		}
		ja := 0
		for _, f := range p.Filter {
			if isJA(f.Code) {
				ja++
			}
		}
		if ja > 1 {
			longJumps++
		}
		var values []uint64
		for _, sc := range s.Syscalls {
			for _, a := range sc.Args {
				values = append(values, a.Value-1, a.Value, a.Value+1, a.ValueTwo, a.Value|a.ValueTwo)
			}
		}
		values = append(values, edges...)
		for probe := range 400 {
			d := data{arch: unix.AUDIT_ARCH_X86_64}
			switch probe % 8 {
			case 0:
				d.arch = unix.AUDIT_ARCH_I386
			case 1:
				d.arch = []uint32{unix.AUDIT_ARCH_AARCH64, 0}[r.IntN(2)]
			}
			d.nr = uint32(r.IntN(span + 20))
			if probe%50 == 0 {
				d.nr = []uint32{x32Bit, x32Bit | 1, 1<<32 - 1, 1<<32 - 2, 1000, 471, 472}[r.IntN(7)]
			}
			for j := range d.args {
				d.args[j] = values[r.IntN(len(values))]
			}
			got, want := run(t, p, d), reference(s, d)
			if got != want {
				t.Fatalf("profile %d %s\ndata %+v: got %#x, want %#x", i, describe(s), d, got, want)
			}
		}
	}
	if longJumps == 0 {
		t.Error("no profile needed a long jump")
	}
	t.Logf("%d of 300 programs used long jumps", longJumps)
}

func describe(s *specs.LinuxSeccomp) string {
	out := fmt.Sprintf("default %s arches %v", s.DefaultAction, s.Architectures)
	for _, sc := range s.Syscalls {
		out += fmt.Sprintf("\n  %v %s %v", sc.Names, sc.Action, sc.Args)
	}
	return out
}

// TestCompileErrors: what Compile refuses, and how it says so.
func TestCompileErrors(t *testing.T) {
	one := uint(70000)
	for _, c := range []struct {
		s    specs.LinuxSeccomp
		want string
	}{
		{specs.LinuxSeccomp{}, "seccomp: defaultAction is missing"},
		{specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_NOPE"}, `seccomp: defaultAction: unknown action "SCMP_ACT_NOPE"`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: &one}, "seccomp: defaultAction: errnoRet 70000 does not fit in 16 bits"},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}}},
			`seccomp: syscalls[0] ("mkdir"): SCMP_ACT_NOTIFY is not supported`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"a", "b", "c", "d", "e"}, Action: specs.ActErrno,
			Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}}}},
			`seccomp: syscalls[0] ("a", "b", "c", and 2 more): args[0]: index 6: a syscall has 6 arguments (0-5)`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno,
			Args: []specs.LinuxSeccompArg{{Op: "SCMP_CMP_ABOUT"}}}}}, `seccomp: syscalls[0] ("mkdir"): args[0]: unknown op "SCMP_CMP_ABOUT"`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Action: specs.ActErrno}}}, `seccomp: syscalls[0] (): no syscall names`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_FAST"}}, `seccomp: flags: unknown flag "SECCOMP_FILTER_FLAG_FAST"`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{"SCMP_ARCH_Z80"}}, `seccomp: architectures: unknown architecture "SCMP_ARCH_Z80"`},
	} {
		_, err := Compile(&c.s)
		if err == nil || err.Error() != c.want {
			t.Errorf("got %v, want %s", err, c.want)
		}
	}
	if _, err := Compile(nil); err == nil {
		t.Error("Compile(nil) succeeded")
	}
}

// TestRuncReading: the corners of the rule semantics, spelled out.
func TestRuncReading(t *testing.T) {
	eacces, enoent := uint(unix.EACCES), uint(unix.ENOENT)
	getppid := nr(t, "getppid")
	x86 := uint32(unix.AUDIT_ARCH_X86_64)
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
		// A conditional rule, then an unconditional one: the latter wins.
		{Names: []string{"getppid"}, Action: specs.ActErrno, ErrnoRet: &eacces, Args: []specs.LinuxSeccompArg{{Index: 0, Op: specs.OpEqualTo, Value: 1}}},
		{Names: []string{"getppid"}, Action: specs.ActErrno, ErrnoRet: &enoent},
		// Two unconditional ones: the first wins.
		{Names: []string{"getpid"}, Action: specs.ActErrno, ErrnoRet: &enoent},
		{Names: []string{"getpid"}, Action: specs.ActErrno, ErrnoRet: &eacces},
		// The same argument twice: either condition is enough.
		{Names: []string{"getpgrp"}, Action: specs.ActErrno, ErrnoRet: &eacces, Args: []specs.LinuxSeccompArg{
			{Index: 0, Op: specs.OpGreaterEqual, Value: 5}, {Index: 0, Op: specs.OpLessEqual, Value: 1}}},
	}}
	p := mustCompile(t, s)
	for _, c := range []struct {
		d    data
		want uint32
	}{
		{data{nr: getppid, arch: x86, args: [6]uint64{1}}, errnoRet(unix.ENOENT)},
		{data{nr: getppid, arch: x86}, errnoRet(unix.ENOENT)},
		{data{nr: nr(t, "getpid"), arch: x86}, errnoRet(unix.ENOENT)},
		{data{nr: nr(t, "getpgrp"), arch: x86, args: [6]uint64{0}}, errnoRet(unix.EACCES)},
		{data{nr: nr(t, "getpgrp"), arch: x86, args: [6]uint64{3}}, retAllow},
		{data{nr: nr(t, "getpgrp"), arch: x86, args: [6]uint64{9}}, errnoRet(unix.EACCES)},
		// Default ALLOW: no ENOSYS above the profile's syscalls.
		{data{nr: 1000, arch: x86}, retAllow},
	} {
		if got := run(t, p, c.d); got != c.want {
			t.Errorf("%+v: got %#x, want %#x", c.d, got, c.want)
		}
	}
}
