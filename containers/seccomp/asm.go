package seccomp

import (
	"errors"
	"fmt"
	"math/bits"

	"golang.org/x/sys/unix"
)

// maxInsns is the kernel's limit on a classic BPF program (BPF_MAXINSNS).
const maxInsns = 4096

// label names an instruction that jumps go to; it is bound before the
// instruction is emitted. Classic BPF only jumps forward.
type label int

// insn is one instruction whose jump targets are still labels.
type insn struct {
	code   uint16
	k      uint32
	jt, jf label // targets of a conditional jump
}

// assembler collects instructions with symbolic forward jumps and lays them
// out, routing a conditional jump whose target is more than 255
// instructions away (its offsets are 8 bits) through an unconditional
// BPF_JA (32-bit offset) placed right after it.
type assembler struct {
	insns   []insn
	labels  []int   // label → index in insns of the instruction it names
	pending []label // labels that name the next instruction emitted
}

func (a *assembler) newLabel() label {
	a.labels = append(a.labels, -1)
	return label(len(a.labels) - 1)
}

// bind makes l name the next instruction emitted.
func (a *assembler) bind(l label) { a.pending = append(a.pending, l) }

// next, as a jump target, is the instruction emitted after the jump.
const next label = -1

func (a *assembler) emit(in insn) {
	for _, l := range a.pending {
		a.labels[l] = len(a.insns)
	}
	a.pending = a.pending[:0]
	if in.jt == next {
		in.jt = a.newLabel()
		a.bind(in.jt)
	}
	if in.jf == next {
		in.jf = a.newLabel()
		a.bind(in.jf)
	}
	a.insns = append(a.insns, in)
}

// load sets A to the 32-bit word at off in struct seccomp_data.
func (a *assembler) load(off uint32) {
	a.emit(insn{code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, k: off})
}

// and sets A to A & k.
func (a *assembler) and(k uint32) {
	a.emit(insn{code: unix.BPF_ALU | unix.BPF_AND | unix.BPF_K, k: k})
}

// ret ends the program with the seccomp return value k.
func (a *assembler) ret(k uint32) {
	a.emit(insn{code: unix.BPF_RET | unix.BPF_K, k: k})
}

// jump compares A with k (op is BPF_JEQ, BPF_JGT, BPF_JGE or BPF_JSET) and
// goes to jt if true, jf if false.
func (a *assembler) jump(op uint16, k uint32, jt, jf label) {
	a.emit(insn{code: unix.BPF_JMP | op | unix.BPF_K, k: k, jt: jt, jf: jf})
}

func isJA(code uint16) bool { return code == unix.BPF_JMP|unix.BPF_JA }

func isCond(code uint16) bool { return code&0x07 == unix.BPF_JMP && !isJA(code) }

// assemble resolves the labels. far[i] marks the sides of instruction i
// (bit 0: jt, bit 1: jf) that go through a trampoline; inserting one only
// moves later code further away, so the loop ends once no side changes.
func (a *assembler) assemble() ([]unix.SockFilter, error) {
	if len(a.pending) > 0 {
		return nil, errors.New("label bound after the last instruction")
	}
	n := len(a.insns)
	far := make([]uint8, n)
	pos := make([]int, n+1)
	target := func(l label) (int, error) {
		if l < 0 || int(l) >= len(a.labels) || a.labels[l] < 0 {
			return 0, fmt.Errorf("jump to unbound label %d", l)
		}
		return a.labels[l], nil
	}
	for {
		p := 0
		for i := range a.insns {
			pos[i] = p
			p += 1 + bits.OnesCount8(far[i])
		}
		pos[n] = p
		changed := false
		for i, in := range a.insns {
			if !isCond(in.code) {
				continue
			}
			for side, l := range [2]label{in.jt, in.jf} {
				if far[i]&(1<<side) != 0 {
					continue
				}
				t, err := target(l)
				if err != nil {
					return nil, err
				}
				if t <= i {
					return nil, fmt.Errorf("instruction %d jumps backwards to %d", i, t)
				}
				if pos[t]-pos[i]-1 > 255 {
					far[i] |= 1 << side
					changed = true
				}
			}
		}
		if !changed {
			break
		}
	}
	if pos[n] > maxInsns {
		return nil, fmt.Errorf("program has %d instructions, more than the kernel's limit of %d", pos[n], maxInsns)
	}

	out := make([]unix.SockFilter, 0, pos[n])
	for i, in := range a.insns {
		switch {
		case isCond(in.code):
			var off [2]uint8
			var tramps []int // targets of the trampolines after this instruction
			for side, l := range [2]label{in.jt, in.jf} {
				t, _ := target(l) // checked in the layout loop
				if far[i]&(1<<side) != 0 {
					off[side] = uint8(len(tramps))
					tramps = append(tramps, t)
				} else {
					off[side] = uint8(pos[t] - pos[i] - 1)
				}
			}
			out = append(out, unix.SockFilter{Code: in.code, Jt: off[0], Jf: off[1], K: in.k})
			for j, t := range tramps {
				out = append(out, unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JA, K: uint32(pos[t] - (pos[i] + 1 + j) - 1)})
			}
		default:
			out = append(out, unix.SockFilter{Code: in.code, K: in.k})
		}
	}
	return out, nil
}
