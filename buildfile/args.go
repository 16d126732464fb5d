package buildfile

import (
	"fmt"
	"runtime"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// Build arguments and the environment steps see, with BuildKit's scoping:
//
//   - the ARGs before the first FROM (and the predefined platform args)
//     are the global scope, seen by FROM lines only;
//   - in a stage, ARG NAME declares a build arg: its value is --build-arg's,
//     else its default (expanded), else the global one of the same name;
//   - a declared arg joins the environment RUN sees and words expand with,
//     as ENV does; whichever of the two set a name last wins there, and
//     only ENV reaches the image's configuration;
//   - a stage built FROM another stage starts with that stage's args and
//     environment.

// envList is an ordered KEY=VALUE list, as a process environment, usable
// as the shell lexer's variables.
type envList []string

func (l envList) Get(key string) (string, bool) {
	for i := len(l) - 1; i >= 0; i-- {
		if k, v, _ := strings.Cut(l[i], "="); k == key {
			return v, true
		}
	}
	return "", false
}

func (l envList) Keys() []string {
	keys := make([]string, 0, len(l))
	for _, kv := range l {
		k, _, _ := strings.Cut(kv, "=")
		keys = append(keys, k)
	}
	return keys
}

// set replaces key's value in place, or appends it.
func (l envList) set(key, value string) envList {
	for i, kv := range l {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			out := slices.Clone(l)
			out[i] = key + "=" + value
			return out
		}
	}
	return append(slices.Clip(l), key+"="+value)
}

var _ shell.EnvGetter = envList(nil)

// buildArg is a declared ARG; Value nil: declared without any value.
type buildArg struct {
	Key   string
	Value *string
}

func (a buildArg) String() string {
	if a.Value == nil {
		return a.Key
	}
	return a.Key + "=" + *a.Value
}

// proxyArgs are Docker's predefined args: usable through --build-arg
// without an ARG line, given to RUN, and kept out of the history and the
// cache key.
var proxyArgs = []string{
	"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
	"FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
}

func isProxyArg(k string) bool { return slices.Contains(proxyArgs, k) }

// platform is the os/arch/variant berth builds for (its own: no emulation).
type platform struct{ OS, Arch, Variant string }

func hostPlatform() platform {
	p := platform{OS: "linux", Arch: runtime.GOARCH}
	if p.Arch == "arm" {
		p.Variant = "v7"
	}
	return p
}

func (p platform) String() string {
	s := p.OS + "/" + p.Arch
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// parsePlatform reads --platform (os/arch[/variant]); "" is the host's.
func parsePlatform(s string) (platform, error) {
	if s == "" {
		return hostPlatform(), nil
	}
	parts := strings.Split(strings.ToLower(s), "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return platform{}, fmt.Errorf("invalid platform %q: want os/arch[/variant]", s)
	}
	p := platform{OS: parts[0], Arch: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

// globalArgs is the scope of FROM lines: the predefined platform args
// (overridable by --build-arg), then the ARGs before the first FROM. tp is
// the target platform (--platform; berth runs steps on its own).
func globalArgs(df *Dockerfile, lex *shell.Lex, buildArgs map[string]string, target string, tp platform) (envList, error) {
	bp := hostPlatform()
	if target == "" {
		target = "default"
	}
	var env envList
	for _, kv := range [][2]string{
		{"BUILDPLATFORM", bp.String()}, {"BUILDOS", bp.OS}, {"BUILDOSVERSION", ""},
		{"BUILDARCH", bp.Arch}, {"BUILDVARIANT", bp.Variant},
		{"TARGETPLATFORM", tp.String()}, {"TARGETOS", tp.OS}, {"TARGETOSVERSION", ""},
		{"TARGETARCH", tp.Arch}, {"TARGETVARIANT", tp.Variant}, {"TARGETSTAGE", target},
	} {
		v := kv[1]
		if ov, ok := buildArgs[kv[0]]; ok {
			v = ov
		}
		env = env.set(kv[0], v)
	}
	for _, cmd := range df.MetaArgs {
		for _, kv := range cmd.Args {
			if v, ok := buildArgs[kv.Key]; ok {
				env = env.set(kv.Key, v)
				continue
			}
			if kv.Value == nil {
				continue
			}
			v, _, err := lex.ProcessWord(*kv.Value, env)
			if err != nil {
				return nil, errorAt(df.Name, cmd.Location(), err)
			}
			env = env.set(kv.Key, v)
		}
	}
	return env, nil
}

// declareArgs applies an ARG line in a stage: the args it declares, with
// their values, and the environment with them.
func declareArgs(c *instructions.ArgCommand, lex *shell.Lex, buildArgs map[string]string, globals, env envList) ([]buildArg, envList, error) {
	var out []buildArg
	for _, kv := range c.Args {
		a := buildArg{Key: kv.Key}
		if v, ok := buildArgs[kv.Key]; ok {
			a.Value = &v
		} else if kv.Value != nil {
			v, _, err := lex.ProcessWord(*kv.Value, env)
			if err != nil {
				return nil, nil, err
			}
			a.Value = &v
		} else if v, ok := globals.Get(kv.Key); ok {
			a.Value = &v
		}
		if a.Value != nil {
			env = env.set(a.Key, *a.Value)
		}
		out = append(out, a)
	}
	return out, env, nil
}

// addArgs puts newly declared args in scope: a name declared again keeps
// its place with its new value.
func addArgs(scope, declared []buildArg) []buildArg {
	out := slices.Clone(scope)
	for _, a := range declared {
		if i := slices.IndexFunc(out, func(b buildArg) bool { return b.Key == a.Key }); i >= 0 {
			out[i] = a
		} else {
			out = append(out, a)
		}
	}
	return out
}

// argsInEnv lists the args in scope as RUN's history shows them: each
// with the value the environment gives it (ENV may have overridden it).
func argsInEnv(scope []buildArg, env envList) []string {
	var out []string
	for _, a := range scope {
		v, ok := env.Get(a.Key)
		if !ok && a.Value != nil {
			v = *a.Value
		}
		out = append(out, a.Key+"="+v)
	}
	return out
}

// proxyEnv is the proxy args given by --build-arg and not declared: RUN
// sees them, the history and cache key do not.
func proxyEnv(buildArgs map[string]string, scope []buildArg) []string {
	var out []string
	for _, k := range proxyArgs {
		v, ok := buildArgs[k]
		if !ok || slices.ContainsFunc(scope, func(a buildArg) bool { return a.Key == k }) {
			continue
		}
		out = append(out, k+"="+v)
	}
	return out
}
