package cgroups

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// cgroup v2 has no devices controller: the kernel asks the
// BPF_PROG_TYPE_CGROUP_DEVICE programs attached to a task's cgroup (and
// its ancestors) instead, on every mknod and open of a device node. berth
// compiles the container's deviceSet into one such program (as runc and
// crun do), attaches it to the container's cgroup directory, and closes
// its own handle: the attachment keeps the program alive until the
// directory is removed, which detaches it.
//
// The program sees a struct bpf_cgroup_dev_ctx:
//
//	u32 access_type  // (access << 16) | type
//	u32 major
//	u32 minor
//
// and returns 1 to allow, 0 to deny (EPERM).

// Device types as the BPF hook numbers them (BPF_DEVCG_DEV_BLOCK, _CHAR).
var bpfDevType = map[byte]int32{'b': 1, 'c': 2}

// deviceLicense is the program's license string. The program calls no
// kernel helpers, so no GPL-only symbol is involved.
const deviceLicense = "Apache-2.0"

// program compiles the set: one block per exception, which returns the
// exception's verdict when the device matches and the access asked for
// is covered (allow exceptions: every bit asked is granted; deny
// exceptions: any bit asked is denied), else falls through to the next;
// the last returns the default. Exceptions of a set never contradict each
// other, so their order does not matter.
func (s *deviceSet) program() asm.Instructions {
	const (
		rTmp    = asm.R1 // the context pointer, until all is loaded
		rType   = asm.R2
		rAccess = asm.R3
		rMajor  = asm.R4
		rMinor  = asm.R5
	)
	verdict := func(allow bool) int32 {
		if allow {
			return 1
		}
		return 0
	}
	insts := asm.Instructions{
		asm.LoadMem(rType, asm.R1, 0, asm.Word),
		asm.And.Imm32(rType, 0xffff),
		asm.LoadMem(rAccess, asm.R1, 0, asm.Word),
		asm.RSh.Imm32(rAccess, 16),
		asm.LoadMem(rMajor, asm.R1, 4, asm.Word),
		asm.LoadMem(rMinor, asm.R1, 8, asm.Word),
	}
	for i, k := range s.keys() {
		acc := s.except[k]
		next := "next" + strconv.Itoa(i)
		block := asm.Instructions{asm.JNE.Imm(rType, bpfDevType[k.typ], next)}
		switch {
		case acc == accAll:
			// Every access is covered, and every access asked is denied.
		case !s.allowAll:
			// Allowed only if nothing outside acc is asked for.
			block = append(block,
				asm.Mov.Reg32(rTmp, rAccess),
				asm.And.Imm32(rTmp, int32(accAll&^acc)),
				asm.JNE.Imm(rTmp, 0, next))
		default:
			// Denied if anything in acc is asked for.
			block = append(block,
				asm.Mov.Reg32(rTmp, rAccess),
				asm.And.Imm32(rTmp, int32(acc)),
				asm.JEq.Imm(rTmp, 0, next))
		}
		// Numbers are at most 32 bits (ruleKey); the kernel's are 12
		// and 20 bits, so the signed immediate compares correctly.
		if k.major != wildcard {
			block = append(block, asm.JNE.Imm(rMajor, int32(k.major), next))
		}
		if k.minor != wildcard {
			block = append(block, asm.JNE.Imm(rMinor, int32(k.minor), next))
		}
		block = append(block, asm.Mov.Imm32(asm.R0, verdict(!s.allowAll)), asm.Return())
		if i > 0 {
			block[0] = block[0].WithSymbol("next" + strconv.Itoa(i-1))
		}
		insts = append(insts, block...)
	}
	last := asm.Mov.Imm32(asm.R0, verdict(s.allowAll))
	if n := len(s.except); n > 0 {
		last = last.WithSymbol("next" + strconv.Itoa(n-1))
	}
	return append(insts, last, asm.Return())
}

// loadDeviceProgram loads the program into the kernel. Kernels before
// 5.11 charge BPF memory to RLIMIT_MEMLOCK: when the load is refused for
// that, the limit is lifted for the load only, so that no process started
// later (a restarted container) inherits a raised limit.
func loadDeviceProgram(insts asm.Instructions) (*ebpf.Program, error) {
	spec := &ebpf.ProgramSpec{
		Type:         ebpf.CGroupDevice,
		Instructions: insts,
		License:      deviceLicense,
	}
	prog, err := ebpf.NewProgram(spec)
	if !errors.Is(err, unix.EPERM) {
		return prog, err
	}
	var old unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_MEMLOCK, &old) != nil {
		return nil, err
	}
	inf := unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}
	if unix.Setrlimit(unix.RLIMIT_MEMLOCK, &inf) != nil {
		return nil, err
	}
	defer unix.Setrlimit(unix.RLIMIT_MEMLOCK, &old)
	return ebpf.NewProgram(spec)
}

// setDevicesV2 attaches the set's program to the cgroup directory dir and
// then detaches the programs that were there before (an Update): for a
// moment both apply, and the kernel allows only what every attached
// program allows, so the cgroup is never without a filter nor more open
// than the old or the new rules.
func setDevicesV2(dir string, want *deviceSet) error {
	prog, err := loadDeviceProgram(want.program())
	if err != nil {
		return fmt.Errorf("set device rules: load the device filter: %w", err)
	}
	defer prog.Close()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("set device rules: open %s: %w", dir, err)
	}
	defer unix.Close(fd)
	old, err := link.QueryPrograms(link.QueryOptions{Target: fd, Attach: ebpf.AttachCGroupDevice})
	if err != nil {
		return fmt.Errorf("set device rules: list the device filters of %s: %w", dir, err)
	}
	err = link.RawAttachProgram(link.RawAttachProgramOptions{
		Target: fd, Program: prog, Attach: ebpf.AttachCGroupDevice, Flags: unix.BPF_F_ALLOW_MULTI,
	})
	if err != nil {
		return fmt.Errorf("set device rules: attach the device filter to %s: %w", dir, err)
	}
	for _, ap := range old.Programs {
		p, err := ebpf.NewProgramFromID(ap.ID)
		if errors.Is(err, unix.ENOENT) {
			continue // detached meanwhile
		}
		if err != nil {
			return fmt.Errorf("set device rules: detach the old device filter %d from %s: %w", ap.ID, dir, err)
		}
		err = link.RawDetachProgram(link.RawDetachProgramOptions{Target: fd, Program: p, Attach: ebpf.AttachCGroupDevice})
		p.Close()
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("set device rules: detach the old device filter %d from %s: %w", ap.ID, dir, err)
		}
	}
	return nil
}
