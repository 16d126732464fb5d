package seccomp

import (
	"errors"
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Offsets in struct seccomp_data (little-endian: an argument's low word
// comes first).
const (
	offNr   = 0
	offArch = 4
)

func offArgLo(i uint) uint32 { return 16 + 8*uint32(i) }
func offArgHi(i uint) uint32 { return 20 + 8*uint32(i) }

// Compile turns s into a seccomp BPF program. The result depends only on
// s and the architecture berth was built for, so it can be compiled once
// and handed around (Marshal).
//
// The program checks the architecture (the native one and the listed
// ones it has a table for; any other gets SECCOMP_RET_KILL_PROCESS, as
// does an x32 syscall on x86_64, which the compiler does not map), then
// finds the syscall number in a balanced tree of number ranges, so that
// a syscall whose fate does not depend on its arguments returns after
// about log2(ranges) comparisons (and the kernel, since 5.11, caches those
// that are allowed and never runs the filter for them again). Syscalls
// with argument rules test their arguments at the leaf.
//
// Unless the default action lets syscalls run: numbers above the highest
// one the profile names (syscalls newer than the profile) return ENOSYS
// rather than the default action, so that a libc falls back to an older
// call, as runc's filters do; and so does clone3 when no rule names it.
// (A profile that names no syscall of an architecture gets ENOSYS above
// the highest number of berth's table for it.)
// Syscall names that the architecture's table lacks are skipped, as
// libseccomp does.
func Compile(s *specs.LinuxSeccomp) (*Program, error) {
	if s == nil {
		return nil, errors.New("seccomp: no profile to compile")
	}
	p, err := newPolicy(s)
	if err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	flags, err := filterFlags(s.Flags)
	if err != nil {
		return nil, fmt.Errorf("seccomp: flags: %w", err)
	}
	list, err := resolveArches(s.Architectures)
	if err != nil {
		return nil, fmt.Errorf("seccomp: architectures: %w", err)
	}
	var a assembler
	a.load(offArch)
	for _, ar := range list {
		other := a.newLabel()
		a.jump(unix.BPF_JEQ, ar.audit, next, other)
		p.section(&a, ar)
		a.bind(other)
	}
	a.ret(retKillProcess)
	filter, err := a.assemble()
	if err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	return &Program{Filter: filter, Flags: flags}, nil
}

// entry is what one syscall number does: ret, or, when alts is not
// empty, the first alternative whose conditions hold, else the default.
type entry struct {
	uncond bool
	ret    uint32
	alts   []alt
}

type alt struct {
	conds []cond
	ret   uint32
}

// segment: the numbers from start up to the next segment's start do ret,
// or, for a single number with argument rules, e.
type segment struct {
	start uint32
	ret   uint32
	e     *entry
}

// section emits the code for one architecture: A holds nothing useful on
// entry; every path ends in a return.
func (p *policy) section(a *assembler, ar *arch) {
	entries := map[uint32]*entry{}
	last, named := uint32(0), false // the highest regular number the profile names
	resolve := func(name string) (uint32, bool) {
		nr, ok := ar.table.lookup(name)
		if ok && nr <= ar.table.max && nr >= last {
			last, named = nr, true
		}
		return nr, ok
	}
	for _, r := range p.rules {
		for _, name := range r.names {
			nr, ok := resolve(name)
			if !ok {
				continue
			}
			e := entries[nr]
			if e == nil {
				e = &entry{}
				entries[nr] = e
			}
			switch {
			case e.uncond:
			case r.alts == nil:
				*e = entry{uncond: true, ret: r.ret}
			default:
				for _, c := range r.alts {
					e.alts = append(e.alts, alt{conds: c, ret: r.ret})
				}
			}
		}
	}
	for _, name := range p.dropped {
		resolve(name)
	}
	if !named {
		last = ar.table.max
	}
	enosys := retENOSYS
	if p.passive {
		enosys = p.def
	} else if nr, ok := ar.table.lookup("clone3"); ok && !p.clone3Named {
		entries[nr] = &entry{uncond: true, ret: retENOSYS}
	}
	// Numbers above the regular table that it names (ARM's private
	// syscalls) are known: they get the default action, not ENOSYS.
	for _, s := range ar.table.names {
		if s.nr > ar.table.max && entries[s.nr] == nil {
			entries[s.nr] = &entry{uncond: true, ret: p.def}
		}
	}

	nrs := make([]uint32, 0, len(entries))
	for nr := range entries {
		nrs = append(nrs, nr)
	}
	slices.Sort(nrs)

	var segs []segment
	add := func(start uint64, s segment) {
		s.start = uint32(start)
		if n := len(segs); n > 0 && s.e == nil && segs[n-1].e == nil && segs[n-1].ret == s.ret {
			return
		}
		segs = append(segs, s)
	}
	max := uint64(last)
	gap := func(from, to uint64) { // numbers no entry names
		if from >= to {
			return
		}
		if from <= max {
			add(from, segment{ret: p.def})
			from = max + 1
		}
		if from < to {
			add(from, segment{ret: enosys})
		}
	}
	cur := uint64(0)
	for _, nr := range nrs {
		gap(cur, uint64(nr))
		e := entries[nr]
		if !e.uncond && allReturn(e.alts, p.def) {
			e = &entry{uncond: true, ret: p.def}
		}
		if e.uncond {
			add(uint64(nr), segment{ret: e.ret})
		} else {
			add(uint64(nr), segment{e: e})
		}
		cur = uint64(nr) + 1
	}
	if ar.x32 {
		gap(cur, x32Bit)
		add(x32Bit, segment{ret: retKillProcess})
		add(1<<32-1, segment{ret: enosys}) // -1: a tracer's skipped syscall
	} else {
		gap(cur, 1<<32)
	}

	a.load(offNr)
	p.tree(a, ar, segs)
}

func allReturn(alts []alt, ret uint32) bool {
	for _, x := range alts {
		if x.ret != ret {
			return false
		}
	}
	return true
}

// tree emits a balanced binary search over the segments: A is the
// syscall number.
func (p *policy) tree(a *assembler, ar *arch, segs []segment) {
	if len(segs) == 1 {
		p.leaf(a, ar, segs[0])
		return
	}
	mid := len(segs) / 2
	right := a.newLabel()
	a.jump(unix.BPF_JGE, segs[mid].start, right, next)
	p.tree(a, ar, segs[:mid])
	a.bind(right)
	p.tree(a, ar, segs[mid:])
}

func (p *policy) leaf(a *assembler, ar *arch, s segment) {
	if s.e == nil {
		a.ret(s.ret)
		return
	}
	for _, x := range s.e.alts {
		fail := a.newLabel()
		for _, c := range x.conds {
			emitCond(a, c, ar.bits32, fail)
		}
		a.ret(x.ret)
		a.bind(fail)
	}
	a.ret(p.def)
}

// emitCond falls through when c holds and goes to fail when it does not.
// A 64-bit argument is compared high word first; on a 32-bit ABI only the
// low word is.
func emitCond(a *assembler, c cond, bits32 bool, fail label) {
	lo, hi := offArgLo(c.index), offArgHi(c.index)
	vlo, vhi := uint32(c.value), uint32(c.value>>32)
	ok := a.newLabel()
	switch c.op {
	case specs.OpEqualTo:
		if !bits32 {
			a.load(hi)
			a.jump(unix.BPF_JEQ, vhi, next, fail)
		}
		a.load(lo)
		a.jump(unix.BPF_JEQ, vlo, ok, fail)
	case specs.OpNotEqual:
		if !bits32 {
			a.load(hi)
			a.jump(unix.BPF_JEQ, vhi, next, ok)
		}
		a.load(lo)
		a.jump(unix.BPF_JEQ, vlo, fail, ok)
	case specs.OpGreaterThan, specs.OpGreaterEqual:
		if !bits32 {
			a.load(hi)
			a.jump(unix.BPF_JGT, vhi, ok, next)
			a.jump(unix.BPF_JEQ, vhi, next, fail)
		}
		a.load(lo)
		op := uint16(unix.BPF_JGT)
		if c.op == specs.OpGreaterEqual {
			op = unix.BPF_JGE
		}
		a.jump(op, vlo, ok, fail)
	case specs.OpLessThan, specs.OpLessEqual:
		// x < v is !(x >= v), x <= v is !(x > v).
		if !bits32 {
			a.load(hi)
			a.jump(unix.BPF_JGT, vhi, fail, next)
			a.jump(unix.BPF_JEQ, vhi, next, ok)
		}
		a.load(lo)
		op := uint16(unix.BPF_JGE)
		if c.op == specs.OpLessEqual {
			op = unix.BPF_JGT
		}
		a.jump(op, vlo, fail, ok)
	case specs.OpMaskedEqual:
		mlo, mhi := vlo, vhi
		dlo, dhi := uint32(c.value2), uint32(c.value2>>32)
		if !bits32 && (mhi != 0 || dhi != 0) {
			a.load(hi)
			a.and(mhi)
			a.jump(unix.BPF_JEQ, dhi, next, fail)
		}
		a.load(lo)
		a.and(mlo)
		a.jump(unix.BPF_JEQ, dlo, ok, fail)
	}
	a.bind(ok)
}
