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

// seccompSpec resolves the container's seccomp profile against its
// capabilities: Docker's default, none (unconfined, or --privileged with
// no profile named), or a profile file in Docker's JSON format.
func seccompSpec(opt string, privileged bool, spec *specs.Spec) (*specs.LinuxSeccomp, error) {
	switch {
	case opt == SeccompUnconfined, opt == "" && privileged:
		return nil, nil
	case opt == "" || opt == SeccompBuiltin:
		return seccomp.Default(spec)
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

// SeccompProfile names the profile c runs under: builtin, unconfined or
// the path it was loaded from.
func SeccompProfile(c *Container) string {
	if c.Spec == nil || c.Spec.Linux == nil || c.Spec.Linux.Seccomp == nil {
		return SeccompUnconfined
	}
	_, opt, err := parseSecurityOpts(c.HostConfig.SecurityOpt)
	if err != nil || opt == "" {
		return SeccompBuiltin
	}
	return opt
}
