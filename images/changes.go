package images

import (
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"
	"unicode"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"berth/errdefs"
	"berth/internal/shellwords"
)

// ApplyChanges applies Dockerfile instructions, as `docker import --change`
// and `docker commit --change` take them, to cfg: CMD, ENTRYPOINT, ENV,
// LABEL, WORKDIR, USER, EXPOSE, VOLUME, STOPSIGNAL and ONBUILD. CMD,
// ENTRYPOINT and VOLUME take the JSON form (["sh","-c","x"]) or the shell
// form (CMD echo hi is ["/bin/sh","-c","echo hi"]). An unknown or malformed
// instruction is an errdefs.ErrInvalidArgument error naming it. Variables
// ($VAR) are not substituted.
func ApplyChanges(cfg *v1.Config, changes []string) error {
	for _, c := range changes {
		if err := applyChange(cfg, c); err != nil {
			return err
		}
	}
	return nil
}

func applyChange(cfg *v1.Config, change string) error {
	line := strings.TrimSpace(change)
	if line == "" {
		return errdefs.InvalidArgument("invalid change: empty instruction")
	}
	kw, rest := line, ""
	if i := strings.IndexFunc(line, unicode.IsSpace); i >= 0 {
		kw, rest = line[:i], line[i+1:]
	}
	rest = strings.TrimSpace(rest)
	bad := func(format string, args ...any) error {
		return errdefs.InvalidArgument("invalid change %q: %s", change, fmt.Sprintf(format, args...))
	}
	kw = strings.ToUpper(kw)
	switch kw {
	case "CMD", "ENTRYPOINT":
		if rest == "" {
			return bad("%s requires at least one argument", kw)
		}
		args := commandArgs(rest)
		if kw == "CMD" {
			cfg.Cmd = args
		} else {
			cfg.Entrypoint = args
		}
	case "ENV", "LABEL":
		pairs, err := nameValues(rest)
		if err != nil {
			return bad("%s: %v", kw, err)
		}
		for _, p := range pairs {
			if kw == "ENV" {
				setEnv(cfg, p[0], p[1])
				continue
			}
			if cfg.Labels == nil {
				cfg.Labels = map[string]string{}
			}
			cfg.Labels[p[0]] = p[1]
		}
	case "WORKDIR":
		if rest == "" {
			return bad("WORKDIR requires exactly one argument")
		}
		dir, err := shellwords.Unquote(rest)
		if err != nil {
			return bad("WORKDIR: %v", err)
		}
		if !path.IsAbs(dir) {
			dir = path.Join("/", cfg.WorkingDir, dir)
		}
		cfg.WorkingDir = path.Clean(dir)
	case "USER":
		words, err := shellwords.SplitRaw(rest)
		if err != nil || len(words) != 1 {
			return bad("USER requires exactly one argument")
		}
		if cfg.User, err = shellwords.Unquote(words[0]); err != nil || cfg.User == "" {
			return bad("USER requires exactly one argument")
		}
	case "EXPOSE":
		words, err := shellwords.SplitRaw(rest)
		if err != nil {
			return bad("EXPOSE: %v", err)
		}
		if len(words) == 0 {
			return bad("EXPOSE requires at least one argument")
		}
		for _, w := range words {
			ports, err := parsePorts(w)
			if err != nil {
				return bad("EXPOSE: %v", err)
			}
			if cfg.ExposedPorts == nil {
				cfg.ExposedPorts = map[string]struct{}{}
			}
			for _, p := range ports {
				cfg.ExposedPorts[p] = struct{}{}
			}
		}
	case "VOLUME":
		vols, err := listArgs(rest)
		if err != nil {
			return bad("VOLUME: %v", err)
		}
		if len(vols) == 0 {
			return bad("VOLUME requires at least one argument")
		}
		for _, v := range vols {
			if v == "" {
				return bad("VOLUME: empty volume path")
			}
			if cfg.Volumes == nil {
				cfg.Volumes = map[string]struct{}{}
			}
			cfg.Volumes[v] = struct{}{}
		}
	case "STOPSIGNAL":
		words, err := shellwords.SplitRaw(rest)
		if err != nil || len(words) != 1 || !validSignal(words[0]) {
			return bad("STOPSIGNAL requires one signal name or number")
		}
		cfg.StopSignal = words[0]
	case "ONBUILD":
		if rest == "" {
			return bad("ONBUILD requires an instruction")
		}
		trigger, _, _ := strings.Cut(rest, " ")
		switch strings.ToUpper(trigger) {
		case "ONBUILD", "FROM", "MAINTAINER":
			return bad("%s is not allowed as an ONBUILD trigger", strings.ToUpper(trigger))
		}
		cfg.OnBuild = append(cfg.OnBuild, rest)
	default:
		return errdefs.InvalidArgument("invalid change %q: unknown or unsupported instruction %q (want CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME or WORKDIR)", change, kw)
	}
	return nil
}

