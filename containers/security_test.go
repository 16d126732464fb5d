package containers

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"berth/errdefs"
)

func TestSysctls(t *testing.T) {
	for _, tc := range []struct {
		name string
		hc   HostConfig
		want map[string]string
		bad  bool
	}{
		{"defaults in a private network", HostConfig{}, networkSysctls, false},
		{"none with the host's network", HostConfig{NetworkMode: "host"}, nil, false},
		{"user's over defaults", HostConfig{Sysctls: map[string]string{"net.ipv4.ip_unprivileged_port_start": "1024", "kernel.shmmax": "1"}},
			map[string]string{"net.ipv4.ping_group_range": "0 2147483647", "net.ipv4.ip_unprivileged_port_start": "1024", "kernel.shmmax": "1"}, false},
		{"mqueue", HostConfig{NetworkMode: "host", Sysctls: map[string]string{"fs.mqueue.msg_max": "20"}}, map[string]string{"fs.mqueue.msg_max": "20"}, false},
		{"host's network refuses net.*", HostConfig{NetworkMode: "host", Sysctls: map[string]string{"net.ipv4.ip_forward": "1"}}, nil, true},
		{"not namespaced", HostConfig{Sysctls: map[string]string{"vm.swappiness": "1"}}, nil, true},
		{"kernel.* outside ipc", HostConfig{Sysctls: map[string]string{"kernel.core_pattern": "|/x"}}, nil, true},
		{"path tricks", HostConfig{Sysctls: map[string]string{"net/../../kernel/core_pattern": "x"}}, nil, true},
		{"dot-dot", HostConfig{Sysctls: map[string]string{"net.ipv4..": "x"}}, nil, true},
	} {
		got, err := Sysctls(&tc.hc)
		if tc.bad {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("%s: err %v, want invalid argument", tc.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	if _, err := ParseSysctls([]string{"novalue"}); err == nil {
		t.Error("ParseSysctls took a value without =")
	}
}

func TestSecurityOpts(t *testing.T) {
	for _, tc := range []struct {
		opts    []string
		nnp     bool
		seccomp string
		bad     bool
	}{
		{nil, false, "", false},
		{[]string{"no-new-privileges"}, true, "", false},
		{[]string{"no-new-privileges:true"}, true, "", false},
		{[]string{"no-new-privileges=false"}, false, "", false},
		{[]string{"seccomp=unconfined"}, false, "unconfined", false},
		{[]string{"seccomp:unconfined"}, false, "unconfined", false},
		{[]string{"seccomp=/p.json", "apparmor=unconfined"}, false, "/p.json", false},
		{[]string{"seccomp="}, false, "", true},
		{[]string{"no-new-privileges=maybe"}, false, "", true},
		{[]string{"bogus=1"}, false, "", true},
	} {
		nnp, sc, err := parseSecurityOpts(tc.opts)
		if (err != nil) != tc.bad || nnp != tc.nnp || sc != tc.seccomp {
			t.Errorf("%q: got %v %q %v", tc.opts, nnp, sc, err)
		}
	}
}

func TestSeccompSpec(t *testing.T) {
	caps := []string{"CAP_CHOWN", "CAP_KILL"}
	spec := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}}}
	// Docker's default is not stored: resolved when a process starts.
	if s, err := seccompSpec("", false, spec); err != nil || s != nil {
		t.Errorf("default: %v, %v", s, err)
	}
	for _, opt := range []string{"unconfined"} {
		if s, err := seccompSpec(opt, false, spec); err != nil || s != nil {
			t.Errorf("%s: %v, %v", opt, s, err)
		}
	}
	if s, err := seccompSpec("", true, spec); err != nil || s != nil {
		t.Errorf("privileged: %v, %v", s, err)
	}
	p := filepath.Join(t.TempDir(), "p.json")
	os.WriteFile(p, []byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}`), 0o644)
	s, err := seccompSpec(p, true, spec)
	if err != nil || s == nil || s.DefaultAction != specs.ActAllow {
		t.Errorf("profile file (privileged too): %+v, %v", s, err)
	}
	if _, err := seccompSpec(filepath.Join(t.TempDir(), "nope.json"), false, spec); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("missing profile: %v", err)
	}
	os.WriteFile(p, []byte(`{"defaultAction":`), 0o644)
	if _, err := seccompSpec(p, false, spec); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("malformed profile: %v", err)
	}
}

func TestSeccompFilter(t *testing.T) {
	caps := []string{"CAP_CHOWN", "CAP_KILL"}
	newC := func(opts []string, privileged bool) *Container {
		spec := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: caps}}, Linux: &specs.Linux{}}
		c := &Container{Spec: spec, HostConfig: HostConfig{SecurityOpt: opts, Privileged: privileged}}
		var err error
		if spec.Linux.Seccomp, err = seccompSpec(func() string { _, o, _ := parseSecurityOpts(opts); return o }(), privileged, spec); err != nil {
			t.Fatal(err)
		}
		return c
	}
	p := filepath.Join(t.TempDir(), "p.json")
	os.WriteFile(p, []byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}`), 0o644)
	for _, tc := range []struct {
		name       string
		opts       []string
		privileged bool
		profile    string
		filter     bool
	}{
		{"default", nil, false, SeccompBuiltin, true},
		{"unconfined", []string{"seccomp=unconfined"}, false, SeccompUnconfined, false},
		{"privileged", nil, true, SeccompUnconfined, false},
		{"file", []string{"seccomp=" + p}, false, p, true},
		{"file, privileged", []string{"seccomp=" + p}, true, p, true},
	} {
		c := newC(tc.opts, tc.privileged)
		if got := SeccompProfile(c); got != tc.profile {
			t.Errorf("%s: profile %q, want %q", tc.name, got, tc.profile)
		}
		prog, err := SeccompFilter(c)
		if err != nil || (prog != nil) != tc.filter {
			t.Errorf("%s: filter %v, %v; want one: %v", tc.name, prog != nil, err, tc.filter)
		}
	}
}
