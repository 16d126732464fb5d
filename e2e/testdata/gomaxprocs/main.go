// Command gomaxprocs prints the Go runtime's GOMAXPROCS, the number of
// CPUs the process may run on, and its CPU limit as the runtime finds it,
// for berth's end-to-end test of /sys/fs/cgroup (e2e/cgroupfs_test.go).
// Since Go 1.25 the runtime sizes GOMAXPROCS by that limit (rounded up,
// at least 2): it reads /proc/self/cgroup for the process's cgroup,
// /proc/self/mountinfo for where that cgroup is mounted (the mount's root
// and mount point), and the limit files there. This program follows the
// same steps, so that the test sees what the runtime saw on any machine,
// also one of two CPUs, where GOMAXPROCS stays 2. The test builds it into
// a static binary; the go tool ignores it otherwise (it lives under
// testdata).
package main

import (
	"fmt"
	"os"
	"path"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

func main() {
	limit := "none"
	if l, err := cpuLimit(); err != nil {
		limit = "error: " + err.Error()
	} else if l > 0 {
		limit = strconv.FormatFloat(l, 'g', -1, 64)
	}
	fmt.Printf("GOMAXPROCS=%d NumCPU=%d limit=%s\n", runtime.GOMAXPROCS(0), runtime.NumCPU(), limit)
}

// cpuLimit is the CPU bandwidth limit of the process's cgroup in CPUs, 0
// for none.
func cpuLimit() (float64, error) {
	cg, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0, err
	}
	// "0::/path" on v2; "N:cpu,cpuacct:/path" on v1 (preferred, as the
	// runtime does, when the cpu controller is on v1).
	v2, cgPath := false, ""
	for _, line := range strings.Split(strings.TrimSpace(string(cg)), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		if slices.Contains(strings.Split(f[1], ","), "cpu") {
			v2, cgPath = false, f[2]
			break
		}
		if f[0] == "0" && f[1] == "" {
			v2, cgPath = true, f[2]
		}
	}
	if cgPath == "" {
		return 0, fmt.Errorf("no cpu cgroup in %q", cg)
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return 0, err
	}
	dir := ""
	for _, line := range strings.Split(string(mi), "\n") {
		left, right, ok := strings.Cut(line, " - ")
		lf, rf := strings.Fields(left), strings.Fields(right)
		if !ok || len(lf) < 5 || len(rf) < 3 {
			continue
		}
		switch {
		case v2 && rf[0] == "cgroup2":
		case !v2 && rf[0] == "cgroup" && slices.Contains(strings.Split(rf[2], ","), "cpu"):
		default:
			continue
		}
		root, mnt := lf[3], lf[4]
		if rel, ok := strings.CutPrefix(cgPath, root); ok && (root == "/" || rel == "" || rel[0] == '/') {
			dir = path.Join(mnt, rel)
			break
		}
	}
	if dir == "" {
		return 0, nil // no cgroup file system shows the process's cgroup
	}
	if v2 {
		b, err := os.ReadFile(path.Join(dir, "cpu.max"))
		if err != nil {
			return 0, err
		}
		f := strings.Fields(string(b))
		if len(f) != 2 || f[0] == "max" {
			return 0, nil
		}
		return ratio(f[0], f[1])
	}
	q, err := os.ReadFile(path.Join(dir, "cpu.cfs_quota_us"))
	if err != nil {
		return 0, err
	}
	p, err := os.ReadFile(path.Join(dir, "cpu.cfs_period_us"))
	if err != nil {
		return 0, err
	}
	if strings.TrimSpace(string(q)) == "-1" {
		return 0, nil
	}
	return ratio(strings.TrimSpace(string(q)), strings.TrimSpace(string(p)))
}

func ratio(quota, period string) (float64, error) {
	q, err := strconv.ParseFloat(quota, 64)
	if err != nil {
		return 0, err
	}
	p, err := strconv.ParseFloat(period, 64)
	if err != nil || p == 0 {
		return 0, fmt.Errorf("period %q", period)
	}
	return q / p, nil
}