// commandArgs parses the exec form (a JSON array of strings) or, failing
// that, the shell form, as Docker does.
func commandArgs(rest string) []string {
	if strings.HasPrefix(rest, "[") {
		var args []string
		if err := json.Unmarshal([]byte(rest), &args); err == nil {
			return args
		}
	}
	return []string{"/bin/sh", "-c", rest}
}

// listArgs parses a JSON array of strings or a list of shell words.
func listArgs(rest string) ([]string, error) {
	if strings.HasPrefix(rest, "[") {
		var args []string
		if err := json.Unmarshal([]byte(rest), &args); err == nil {
			return args, nil
		}
	}
	words, err := shellwords.SplitRaw(rest)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(words))
	for i, w := range words {
		if out[i], err = shellwords.Unquote(w); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func setEnv(cfg *v1.Config, name, value string) {
	for i, kv := range cfg.Env {
		if k, _, _ := strings.Cut(kv, "="); k == name {
			cfg.Env[i] = name + "=" + value
			return
		}
	}
	cfg.Env = append(cfg.Env, name+"="+value)
}

// nameValues parses "a=1 b=2" (quotes and escapes allowed, `"c d"=e`) or
// the legacy "name value with spaces".
func nameValues(rest string) ([][2]string, error) {
	words, err := shellwords.SplitRaw(rest)
	if err != nil {
		return nil, err
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("requires at least one argument")
	}
	if _, _, ok := shellwords.CutEq(words[0]); !ok {
		// Legacy form: the first word is the name, the rest of the line
		// the value.
		if len(words) < 2 {
			return nil, fmt.Errorf("%q has no value (want name=value or name value)", words[0])
		}
		name, err := shellwords.Unquote(words[0])
		if err != nil {
			return nil, err
		}
		value, err := shellwords.Unquote(strings.TrimSpace(rest[len(words[0]):]))
		if err != nil {
			return nil, err
		}
		if name == "" {
			return nil, fmt.Errorf("empty name")
		}
		return [][2]string{{name, value}}, nil
	}
	var out [][2]string
	for _, w := range words {
		k, v, ok := shellwords.CutEq(w)
		if !ok {
			return nil, fmt.Errorf("%q is not of the form name=value", w)
		}
		name, err := shellwords.Unquote(k)
		if err != nil {
			return nil, err
		}
		if name == "" {
			return nil, fmt.Errorf("%q has an empty name", w)
		}
		value, err := shellwords.Unquote(v)
		if err != nil {
			return nil, err
		}
		out = append(out, [2]string{name, value})
	}
	return out, nil
}

// parsePorts parses "80", "443/udp" or "8000-8002/tcp" into "port/proto"
// keys.
func parsePorts(spec string) ([]string, error) {
	ports, proto, found := strings.Cut(spec, "/")
	if !found {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	switch proto {
	case "tcp", "udp", "sctp":
	default:
		return nil, fmt.Errorf("invalid protocol %q in %q", proto, spec)
	}
	lo, hi, isRange := strings.Cut(ports, "-")
	if !isRange {
		hi = lo
	}
	start, err1 := strconv.ParseUint(lo, 10, 16)
	end, err2 := strconv.ParseUint(hi, 10, 16)
	if err1 != nil || err2 != nil || start == 0 || end < start {
		return nil, fmt.Errorf("invalid port %q", spec)
	}
	if end-start >= 65535 {
		return nil, fmt.Errorf("invalid port range %q", spec)
	}
	var out []string
	for p := start; p <= end; p++ {
		out = append(out, fmt.Sprintf("%d/%s", p, proto))
	}
	return out, nil
}

// validSignal accepts a signal number or a name like SIGTERM, TERM or
// SIGRTMIN+3.
func validSignal(s string) bool {
	if n, err := strconv.Atoi(s); err == nil {
		return n > 0 && n < 65
	}
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '+' || r == '-') {
			return false
		}
	}
	return true
}
