package containers

import (
	"errors"
	"fmt"
	goruntime "runtime"
	"strings"
	"testing"

	"berth/containers/cgroups"
	"berth/errdefs"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cn   string
		cfg  Config
		hc   HostConfig
		want string // the exact message
	}{
		{"name", "bad name", Config{}, HostConfig{}, "invalid container name (bad name), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"},
		{"workdir", "", Config{WorkingDir: "rel"}, HostConfig{}, `the working directory "rel" is invalid: it needs to be an absolute path`},
		{"stop signal", "", Config{StopSignal: "NOPE"}, HostConfig{}, ""},
		{"network", "", Config{}, HostConfig{NetworkMode: "nosuchnet"}, "network nosuchnet not found: berth supports --network none and host"},
		{"log driver", "", Config{}, HostConfig{LogConfig: LogConfig{Type: "syslog"}}, `log driver "syslog" is not supported: berth writes json-file logs`},
		{"log max-size", "", Config{}, HostConfig{LogConfig: LogConfig{Config: map[string]string{"max-size": "-1"}}}, "invalid --log-opt max-size=-1: want a positive size such as 10m"},
		{"log max-file", "", Config{}, HostConfig{LogConfig: LogConfig{Config: map[string]string{"max-file": "0"}}}, "invalid --log-opt max-file=0: want a number of at least 1"},
		{"log opt", "", Config{}, HostConfig{LogConfig: LogConfig{Config: map[string]string{"labels": "a"}}}, `unknown log opt "labels" for json-file log driver`},
		{"cap", "", Config{}, HostConfig{CapAdd: []string{"NOT_A_CAP"}}, ""},
		{"security opt", "", Config{}, HostConfig{SecurityOpt: []string{"nope"}}, `invalid --security-opt "nope"`},
		{"device cgroup rule", "", Config{}, HostConfig{DeviceCgroupRules: []string{"x"}}, ""},
		{"sysctl", "", Config{}, HostConfig{Sysctls: map[string]string{"vm.swappiness": "1"}}, ""},
		{"net sysctl on the host's network", "", Config{}, HostConfig{NetworkMode: "host", Sysctls: map[string]string{"net.ipv4.ip_forward": "1"}}, `sysctl "net.ipv4.ip_forward" not allowed in host network namespace`},
		{"restart and rm", "", Config{}, HostConfig{AutoRemove: true, RestartPolicy: RestartPolicy{Name: "always"}}, "conflicting options: cannot specify both --restart and --rm"},
		{"restart unknown", "", Config{}, HostConfig{RestartPolicy: RestartPolicy{Name: "sometimes"}}, "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"},
		{"restart count on always", "", Config{}, HostConfig{RestartPolicy: RestartPolicy{Name: "always", MaximumRetryCount: 2}}, "invalid restart policy: maximum retry count can only be used with 'on-failure'"},
		{"restart negative count on no", "", Config{}, HostConfig{RestartPolicy: RestartPolicy{Name: "no", MaximumRetryCount: -1}}, "invalid restart policy: maximum retry count can only be used with 'on-failure' and cannot be negative"},
		{"restart negative on-failure", "", Config{}, HostConfig{RestartPolicy: RestartPolicy{Name: "on-failure", MaximumRetryCount: -2}}, "invalid restart policy: maximum retry count cannot be negative"},
		{"memory", "", Config{}, HostConfig{Resources: Resources{Memory: 1024}}, "invalid --memory 1024: minimum memory limit allowed is 6MB"},
		{"ulimit", "", Config{}, HostConfig{Resources: Resources{Ulimits: []Ulimit{{Name: "nofile", Soft: 2, Hard: 1}}}}, "invalid --ulimit nofile=2:1: soft limit above hard limit"},
		// Docker's messages for the flags Docker users type.
		{"cpus above the host's", "", Config{}, HostConfig{Resources: Resources{NanoCpus: int64(goruntime.NumCPU()+1) * 1e9}},
			fmt.Sprintf("range of CPUs is from 0.01 to %[1]d.00, as there are only %[1]d CPUs available", goruntime.NumCPU())},
		{"oom score adj", "", Config{}, HostConfig{OomScoreAdj: 1001}, "Invalid value 1001, range for oom score adj is [-1000, 1000]"},
		{"shm size", "", Config{}, HostConfig{ShmSize: -1}, "SHM size can not be less than 0"},
		{"pid mode", "", Config{}, HostConfig{PidMode: "private"}, "--pid: invalid PID mode"},
		{"pid container", "", Config{}, HostConfig{PidMode: "container:"}, "--pid: invalid PID mode"},
		{"ipc mode", "", Config{}, HostConfig{IpcMode: "foo"}, "invalid IPC mode: foo"},
		{"ipc container", "", Config{}, HostConfig{IpcMode: "container:"}, "invalid IPC mode: container:"},
		{"uts mode", "", Config{}, HostConfig{UTSMode: "private"}, "--uts: invalid UTS mode"},
		{"hostname with the host's uts", "", Config{Hostname: "h"}, HostConfig{UTSMode: "host"}, "conflicting options: hostname and the UTS mode"},
		{"userns mode", "", Config{}, HostConfig{UsernsMode: "private"}, "--userns: invalid USER mode"},
		{"cgroupns mode", "", Config{}, HostConfig{CgroupnsMode: "foo"}, "--cgroupns: invalid CGROUP mode"},
		{"ipc sysctl on the host's ipc", "", Config{}, HostConfig{IpcMode: "host", Sysctls: map[string]string{"kernel.shmmax": "1"}}, `sysctl "kernel.shmmax" is not allowed in the hosts ipc namespace`},
		{"uts sysctl on the host's uts", "", Config{}, HostConfig{UTSMode: "host", Sysctls: map[string]string{"kernel.domainname": "d"}}, `sysctl "kernel.domainname" is not allowed in the hosts uts namespace`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.cn, &tt.cfg, &tt.hc)
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("%v, want an invalid argument", err)
			}
			if tt.want != "" && err.Error() != tt.want {
				t.Errorf("%q, want %q", err, tt.want)
			}
		})
	}
}

