package seccomp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	profiles "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ioUring are the syscalls Default denies whatever the profile says:
// io_uring runs work in kernel threads that seccomp never sees, and has
// been a steady source of kernel exploits.
var ioUring = []string{"io_uring_setup", "io_uring_enter", "io_uring_register"}

// Default returns Docker's default profile resolved for spec: the rules
// gated on capabilities follow spec.Process.Capabilities.Bounding (fill
// the capabilities first), those gated on kernel versions follow this
// host's kernel, and the architectures are this host's. On top of
// Docker's rules: the io_uring syscalls return EPERM, and clone3 returns
// ENOSYS unless a rule names it (Docker's profile does this itself for
// containers without CAP_SYS_ADMIN, and allows clone3 to those with it).
func Default(spec *specs.Spec) (*specs.LinuxSeccomp, error) {
	s, err := profiles.GetDefaultProfile(capsOnly(spec))
	if err != nil {
		return nil, fmt.Errorf("seccomp: resolving the default profile: %w", err)
	}
	harden(s)
	return s, nil
}

// Load reads a profile in Docker's JSON format (--security-opt
// seccomp=PROFILE.json) and resolves it for spec as Default does, without
// Default's additions: a user's profile is taken as written. It checks
// everything Compile would reject, naming the rule at fault.
func Load(body []byte, spec *specs.Spec) (*specs.LinuxSeccomp, error) {
	var raw profiles.Seccomp
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("seccomp profile: %w", jsonError(body, err))
	}
	if err := check(&raw); err != nil {
		return nil, fmt.Errorf("seccomp profile: %w", err)
	}
	s, err := profiles.LoadProfile(string(body), capsOnly(spec))
	if err != nil {
		return nil, fmt.Errorf("seccomp profile: %w", err)
	}
	if s == nil {
		return nil, errors.New("seccomp profile: no defaultAction and no syscalls (to run without seccomp, use seccomp=unconfined)")
	}
	if _, err := newPolicy(s); err != nil {
		return nil, fmt.Errorf("seccomp profile: %w", err)
	}
	return s, nil
}

// check finds the errors of a profile as written, so that the indices in
// its messages are those of the file (resolving drops rules).
func check(raw *profiles.Seccomp) error {
	if raw.DefaultAction == "" {
		if len(raw.Syscalls) == 0 {
			return nil // Load says so
		}
		return errors.New("defaultAction is missing")
	}
	s := raw.LinuxSeccomp
	s.Syscalls = nil
	for i, sc := range raw.Syscalls {
		if sc == nil {
			return fmt.Errorf("syscalls[%d] is null", i)
		}
		if sc.Name != "" && len(sc.Names) != 0 {
			return fmt.Errorf("syscalls[%d]: both name and names are set", i)
		}
		ls := sc.LinuxSyscall
		if sc.Name != "" {
			ls.Names = []string{sc.Name}
		}
		s.Syscalls = append(s.Syscalls, ls)
	}
	if _, err := newPolicy(&s); err != nil {
		return err
	}
	if _, err := filterFlags(s.Flags); err != nil {
		return fmt.Errorf("flags: %w", err)
	}
	for _, a := range s.Architectures {
		if !slices.Contains(knownArches, a) {
			return fmt.Errorf("architectures: unknown architecture %q", a)
		}
	}
	for i, m := range raw.ArchMap {
		for _, a := range append([]specs.Arch{m.Arch}, m.SubArches...) {
			if !slices.Contains(knownArches, a) {
				return fmt.Errorf("archMap[%d]: unknown architecture %q", i, a)
			}
		}
	}
	return nil
}

// jsonError says where in body a decoding error is, and for a value of
// the wrong type, which field in the profile's own terms.
func jsonError(body []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var off int64
	switch {
	case errors.As(err, &syn):
		off = syn.Offset
	case errors.As(err, &typ):
		off = typ.Offset
		field := strings.NewReplacer("LinuxSeccomp.", "", "LinuxSyscall.", "").Replace(typ.Field)
		err = fmt.Errorf("%s: got %s, want %s", field, typ.Value, jsonKind(typ.Type))
	default:
		return err
	}
	// Offset counts the bytes read, the culprit's last included.
	off = min(max(off-1, 0), int64(len(body)))
	line := 1 + bytes.Count(body[:off], []byte("\n"))
	col := off - int64(bytes.LastIndexByte(body[:off], '\n'))
	return fmt.Errorf("line %d, column %d: %w", line, col, err)
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "non-negative integer"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "integer"
	case reflect.Bool:
		return "boolean"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "object"
}

// capsOnly gives the profile library the one part of a spec it reads,
// never nil.
func capsOnly(spec *specs.Spec) *specs.Spec {
	var bounding []string
	if spec != nil && spec.Process != nil && spec.Process.Capabilities != nil {
		bounding = spec.Process.Capabilities.Bounding
	}
	return &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: bounding}}}
}

// harden applies Default's additions to Docker's rules.
func harden(s *specs.LinuxSeccomp) {
	clone3 := false
	kept := s.Syscalls[:0]
	for _, sc := range s.Syscalls {
		sc.Names = slices.DeleteFunc(slices.Clone(sc.Names), func(n string) bool {
			return slices.Contains(ioUring, n)
		})
		clone3 = clone3 || slices.Contains(sc.Names, "clone3")
		if len(sc.Names) > 0 {
			kept = append(kept, sc)
		}
	}
	eperm, enosys := uint(unix.EPERM), uint(unix.ENOSYS)
	kept = append(kept, specs.LinuxSyscall{Names: slices.Clone(ioUring), Action: specs.ActErrno, ErrnoRet: &eperm})
	if !clone3 {
		kept = append(kept, specs.LinuxSyscall{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys})
	}
	s.Syscalls = kept
}
