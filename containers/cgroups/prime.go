package cgroups

import (
	"os"
	"strconv"
	"strings"
)

// PrimeAttach moves this process into the cgroup it is already in: a
// no-op move, made for its side effect. Every move of a task between
// cgroups takes the kernel's cgroup_threadgroup_rwsem for writing, and
// when no move happened lately that first waits out an RCU grace period
// (6 to 13 ms on the machines berth is measured on), which the monitor's
// move of a container's first process into its cgroup would otherwise
// wait for on the start path. Started in the background as a command that
// will start a process begins, the wait overlaps the command's other work
// and the move that matters finds the lock warm. It touches one hierarchy
// (pids on v1, the unified one on v2) and ignores every failure.
func PrimeAttach() {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(data), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || strings.Contains(parts[2], "..") {
			continue
		}
		var dir string
		switch {
		case parts[0] == "0" && parts[1] == "" && Unified():
			dir = defaultRoot + parts[2]
		case parts[1] == "pids":
			dir = defaultRoot + "/pids" + parts[2]
		default:
			continue
		}
		_ = os.WriteFile(dir+"/cgroup.procs", []byte(strconv.Itoa(os.Getpid())), 0)
		return
	}
}
