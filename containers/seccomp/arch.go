package seccomp

import (
	"fmt"
	"runtime"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// x32Bit marks the syscall numbers of the x32 ABI, which reach the filter
// with x86_64's audit architecture (__X32_SYSCALL_BIT).
const x32Bit = 0x40000000

// arch is an architecture the compiler has a syscall table for.
type arch struct {
	name  specs.Arch
	audit uint32 // seccomp_data.arch (AUDIT_ARCH_*)
	table *sysTable
	// bits32: arguments are 32-bit, only their low words are compared
	// (as libseccomp does on 32-bit ABIs).
	bits32 bool
	// x32: numbers with x32Bit set arrive under this audit value.
	x32 bool
}

var arches = []*arch{
	{name: specs.ArchX86_64, audit: unix.AUDIT_ARCH_X86_64, table: &sysAMD64, x32: true},
	{name: specs.ArchX86, audit: unix.AUDIT_ARCH_I386, table: &sys386, bits32: true},
	{name: specs.ArchAARCH64, audit: unix.AUDIT_ARCH_AARCH64, table: &sysARM64},
	{name: specs.ArchARM, audit: unix.AUDIT_ARCH_ARM, table: &sysARM, bits32: true},
}

// goarchs maps GOARCH to the architecture berth itself runs as.
var goarchs = map[string]specs.Arch{
	"amd64": specs.ArchX86_64,
	"386":   specs.ArchX86,
	"arm64": specs.ArchAARCH64,
	"arm":   specs.ArchARM,
}

// knownArches are the names the runtime-spec defines; a profile may list
// any of them, the compiler drops those it has no table for (no process on
// this host can make their syscalls).
var knownArches = []specs.Arch{
	specs.ArchX86, specs.ArchX86_64, specs.ArchX32, specs.ArchARM, specs.ArchAARCH64,
	specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32, specs.ArchMIPSEL,
	specs.ArchMIPSEL64, specs.ArchMIPSEL64N32, specs.ArchPPC, specs.ArchPPC64,
	specs.ArchPPC64LE, specs.ArchS390, specs.ArchS390X, specs.ArchPARISC,
	specs.ArchPARISC64, specs.ArchRISCV64, specs.ArchLOONGARCH64, specs.ArchM68K,
	specs.ArchSH, specs.ArchSHEB,
}

func archByName(name specs.Arch) *arch {
	for _, a := range arches {
		if a.name == name {
			return a
		}
	}
	return nil
}

// resolveArches returns the architectures to filter: the native one first
// (libseccomp's seccomp_init always includes it, so runc's filters do
// too), then the listed ones the compiler knows, in their order.
func resolveArches(list []specs.Arch) ([]*arch, error) {
	native := archByName(goarchs[runtime.GOARCH])
	if native == nil {
		return nil, fmt.Errorf("no syscall table for GOARCH %s", runtime.GOARCH)
	}
	out := []*arch{native}
	for _, name := range list {
		if !slices.Contains(knownArches, name) {
			return nil, fmt.Errorf("unknown architecture %q", name)
		}
		if a := archByName(name); a != nil && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out, nil
}
