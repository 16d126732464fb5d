package seccomp

import (
	"math/rand/v2"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// checkShape: every jump lands inside the program, forward, and the last
// instruction returns, as the kernel's checker demands.
func checkShape(t *testing.T, f []unix.SockFilter) {
	t.Helper()
	for i, in := range f {
		switch {
		case isJA(in.Code):
			if i+1+int(in.K) >= len(f) {
				t.Fatalf("%d: ja out of the program", i)
			}
		case isCond(in.Code):
			if i+1+int(in.Jt) >= len(f) || i+1+int(in.Jf) >= len(f) {
				t.Fatalf("%d: jump out of the program", i)
			}
		}
	}
	if f[len(f)-1].Code != unix.BPF_RET|unix.BPF_K {
		t.Fatal("the program does not end in a return")
	}
}

// TestLongJumps: conditional jumps over 300 and 1000 instructions, on
// both sides, and nested ones, land where their labels are.
func TestLongJumps(t *testing.T) {
	for _, gap := range []int{0, 1, 254, 255, 256, 300, 1000} {
		var a assembler
		far1, far2 := a.newLabel(), a.newLabel()
		a.load(offNr)
		a.jump(unix.BPF_JEQ, 1, far1, next) // far true side
		a.jump(unix.BPF_JEQ, 2, next, far2) // far false side
		for i := range gap {
			a.ret(uint32(10000 + i)) // nr 2 lands on the first
		}
		if gap == 0 {
			a.ret(10000)
		}
		a.bind(far1)
		a.ret(1)
		a.bind(far2)
		a.ret(2)
		f, err := a.assemble()
		if err != nil {
			t.Fatal(err)
		}
		checkShape(t, f)
		for nr, want := range map[uint32]uint32{1: 1, 2: 10000, 3: 2} {
			got, _, err := emulate(f, data{nr: nr})
			if err != nil || got != want {
				t.Errorf("gap %d nr %d: got %d (%v), want %d", gap, nr, got, err, want)
			}
		}
	}
}

// TestRandomJumps: random programs of compare chains whose targets are
// random later returns; the assembled program must pick the same return
// as the symbolic one for every input.
func TestRandomJumps(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for round := range 50 {
		var a assembler
		n := 50 + r.IntN(600)
		type node struct {
			k      uint32
			jt, jf int // indices into rets, or -1 for the next compare
		}
		nodes := make([]node, n)
		nrets := 1 + r.IntN(800)
		rets := make([]label, nrets)
		for i := range rets {
			rets[i] = a.newLabel()
		}
		a.load(offNr)
		for i := range nodes {
			nodes[i] = node{k: uint32(r.IntN(n)), jt: r.IntN(nrets), jf: -1}
			if r.IntN(3) == 0 {
				nodes[i].jf = r.IntN(nrets)
			}
			jf := next
			if nodes[i].jf >= 0 {
				jf = rets[nodes[i].jf]
			}
			a.jump(unix.BPF_JEQ, nodes[i].k, rets[nodes[i].jt], jf)
		}
		a.ret(1 << 20)
		for i, l := range rets {
			a.bind(l)
			a.ret(uint32(i))
		}
		f, err := a.assemble()
		if err != nil {
			t.Fatal(err)
		}
		checkShape(t, f)
		for nr := range uint32(n + 1) {
			want := uint32(1 << 20)
			for _, nd := range nodes {
				if nd.k == nr {
					want = uint32(nd.jt)
					break
				}
				if nd.jf >= 0 {
					want = uint32(nd.jf)
					break
				}
			}
			got, _, err := emulate(f, data{nr: nr})
			if err != nil || got != want {
				t.Fatalf("round %d nr %d: got %d (%v), want %d", round, nr, got, err, want)
			}
		}
	}
}

func TestAssemblerErrors(t *testing.T) {
	var a assembler
	a.ret(0)
	a.bind(a.newLabel())
	if _, err := a.assemble(); err == nil || !strings.Contains(err.Error(), "after the last instruction") {
		t.Errorf("dangling label: %v", err)
	}

	a = assembler{}
	back := a.newLabel()
	a.bind(back)
	a.load(offNr)
	a.jump(unix.BPF_JEQ, 0, back, next)
	a.ret(0)
	if _, err := a.assemble(); err == nil || !strings.Contains(err.Error(), "backwards") {
		t.Errorf("backward jump: %v", err)
	}

	a = assembler{}
	a.jump(unix.BPF_JEQ, 0, a.newLabel(), next)
	a.ret(0)
	if _, err := a.assemble(); err == nil || !strings.Contains(err.Error(), "unbound") {
		t.Errorf("unbound label: %v", err)
	}

	a = assembler{}
	for range maxInsns + 1 {
		a.ret(0)
	}
	if _, err := a.assemble(); err == nil || !strings.Contains(err.Error(), "limit of 4096") {
		t.Errorf("too long: %v", err)
	}
}
