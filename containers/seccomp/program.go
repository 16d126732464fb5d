package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Program is a compiled filter, ready to load.
type Program struct {
	// Filter is the classic BPF program, at most 4096 instructions.
	Filter []unix.SockFilter
	// Flags are the profile's SECCOMP_FILTER_FLAG_* bits; Apply adds
	// SECCOMP_FILTER_FLAG_TSYNC.
	Flags uint32
}

// Apply loads the filter into the calling process with seccomp(2),
// SECCOMP_SET_MODE_FILTER, for every thread at once (TSYNC): a Go program
// may run its next syscall, execve included, on another thread than this
// one. The filter stays for the life of the process and is inherited
// across fork and execve.
//
// The kernel takes a filter only from a thread with no_new_privs set
// (prctl PR_SET_NO_NEW_PRIVS) or holding CAP_SYS_ADMIN: a container
// process without no_new_privs must apply it before dropping its
// capabilities.
func (p *Program) Apply() error {
	if p == nil || len(p.Filter) == 0 {
		return errors.New("seccomp: empty program")
	}
	if len(p.Filter) > maxInsns {
		return fmt.Errorf("seccomp: program has %d instructions, more than %d", len(p.Filter), maxInsns)
	}
	prog := unix.SockFprog{Len: uint16(len(p.Filter)), Filter: &p.Filter[0]}
	flags := uintptr(p.Flags | unix.SECCOMP_FILTER_FLAG_TSYNC)
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(p)
	switch {
	case errno == unix.EACCES:
		return fmt.Errorf("seccomp: loading the filter: %w (no_new_privs is not set and CAP_SYS_ADMIN is missing)", errno)
	case errno != 0:
		return fmt.Errorf("seccomp: loading the filter: %w", errno)
	case r != 0:
		return fmt.Errorf("seccomp: loading the filter: thread %d cannot take it (it has a filter of its own)", r)
	}
	return nil
}

// The byte form: magic, flags, instruction count, then each instruction
// as code (2 bytes), jt, jf, k (4 bytes), all little-endian.
var magic = [4]byte{'B', 'S', 'F', '1'}

const headerLen = 12

// Marshal returns p as bytes, to hand a program compiled once to the
// processes that load it; nil for no program.
func (p *Program) Marshal() []byte {
	if p == nil {
		return nil
	}
	b := make([]byte, headerLen, headerLen+8*len(p.Filter))
	copy(b, magic[:])
	binary.LittleEndian.PutUint32(b[4:], p.Flags)
	binary.LittleEndian.PutUint32(b[8:], uint32(len(p.Filter)))
	for _, f := range p.Filter {
		b = binary.LittleEndian.AppendUint16(b, f.Code)
		b = append(b, f.Jt, f.Jf)
		b = binary.LittleEndian.AppendUint32(b, f.K)
	}
	return b
}

// Unmarshal reads a program written by Marshal.
func Unmarshal(b []byte) (*Program, error) {
	if len(b) < headerLen || [4]byte(b[:4]) != magic {
		return nil, errors.New("seccomp: not a compiled program")
	}
	n := binary.LittleEndian.Uint32(b[8:])
	if n == 0 || n > maxInsns {
		return nil, fmt.Errorf("seccomp: compiled program has %d instructions", n)
	}
	if uint64(len(b)) != headerLen+8*uint64(n) {
		return nil, fmt.Errorf("seccomp: compiled program is %d bytes, want %d", len(b), headerLen+8*n)
	}
	p := &Program{Flags: binary.LittleEndian.Uint32(b[4:]), Filter: make([]unix.SockFilter, n)}
	for i := range p.Filter {
		x := b[headerLen+8*i:]
		p.Filter[i] = unix.SockFilter{
			Code: binary.LittleEndian.Uint16(x),
			Jt:   x[2],
			Jf:   x[3],
			K:    binary.LittleEndian.Uint32(x[4:]),
		}
	}
	return p, nil
}

// String disassembles the program, one instruction a line, for debugging.
func (p *Program) String() string {
	var b strings.Builder
	for i, f := range p.Filter {
		fmt.Fprintf(&b, "%4d  ", i)
		switch {
		case f.Code == unix.BPF_LD|unix.BPF_W|unix.BPF_ABS:
			fmt.Fprintf(&b, "ld [%d]", f.K)
		case f.Code == unix.BPF_ALU|unix.BPF_AND|unix.BPF_K:
			fmt.Fprintf(&b, "and %#x", f.K)
		case f.Code == unix.BPF_RET|unix.BPF_K:
			fmt.Fprintf(&b, "ret %#x", f.K)
		case isJA(f.Code):
			fmt.Fprintf(&b, "ja %d", i+1+int(f.K))
		case isCond(f.Code):
			op := map[uint16]string{unix.BPF_JEQ: "jeq", unix.BPF_JGT: "jgt", unix.BPF_JGE: "jge", unix.BPF_JSET: "jset"}[f.Code&0xf0]
			fmt.Fprintf(&b, "%s %#x %d %d", op, f.K, i+1+int(f.Jt), i+1+int(f.Jf))
		default:
			fmt.Fprintf(&b, "op %#x %d %d %#x", f.Code, f.Jt, f.Jf, f.K)
		}
		b.WriteByte('\n')
	}
	return b.String()
}
