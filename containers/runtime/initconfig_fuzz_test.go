package runtime

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"berth/containers/seccomp"
)

// The init stage runs as the container's PID 1 with the host's privileges
// until execve, and reads its whole configuration (the OCI spec stored in
// the container's record, seccomp profile included) from one pipe. A spec
// it cannot use must come back as a StartError the user sees, never as a
// panic (exit 2, "container init exited before starting the process").
// FuzzInitConfig feeds arbitrary bytes through what the stage does with
// them before touching the system: read the config, compile its seccomp
// filter, wait for the go-ahead.
func FuzzInitConfig(f *testing.F) {
	spec := &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: "/var/lib/berth/containers/x/rootfs"},
		Process: &specs.Process{
			Args: []string{"sh", "-c", "echo hi"}, Env: []string{"PATH=/bin"}, Cwd: "/",
			Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_CHOWN"}},
			Rlimits:      []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
		},
		Mounts: []specs.Mount{{Destination: "/proc", Type: "proc", Source: "proc"}},
		Linux: &specs.Linux{
			Namespaces:  []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.MountNamespace}},
			MaskedPaths: []string{"/proc/kcore"}, ReadonlyPaths: []string{"/proc/sys"},
		},
	}
	plain, _ := json.Marshal(InitConfig{Spec: spec, Lowers: []string{"/l"}, Upper: "/u", Work: "/w"})
	if sc, err := seccomp.Default(spec); err == nil {
		withFilter := *spec
		linux := *spec.Linux
		linux.Seccomp = sc
		withFilter.Linux = &linux
		b, _ := json.Marshal(InitConfig{Spec: &withFilter})
		f.Add(append(b, 'g'))
	}
	for _, s := range []string{
		string(plain) + "\ng",
		string(plain), // the monitor went away
		string(plain) + "x",
		`{"spec":null}g`,
		`{"spec":{}}g`,
		`{"spec":{"process":{"args":[]},"linux":{},"root":{"path":"/r"}}}g`,
		`{"exec":true,"pid":1,"spec":{"process":{"args":["sh"]},"linux":{}}}g`,
		`{"spec":{"process":{"args":["sh"]},"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":9,"value":1,"op":"SCMP_CMP_MASKED_EQ"}]}]}},"root":{"path":"/r"}}}g`,
		`{"spec":{"process":{"args":["sh"]},"linux":{"seccomp":{"defaultAction":"bogus","syscalls":[{"names":["nosuch"],"action":"SCMP_ACT_TRACE"}]}},"root":{"path":"/r"}}}g`,
		"",
		"{",
		`[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		dec := json.NewDecoder(r)
		cfg, err := readInitConfig(dec)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "init: read config: ") {
				t.Fatalf("error %q does not say it is the config", err)
			}
			return
		}
		// What the rest of the stage dereferences without looking.
		_ = cfg.Spec.Process.Args[0]
		_ = cfg.Spec.Linux.Namespaces
		if !cfg.Exec {
			_ = cfg.Spec.Root.Path
		}
		// The rest of the input is what follows the config: the go
		// message, with a compiled filter or not, and cgroup files or not.
		compiled, join, err := waitGo(io.MultiReader(dec.Buffered(), r))
		if err != nil && !strings.HasPrefix(err.Error(), "init: ") {
			t.Fatalf("go message error %q does not say what failed", err)
		}
		if err == nil && (join < 0 || join > maxJoin) {
			t.Fatalf("go message with %d cgroup files accepted", join)
		}
		if _, err := seccompFilter(&cfg, compiled); err != nil && !strings.HasPrefix(err.Error(), "seccomp: ") {
			t.Fatalf("seccomp error %q does not say what failed", err)
		}
	})
}
