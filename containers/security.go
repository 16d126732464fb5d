package containers

import (
	"os"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"berth/containers/seccomp"
	"berth/errdefs"
)

// Seccomp profile names as `info` and `inspect` show them.
const (
	SeccompBuiltin    = "builtin"    // Docker's default profile
	SeccompUnconfined = "unconfined" // no filter (--privileged, seccomp=unconfined)
)

// parseSecurityOpts reads --security-opt as Docker does: KEY=VALUE, or the
// older KEY:VALUE. seccomp is "" (the default), "unconfined" or a profile's
// path.
func parseSecurityOpts(opts []string) (noNewPrivs bool, seccompOpt string, err error) {
	for _, o := range opts {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			k, v, _ = strings.Cut(o, ":")
		}
		switch k {
		case "no-new-privileges":
			switch v {
			case "", "true":
				noNewPrivs = true
			case "false":
				noNewPrivs = false
			default:
				return false, "", errdefs.InvalidArgument("invalid --security-opt %q: no-new-privileges takes true or false", o)
			}
		case "seccomp":
			if v == "" {
				return false, "", errdefs.InvalidArgument("invalid --security-opt %q: seccomp takes unconfined or a profile's path", o)
			}
			seccompOpt = v
		case "apparmor", "label":
			// Accepted for compatibility: berth applies no LSM profile.
		default:
			return false, "", errdefs.InvalidArgument("invalid --security-opt %q", o)
		}
	}
	return noNewPrivs, seccompOpt, nil
}

// seccompSpec is the profile a container's spec stores: a profile file's
// (read once, at create, as Docker does), or nil. Docker's default is not
// stored: resolved against the capabilities whenever a process starts
// (Seccomp), it would only make every record 10 kB larger, and every
// command that lists records slower.
func seccompSpec(opt string, privileged bool, spec *specs.Spec) (*specs.LinuxSeccomp, error) {
	switch {
	case opt == SeccompUnconfined, opt == "" && privileged:
		return nil, nil
	case opt == "" || opt == SeccompBuiltin:
		// Resolved now only to fail at create, not at start, if it can't.
		_, err := seccomp.Default(spec)
		return nil, err
	}
	body, err := os.ReadFile(opt)
	if err != nil {
		return nil, errdefs.InvalidArgument("opening seccomp profile (%s) failed: %v", opt, err)
	}
	s, err := seccomp.Load(body, spec)
	if err != nil {
		return nil, errdefs.InvalidArgument("%s: %v", opt, err)
	}
	return s, nil
}

// SeccompProfile names the profile c runs under, as its options chose it:
// builtin, unconfined or the path it was loaded from.
func SeccompProfile(c *Container) string {
	_, opt, err := parseSecurityOpts(c.HostConfig.SecurityOpt)
	switch {
	case err != nil:
		return SeccompBuiltin
	case opt == "" && c.HostConfig.Privileged:
		return SeccompUnconfined
	case opt == "":
		return SeccompBuiltin
	}
	return opt
}

// SeccompFilter compiles the seccomp filter of c's processes (PID 1 and
// every exec): its stored profile, or Docker's default resolved against
// its capabilities; nil when it runs unconfined.
func SeccompFilter(c *Container) (*seccomp.Program, error) {
	prof := c.Spec.Linux.Seccomp
	if prof == nil {
		if SeccompProfile(c) != SeccompBuiltin {
			return nil, nil
		}
		var err error
		if prof, err = seccomp.Default(c.Spec); err != nil {
			return nil, err
		}
	}
	return seccomp.Compile(prof)
}
