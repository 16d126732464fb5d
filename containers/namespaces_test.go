package containers

import (
	"reflect"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func nsTypes(nss []specs.LinuxNamespace) []specs.LinuxNamespaceType {
	var out []specs.LinuxNamespaceType
	for _, ns := range nss {
		out = append(out, ns.Type)
	}
	slices.Sort(out)
	return out
}

// TestNamespaces: a shared namespace (host's, another container's) is not
// made; the cgroup namespace is as --cgroupns says.
func TestNamespaces(t *testing.T) {
	all := []specs.LinuxNamespaceType{specs.IPCNamespace, specs.MountNamespace, specs.NetworkNamespace, specs.PIDNamespace, specs.UTSNamespace}
	without := func(drop ...specs.LinuxNamespaceType) []specs.LinuxNamespaceType {
		return slices.DeleteFunc(slices.Clone(all), func(t specs.LinuxNamespaceType) bool { return slices.Contains(drop, t) })
	}
	for _, tc := range []struct {
		hc   HostConfig
		want []specs.LinuxNamespaceType
	}{
		{HostConfig{CgroupnsMode: "host"}, all},
		{HostConfig{CgroupnsMode: "host", PidMode: "host"}, without(specs.PIDNamespace)},
		{HostConfig{CgroupnsMode: "host", PidMode: "container:x"}, without(specs.PIDNamespace)},
		{HostConfig{CgroupnsMode: "host", IpcMode: "host"}, without(specs.IPCNamespace)},
		{HostConfig{CgroupnsMode: "host", IpcMode: "container:x"}, without(specs.IPCNamespace)},
		{HostConfig{CgroupnsMode: "host", IpcMode: "shareable"}, all},
		{HostConfig{CgroupnsMode: "host", IpcMode: "none"}, all},
		{HostConfig{CgroupnsMode: "host", UTSMode: "host"}, without(specs.UTSNamespace)},
		{HostConfig{CgroupnsMode: "host", NetworkMode: "host"}, without(specs.NetworkNamespace)},
		{HostConfig{CgroupnsMode: "private"}, append(slices.Clone(all), specs.CgroupNamespace)},
	} {
		got := nsTypes(Namespaces(&tc.hc))
		want := slices.Clone(tc.want)
		slices.Sort(want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%+v: %v, want %v", tc.hc, got, want)
		}
	}
}

// TestSpecForModes: /dev/shm, the hostname, groups and the OOM score as
// the flags ask, in the spec the runtime executes.
func TestSpecForModes(t *testing.T) {
	shm := func(s *specs.Spec) *specs.Mount {
		for i, m := range s.Mounts {
			if m.Destination == "/dev/shm" {
				return &s.Mounts[i]
			}
		}
		return nil
	}
	spec := func(cfg Config, hc HostConfig) *specs.Spec {
		t.Helper()
		if err := Validate("", &cfg, &hc); err != nil {
			t.Fatal(err)
		}
		cfg.Hostname = "abc"
		s, err := NewSpec(SpecInput{Dir: t.TempDir(), Config: &cfg, HostConfig: &hc, Image: v1.Config{Cmd: []string{"sh"}}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := spec(Config{}, HostConfig{})
	if m := shm(s); m == nil || m.Type != "tmpfs" || !slices.Contains(m.Options, "size=67108864") {
		t.Errorf("default /dev/shm %+v, want a tmpfs of 64 MiB", m)
	}
	if s.Hostname != "abc" || s.Process.OOMScoreAdj != nil || !reflect.DeepEqual(s.Process.User.AdditionalGids, []uint32{0}) {
		t.Errorf("default hostname %q, oom %v, groups %v", s.Hostname, s.Process.OOMScoreAdj, s.Process.User.AdditionalGids)
	}
	if m := shm(spec(Config{}, HostConfig{ShmSize: 128 << 20, IpcMode: "shareable"})); m == nil || !slices.Contains(m.Options, "size=134217728") {
		t.Errorf("--shm-size 128m: %+v", m)
	}
	if m := shm(spec(Config{}, HostConfig{IpcMode: "none"})); m != nil {
		t.Errorf("--ipc none: /dev/shm %+v", m)
	}
	if m := shm(spec(Config{}, HostConfig{IpcMode: "container:x"})); m != nil {
		t.Errorf("--ipc container: the spec has a /dev/shm of its own: %+v", m)
	}
	if m := shm(spec(Config{}, HostConfig{IpcMode: "host"})); m == nil || m.Type != "bind" || m.Source != "/dev/shm" {
		t.Errorf("--ipc host: /dev/shm %+v, want the host's bound", m)
	}
	s = spec(Config{}, HostConfig{UTSMode: "host", OomScoreAdj: 500, GroupAdd: []string{"7"}})
	if s.Hostname != "" || s.Process.OOMScoreAdj == nil || *s.Process.OOMScoreAdj != 500 || !reflect.DeepEqual(s.Process.User.AdditionalGids, []uint32{0, 7}) {
		t.Errorf("--uts host --oom-score-adj 500 --group-add 7: hostname %q, oom %v, groups %v", s.Hostname, s.Process.OOMScoreAdj, s.Process.User.AdditionalGids)
	}
}

func TestMergeExposedPorts(t *testing.T) {
	cfg := Config{Hostname: "h", ExposedPorts: map[string]struct{}{"80/tcp": {}}}
	if err := mergeImageConfig(&cfg, v1.Config{ExposedPorts: map[string]struct{}{"443/tcp": {}, "80/tcp": {}}}, false); err != nil {
		t.Fatal(err)
	}
	if want := map[string]struct{}{"80/tcp": {}, "443/tcp": {}}; !reflect.DeepEqual(cfg.ExposedPorts, want) {
		t.Errorf("exposed %v, want %v", cfg.ExposedPorts, want)
	}
}
