//go:build amd64

package seccomp

import (
	"fmt"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkCompileDefault: the cost of compiling Docker's profile, paid
// in each container's init and exec unless a compiled program is handed
// over.
func BenchmarkCompileDefault(b *testing.B) {
	s, err := Default(specWithCaps(dockerCaps...))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Compile(s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDefault: resolving Docker's profile for a spec, at create time.
func BenchmarkDefault(b *testing.B) {
	spec := specWithCaps(dockerCaps...)
	for b.Loop() {
		if _, err := Default(spec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSyscalls times 10 million syscalls in a child, without a
// filter ("bare"), under a one-instruction filter that allows everything
// ("floor": what the kernel's seccomp entry path costs whatever the
// filter), and under Docker's default profile ("filtered"): getppid,
// which the kernel's cache of always-allowed syscalls lets through
// without running the filter, and personality(0xffffffff), whose rule has
// an argument, so the whole filter runs for each call. Figures are ns
// per syscall.
func BenchmarkSyscalls(b *testing.B) {
	if testing.Short() {
		b.Skip("10 million syscalls per figure")
	}
	s, err := Default(specWithCaps(dockerCaps...))
	if err != nil {
		b.Fatal(err)
	}
	p := mustCompile(b, s)
	floor := &Program{Filter: []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: retAllow}}}
	const n = 10_000_000
	loops := map[string]string{
		"getppid":     fmt.Sprintf("loop:%d:%d", n, unix.SYS_GETPPID),
		"personality": fmt.Sprintf("loop:%d:%d:0xffffffff", n, unix.SYS_PERSONALITY),
	}
	for _, name := range []string{"getppid", "personality"} {
		b.Run(name, func(b *testing.B) {
			var bare, low, filtered float64
			for b.Loop() {
				bare += nsPerCall(b, nil, loops[name])
				low += nsPerCall(b, floor, loops[name])
				filtered += nsPerCall(b, p, loops[name])
			}
			b.ReportMetric(bare/float64(b.N), "ns/call-bare")
			b.ReportMetric(low/float64(b.N), "ns/call-floor")
			b.ReportMetric(filtered/float64(b.N), "ns/call-filtered")
			b.ReportMetric(filtered/low, "filtered/floor")
		})
	}
}

func nsPerCall(b *testing.B, p *Program, loop string) float64 {
	r := runChild(b, p, true, loop)
	v, err := strconv.ParseFloat(r.results[loop], 64)
	if err != nil || !r.state.Success() {
		b.Fatalf("child: %v %q\n%s", r.state, r.results[loop], r.stderr)
	}
	return v
}
