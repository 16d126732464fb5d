// Package seccomp gives containers Docker's default seccomp profile, or a
// user's profile in Docker's JSON format, and compiles it to a classic BPF
// filter in pure Go: berth is one static binary without cgo, so it cannot
// use libseccomp, which runc and crun link.
//
// The profile side is github.com/moby/profiles/seccomp, the package Docker
// itself uses: Docker's default profile as data, its JSON format, and the
// resolution of rules gated on capabilities, architectures and kernel
// versions into a runtime-spec LinuxSeccomp. Default adds two rules to
// Docker's: the io_uring syscalls are denied, and clone3 returns ENOSYS
// unless a rule names it.
//
// The compiler (Compile) reads a LinuxSeccomp as runc does (see policy)
// and emits a filter that keeps the hot path short: a balanced search
// over syscall-number ranges, argument checks only for the syscalls whose
// rules have arguments (so the kernel's per-syscall "always allowed"
// cache covers the rest), ENOSYS for syscalls newer than the profile
// (as runc does, so that a new libc falls back to older calls), and an
// assembler that routes conditional jumps beyond 255 instructions through
// long jumps. It knows the syscall tables of x86_64, x86, aarch64 and arm
// (zsysnum.go, generated from golang.org/x/sys/unix); x86_64's x32 ABI is
// not mapped: its syscalls kill the process, as libseccomp's "bad
// architecture" action does.
//
// Use at create time:
//
//	spec.Linux.Seccomp, err = seccomp.Default(spec) // or seccomp.Load(body, spec)
//
// and in the container's init (and in exec), just before execve, after
// setting no_new_privs if the spec asks for it:
//
//	prog, err := seccomp.Compile(spec.Linux.Seccomp)
//	err = prog.Apply()
//
// Compile is deterministic and takes well under a millisecond for Docker's
// profile; Marshal and Unmarshal carry a compiled program between
// processes when even that is to be saved.
package seccomp
