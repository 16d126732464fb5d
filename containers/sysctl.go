package containers

import (
	"maps"
	"strings"

	"berth/errdefs"
)

// Sysctls a container may set: only those its own namespaces hold, so that
// nothing it sets reaches the host (the rules of runc's validator).
var (
	ipcSysctls = map[string]bool{
		"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true, "kernel.sem": true,
		"kernel.shmall": true, "kernel.shmmax": true, "kernel.shmmni": true, "kernel.shm_rmid_forced": true,
	}
	ipcPrefix = "fs.mqueue."
	netPrefix = "net."
)

// networkSysctls are Docker's defaults for a container with a network
// namespace of its own: unprivileged ping and low ports, which are the
// container's alone there.
var networkSysctls = map[string]string{
	"net.ipv4.ping_group_range":           "0 2147483647",
	"net.ipv4.ip_unprivileged_port_start": "0",
}

// Sysctls returns the sysctls a container gets: Docker's defaults for its
// namespaces, overlaid with the user's (--sysctl), each checked to belong
// to a namespace of the container's own.
func Sysctls(hc *HostConfig) (map[string]string, error) {
	own := owned{net: hc.NetworkMode != "host", ipc: hc.IpcMode != ModeHost, uts: hc.UTSMode != ModeHost}
	out := map[string]string{}
	if own.net {
		maps.Copy(out, networkSysctls)
	}
	for k, v := range hc.Sysctls {
		if err := checkSysctl(k, own); err != nil {
			return nil, err
		}
		out[k] = v
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// owned says which namespaces holding sysctls are the container's own
// (or another container's it joined), not the host's.
type owned struct{ net, ipc, uts bool }

func checkSysctl(k string, own owned) error {
	if k == "" || strings.ContainsAny(k, "/ \t\n") || strings.Contains(k, "..") || strings.HasPrefix(k, ".") || strings.HasSuffix(k, ".") {
		return errdefs.InvalidArgument("invalid sysctl name %q", k)
	}
	switch {
	case ipcSysctls[k], strings.HasPrefix(k, ipcPrefix):
		if !own.ipc {
			return errdefs.InvalidArgument("sysctl %q is not allowed in the hosts ipc namespace", k)
		}
		return nil
	case strings.HasPrefix(k, netPrefix):
		if !own.net {
			return errdefs.InvalidArgument("sysctl %q not allowed in host network namespace", k)
		}
		return nil
	case k == "kernel.domainname":
		if !own.uts {
			return errdefs.InvalidArgument("sysctl %q is not allowed in the hosts uts namespace", k)
		}
		return nil
	}
	return errdefs.InvalidArgument("sysctl %q is not in a separate kernel namespace", k)
}

// ParseSysctls parses --sysctl KEY=VALUE options.
func ParseSysctls(opts []string) (map[string]string, error) {
	if len(opts) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(opts))
	for _, o := range opts {
		k, v, ok := strings.Cut(o, "=")
		if !ok || k == "" {
			return nil, errdefs.InvalidArgument("invalid sysctl value %q: it must be KEY=VALUE", o)
		}
		out[k] = v
	}
	return out, nil
}