func TestValidateCanonicalForm(t *testing.T) {
	cfg := Config{WorkingDir: "/w", StopSignal: "SIGUSR1"}
	hc := HostConfig{LogConfig: LogConfig{Config: map[string]string{"max-size": "10m", "max-file": "3"}},
		CapAdd: []string{"net_admin"}, SecurityOpt: []string{"no-new-privileges"}}
	if err := Validate("/ok_name-1", &cfg, &hc); err != nil {
		t.Fatal(err)
	}
	if hc.NetworkMode != "none" || hc.LogConfig.Type != "json-file" || hc.LogConfig.Config["max-size"] != "10485760" || hc.LogConfig.Config["max-file"] != "3" {
		t.Errorf("network %q, log %+v: want none, json-file, max-size in bytes", hc.NetworkMode, hc.LogConfig)
	}
	for _, mode := range []string{"", "default", "none", "host"} {
		hc := HostConfig{NetworkMode: mode}
		if err := hc.Validate(); err != nil || (mode == "host") != (hc.NetworkMode == "host") || (mode != "host" && hc.NetworkMode != "none") {
			t.Errorf("network %q: %v, became %q", mode, err, hc.NetworkMode)
		}
	}
	if err := (&HostConfig{Sysctls: map[string]string{"net.ipv4.ip_forward": "1"}}).Validate(); err != nil {
		t.Errorf("a net sysctl in the container's own network: %v", err)
	}
	if err := (&Config{StopSignal: "NOPE"}).Validate(); err == nil || !strings.Contains(err.Error(), "NOPE") {
		t.Errorf("bad stop signal: %v, want it named", err)
	}
}

// TestValidateDefaults: what inspect shows of a container made with none
// of the flags is Docker's.
func TestValidateDefaults(t *testing.T) {
	var cfg Config
	var hc HostConfig
	if err := Validate("", &cfg, &hc); err != nil {
		t.Fatal(err)
	}
	cgns := "host"
	if cgroups.Unified() {
		cgns = "private"
	}
	if hc.RestartPolicy.Name != "no" || hc.ShmSize != 64<<20 || hc.IpcMode != "private" || hc.PidMode != "" ||
		hc.UTSMode != "" || hc.UsernsMode != "" || hc.CgroupnsMode != cgns {
		t.Errorf("defaults: restart %q shm %d ipc %q pid %q uts %q userns %q cgroupns %q; want no, 64 MiB, private, \"\", \"\", \"\", %s",
			hc.RestartPolicy.Name, hc.ShmSize, hc.IpcMode, hc.PidMode, hc.UTSMode, hc.UsernsMode, hc.CgroupnsMode, cgns)
	}
	for _, ok := range []HostConfig{
		{PidMode: "host"}, {PidMode: "container:web"}, {IpcMode: "shareable"}, {IpcMode: "none"}, {IpcMode: "host"},
		{IpcMode: "container:web"}, {UTSMode: "host"}, {UsernsMode: "host"}, {CgroupnsMode: "host"}, {CgroupnsMode: "private"},
		{Resources: Resources{NanoCpus: int64(goruntime.NumCPU()) * 1e9}}, {OomScoreAdj: 1000},
	} {
		if err := Validate("", &Config{}, &ok); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
}
