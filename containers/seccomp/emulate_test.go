package seccomp

import (
	"encoding/binary"
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// data is struct seccomp_data.
type data struct {
	nr   uint32
	arch uint32
	args [6]uint64
}

func (d data) bytes() []byte {
	b := make([]byte, 64)
	binary.LittleEndian.PutUint32(b[0:], d.nr)
	binary.LittleEndian.PutUint32(b[4:], d.arch)
	for i, a := range d.args {
		binary.LittleEndian.PutUint64(b[16+8*i:], a)
	}
	return b
}

// emulate runs a filter as the kernel would, for the instructions the
// compiler emits, and says how many it executed.
func emulate(filter []unix.SockFilter, d data) (ret uint32, steps int, err error) {
	b := d.bytes()
	var A uint32
	for pc := 0; pc < len(filter); pc++ {
		steps++
		f := filter[pc]
		switch f.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			if f.K%4 != 0 || f.K >= 64 {
				return 0, steps, fmt.Errorf("%d: load of offset %d", pc, f.K)
			}
			A = binary.LittleEndian.Uint32(b[f.K:])
		case unix.BPF_ALU | unix.BPF_AND | unix.BPF_K:
			A &= f.K
		case unix.BPF_RET | unix.BPF_K:
			return f.K, steps, nil
		case unix.BPF_JMP | unix.BPF_JA:
			pc += int(f.K)
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K,
			unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			var t bool
			switch f.Code & 0xf0 {
			case unix.BPF_JEQ:
				t = A == f.K
			case unix.BPF_JGT:
				t = A > f.K
			case unix.BPF_JGE:
				t = A >= f.K
			case unix.BPF_JSET:
				t = A&f.K != 0
			}
			if t {
				pc += int(f.Jt)
			} else {
				pc += int(f.Jf)
			}
		default:
			return 0, steps, fmt.Errorf("%d: unexpected instruction %#x", pc, f.Code)
		}
	}
	return 0, steps, fmt.Errorf("fell off the end after %d instructions", steps)
}

// reference says what a profile means for one syscall, the slow and
// obvious way, independently of the compiler's tables and tree.
func reference(s *specs.LinuxSeccomp, d data) uint32 {
	var ar *arch
	list, _ := resolveArches(s.Architectures)
	for _, a := range list {
		if a.audit == d.arch {
			ar = a
		}
	}
	if ar == nil {
		return retKillProcess
	}
	def, _ := actionRet(s.DefaultAction, s.DefaultErrnoRet)
	passive := def == retAllow || def == unix.SECCOMP_RET_LOG
	if ar.x32 && d.nr >= x32Bit && d.nr != 1<<32-1 {
		return retKillProcess
	}
	names := func(sc specs.LinuxSyscall) bool {
		for _, n := range sc.Names {
			if nr, ok := ar.table.lookup(n); ok && nr == d.nr {
				return true
			}
		}
		return false
	}
	type cand struct {
		ret  uint32
		args []specs.LinuxSeccompArg
	}
	var rules []cand
	for _, sc := range s.Syscalls {
		ret, _ := actionRet(sc.Action, sc.ErrnoRet)
		if ret != def && names(sc) {
			rules = append(rules, cand{ret, sc.Args})
		}
	}
	for _, r := range rules {
		if len(r.args) == 0 {
			return r.ret
		}
	}
	holds := func(c specs.LinuxSeccompArg) bool {
		x, v, v2 := d.args[c.Index], c.Value, c.ValueTwo
		if ar.bits32 {
			x, v, v2 = uint64(uint32(x)), uint64(uint32(v)), uint64(uint32(v2))
		}
		switch c.Op {
		case specs.OpEqualTo:
			return x == v
		case specs.OpNotEqual:
			return x != v
		case specs.OpLessThan:
			return x < v
		case specs.OpLessEqual:
			return x <= v
		case specs.OpGreaterThan:
			return x > v
		case specs.OpGreaterEqual:
			return x >= v
		case specs.OpMaskedEqual:
			return x&v == v2
		}
		panic(c.Op)
	}
	for _, r := range rules {
		repeated := false
		for i, c := range r.args {
			for _, c2 := range r.args[:i] {
				repeated = repeated || c.Index == c2.Index
			}
		}
		all, any := true, false
		for _, c := range r.args {
			all = all && holds(c)
			any = any || holds(c)
		}
		if (repeated && any) || (!repeated && all) {
			return r.ret
		}
	}
	if len(rules) > 0 || passive {
		return def
	}
	// The highest regular number the profile names.
	last, named := uint32(0), false
	clone3Named := false
	for _, sc := range s.Syscalls {
		for _, n := range sc.Names {
			clone3Named = clone3Named || n == "clone3"
			if nr, ok := ar.table.lookup(n); ok && nr <= ar.table.max {
				last, named = max(last, nr), true
			}
		}
	}
	if !named {
		last = ar.table.max
	}
	if nr, ok := ar.table.lookup("clone3"); ok && nr == d.nr && !clone3Named {
		return retENOSYS
	}
	if d.nr <= last || d.nr > ar.table.max && slices.ContainsFunc(ar.table.names, func(s sysName) bool { return s.nr == d.nr }) {
		return def
	}
	return retENOSYS
}
