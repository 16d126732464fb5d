package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"berth/errdefs"
)

// The v2 code paths, against a tree of plain files that looks like a
// cgroup2 mount (this host's cgroup2 mount holds no controllers). Plain
// files do not behave like cgroup files: a write replaces the content and
// nothing is computed, so these tests check what is written and parsed.

// fakeV2 makes a unified root with the files of a cgroup v2 root and of a
// leaf at path (directories made in advance, as mkdir on a plain file
// system creates no files).
func fakeV2(t *testing.T, path string, leafFiles map[string]string) (*FS, string) {
	t.Helper()
	root := t.TempDir()
	dir := root
	for _, elem := range append([]string{""}, strings.Split(path, "/")...) {
		dir = filepath.Join(dir, elem)
		must(t, os.MkdirAll(dir, 0o755))
		put(t, dir, "cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n")
		put(t, dir, "cgroup.subtree_control", "")
	}
	for name, content := range leafFiles {
		put(t, dir, name, content)
	}
	return &FS{Mode: V2, Unified: root}, dir
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func put(t *testing.T, dir, name, content string) {
	t.Helper()
	must(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
}

func get(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	must(t, err)
	return string(b)
}

// v2Leaf is the set of limit files of a v2 cgroup, as the kernel creates
// them (without io.bfq.weight: no BFQ).
func v2Leaf() map[string]string {
	return map[string]string{
		"cgroup.procs": "", "cgroup.freeze": "0", "cgroup.events": "populated 0\nfrozen 0\n",
		"memory.max": "max\n", "memory.swap.max": "max\n", "memory.low": "0\n",
		"cpu.weight": "100\n", "cpu.max": "max 100000\n", "cpuset.cpus": "", "cpuset.mems": "",
		"pids.max": "max\n", "io.weight": "default 100\n", "io.max": "",
	}
}

func TestFakeV2New(t *testing.T) {
	fs, leaf := fakeV2(t, "berth/c1", v2Leaf())
	c, err := fs.New("berth/c1", &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: ptr(int64(32 << 20)), Swap: ptr(int64(48 << 20)), Reservation: ptr(int64(16 << 20))},
		CPU:     &specs.LinuxCPU{Shares: ptr(uint64(512)), Quota: ptr(int64(50000)), Period: ptr(uint64(100000)), Cpus: "0-1", Mems: "0"},
		Pids:    &specs.LinuxPids{Limit: ptr(int64(10))},
		BlockIO: &specs.LinuxBlockIO{Weight: ptr(uint16(500))},
	})
	must(t, err)
	if c.Dir("memory") != leaf || c.Dir("") != leaf {
		t.Errorf("Dir = %s, want %s", c.Dir("memory"), leaf)
	}
	// Controllers enabled in the ancestors, not in the leaf.
	for _, d := range []string{fs.Unified, filepath.Dir(leaf)} {
		if got := get(t, d, "cgroup.subtree_control"); got != "+cpu +cpuset +memory +pids +io" {
			t.Errorf("%s/cgroup.subtree_control = %q", d, got)
		}
	}
	if got := get(t, leaf, "cgroup.subtree_control"); got != "" {
		t.Errorf("leaf subtree_control = %q", got)
	}
	want := map[string]string{
		"memory.max":      "33554432",
		"memory.swap.max": "16777216", // 48M-32M
		"memory.low":      "16777216",
		"cpu.weight":      "20", // 1 + (510*9999)/262142
		"cpu.max":         "50000 100000",
		"cpuset.cpus":     "0-1",
		"cpuset.mems":     "0",
		"pids.max":        "10",
		"io.weight":       "default 4950", // 1 + (490*9999)/990
	}
	for f, v := range want {
		if got := get(t, leaf, f); got != v {
			t.Errorf("%s = %q, want %q", f, got, v)
		}
	}

	// Update: the period alone keeps the quota; -1 quota is "max".
	must(t, c.Update(&specs.LinuxResources{CPU: &specs.LinuxCPU{Period: ptr(uint64(200000))}}))
	if got := get(t, leaf, "cpu.max"); got != "50000 200000" {
		t.Errorf("cpu.max after period update = %q", got)
	}
	must(t, c.Update(&specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr(int64(-1))}}))
	if got := get(t, leaf, "cpu.max"); got != "max" {
		t.Errorf("cpu.max after quota -1 = %q", got)
	}
	must(t, c.Update(&specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr(int64(-1)), Swap: ptr(int64(-1))},
		Pids:   &specs.LinuxPids{Limit: ptr(int64(0))},
	}))
	for f, v := range map[string]string{"memory.max": "max", "memory.swap.max": "max", "pids.max": "max"} {
		if got := get(t, leaf, f); got != v {
			t.Errorf("%s = %q, want %q", f, got, v)
		}
	}
	// Throttles go to io.max.
	must(t, c.Update(&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
		ThrottleWriteBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 1048576}},
	}}))
	if got := get(t, leaf, "io.max"); got != "8:0 wbps=1048576" {
		t.Errorf("io.max = %q", got)
	}
}

func TestFakeV2Errors(t *testing.T) {
	leafFiles := v2Leaf()
	delete(leafFiles, "io.weight")
	delete(leafFiles, "memory.swap.max") // no swap accounting
	fs, leaf := fakeV2(t, "berth/c2", leafFiles)
	c, err := fs.New("berth/c2", nil)
	must(t, err)

	// No swap accounting: the swap limit is skipped.
	must(t, c.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(64 << 20)), Swap: ptr(int64(128 << 20))}}))
	if got := get(t, leaf, "memory.max"); got != "67108864" {
		t.Errorf("memory.max = %q", got)
	}
	cases := []struct {
		name string
		r    *specs.LinuxResources
		want string
	}{
		{"oom-kill-disable", &specs.LinuxResources{Memory: &specs.LinuxMemory{DisableOOMKiller: ptr(true)}},
			"set oom-kill-disable: not supported on cgroup v2"},
		{"no io weight", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr(uint16(100))}},
			"set blkio weight 100: the kernel offers neither io.bfq.weight nor io.weight"},
		{"swap below memory", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(64 << 20)), Swap: ptr(int64(32 << 20))}},
			"set memory+swap limit 33554432: below the memory limit 67108864"},
		{"swap without memory", &specs.LinuxResources{Memory: &specs.LinuxMemory{Swap: ptr(int64(32 << 20))}},
			"needs a memory limit"},
		{"missing file", &specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: ptr(int64(1))}, Unified: map[string]string{"memory.high": "1G"}},
			"set memory.high 1G: memory.high does not exist (is the memory controller enabled?)"},
	}
	for _, tc := range cases {
		err := c.Update(tc.r)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	// With BFQ the weight goes as is to io.bfq.weight.
	put(t, leaf, "io.bfq.weight", "default 100\n")
	must(t, c.Update(&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr(uint16(300))}}))
	if got := get(t, leaf, "io.bfq.weight"); got != "300" {
		t.Errorf("io.bfq.weight = %q", got)
	}
	// v1-only calls.
	if err := c.JoinThread(); err == nil {
		t.Error("JoinThread worked on v2")
	}
	d, err := c.OpenDir()
	must(t, err)
	if fi, _ := d.Stat(); fi == nil || !fi.IsDir() {
		t.Error("OpenDir did not open a directory")
	}
	d.Close()
}

func TestFakeV2Stats(t *testing.T) {
	files := v2Leaf()
	files["cpu.stat"] = "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 10\nnr_throttled 3\nthrottled_usec 250\nnr_bursts 0\nburst_usec 0\n"
	files["memory.current"] = "1048576\n"
	files["memory.max"] = "max\n"
	files["memory.stat"] = "anon 4096\nfile 8192\nkernel 1\ninactive_file 2048\nactive_file 6144\n"
	files["memory.events"] = "low 0\nhigh 0\nmax 7\noom 3\noom_kill 2\noom_group_kill 0\n"
	files["pids.current"] = "3\n"
	files["pids.max"] = "100\n"
	files["io.stat"] = "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n259:0 rbytes=1000 wbytes=2000 rios=3 wios=4 dbytes=0 dios=0\n"
	files["cpu.pressure"] = "some avg10=1.50 avg60=0.20 avg300=0.00 total=123\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
	files["memory.pressure"] = "some avg10=2.25 avg60=0.00 avg300=0.00 total=1\nfull avg10=1.25 avg60=0.00 avg300=0.00 total=1\n"
	files["io.pressure"] = "some avg10=3.00 avg60=0.00 avg300=0.00 total=1\nfull avg10=0.75 avg60=0.00 avg300=0.00 total=1\n"
	files["cgroup.procs"] = "12\n34\n"
	fs, _ := fakeV2(t, "berth/c3", files)
	c := fs.Load("berth/c3")
	s, err := c.Stats()
	must(t, err)
	want := Stats{
		CPUUsageNanos: 1500000, CPUUser: 1000000, CPUSystem: 500000,
		NrPeriods: 10, NrThrottled: 3, ThrottledNanos: 250000,
		MemoryUsage: 1048576, MemoryLimit: 0, MemoryInactiveFile: 2048, MemoryCache: 8192,
		Pids: 3, PidsLimit: 100, BlkioRead: 1100, BlkioWrite: 2200,
		PSI: &PSI{CPUSome10: 1.5, MemorySome10: 2.25, MemoryFull10: 1.25, IOSome10: 3, IOFull10: 0.75},
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("Stats =\n%+v %+v\nwant\n%+v %+v", s, s.PSI, want, want.PSI)
	}
	if n, err := c.OOMKills(); err != nil || n != 2 {
		t.Errorf("OOMKills = %d, %v, want 2", n, err)
	}
	if p, err := c.Procs(); err != nil || !reflect.DeepEqual(p, []int{12, 34}) {
		t.Errorf("Procs = %v, %v", p, err)
	}
	// Missing files read as 0; a missing cgroup is an error.
	fs2, _ := fakeV2(t, "berth/c4", nil)
	if s, err := fs2.Load("berth/c4").Stats(); err != nil || s.MemoryUsage != 0 || s.PSI != nil {
		t.Errorf("empty cgroup: %+v, %v", s, err)
	}
	if _, err := fs2.Load("berth/gone").Stats(); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing cgroup: %v", err)
	}
}

func TestFakeV2Freeze(t *testing.T) {
	fs, leaf := fakeV2(t, "berth/c5", v2Leaf())
	c := fs.Load("berth/c5")
	old := FreezeTimeout
	t.Cleanup(func() { FreezeTimeout = old })
	FreezeTimeout = 300 * time.Millisecond

	// The "kernel" reports frozen a little later.
	go func() {
		time.Sleep(50 * time.Millisecond)
		put(t, leaf, "cgroup.events", "populated 1\nfrozen 1\n")
	}()
	must(t, c.Freeze())
	if got := get(t, leaf, "cgroup.freeze"); got != "1" {
		t.Errorf("cgroup.freeze = %q", got)
	}
	if f, err := c.Frozen(); err != nil || !f {
		t.Errorf("Frozen = %v, %v", f, err)
	}
	// Thaw waits for "frozen 0", which never comes here.
	if err := c.Thaw(); err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("Thaw without the kernel's answer: %v", err)
	}
	put(t, leaf, "cgroup.events", "populated 1\nfrozen 0\n")
	must(t, c.Thaw())
	// A freeze that does not finish is undone.
	if err := c.Freeze(); err == nil {
		t.Error("Freeze returned without cgroup.events saying frozen")
	}
	if got := get(t, leaf, "cgroup.freeze"); got != "0" {
		t.Errorf("cgroup.freeze after a failed freeze = %q", got)
	}
}

func TestFakeV2EnableOneByOne(t *testing.T) {
	// A root that offers no io controller: only the others are enabled.
	fs, _ := fakeV2(t, "a/b", v2Leaf())
	put(t, fs.Unified, "cgroup.controllers", "cpu memory pids\n")
	put(t, fs.Unified, "cgroup.subtree_control", "cpu\n")
	_, err := fs.New("a/b", nil)
	must(t, err)
	if got := get(t, fs.Unified, "cgroup.subtree_control"); got != "+memory +pids" {
		t.Errorf("subtree_control = %q", got)
	}
}

func TestBadPaths(t *testing.T) {
	fs := &FS{Mode: V2, Unified: t.TempDir()}
	for _, p := range []string{"", "/", "..", "../x", "a/../../b", "a//b/"} {
		if _, err := fs.New(p, nil); err == nil {
			t.Errorf("New(%q) worked", p)
		}
	}
	if c := fs.Load("/berth/x"); c.err != nil || c.Path() != "berth/x" {
		t.Errorf("Load(/berth/x): %v %q", c.err, c.Path())
	}
}

func TestParseMountinfo(t *testing.T) {
	hybrid := `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`
	fs, err := parseMountinfo(strings.NewReader(hybrid))
	must(t, err)
	if fs.Mode != V1 || fs.Controllers["memory"] != "/sys/fs/cgroup/memory" || fs.Controllers["cpuacct"] != "/sys/fs/cgroup/cpuacct" || len(fs.Controllers) != 3 {
		t.Errorf("hybrid: %+v", fs)
	}
	comounted := `25 20 0:22 / /sys/fs/cgroup/cpu,cpuacct rw shared:9 - cgroup cgroup rw,cpu,cpuacct
26 20 0:23 / /sys/fs/cgroup/my\040dir rw - cgroup cgroup rw,pids
`
	fs, err = parseMountinfo(strings.NewReader(comounted))
	must(t, err)
	if fs.Controllers["cpu"] != "/sys/fs/cgroup/cpu,cpuacct" || fs.Controllers["cpuacct"] != fs.Controllers["cpu"] || fs.Controllers["pids"] != "/sys/fs/cgroup/my dir" {
		t.Errorf("co-mounted: %+v", fs)
	}
	c := fs.Load("berth/x")
	if n := len(c.uniqueDirs()); n != 2 {
		t.Errorf("co-mounted controllers give %d dirs, want 2", n)
	}
	unified := `24 22 0:21 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`
	fs, err = parseMountinfo(strings.NewReader(unified))
	must(t, err)
	if fs.Mode != V2 || fs.Unified != "/sys/fs/cgroup" {
		t.Errorf("unified: %+v", fs)
	}
	if _, err := parseMountinfo(strings.NewReader("1 0 0:1 / / rw - ext4 /dev/sda rw\n")); err == nil {
		t.Error("no cgroup mounts: no error")
	}
}

// planV1 orders memory and memory+swap so that memory <= memsw after every
// write, and writes the period before the quota.
func TestPlanV1Order(t *testing.T) {
	files := func(ws []write) []string {
		var out []string
		for _, w := range ws {
			out = append(out, w.to[0].file+"="+w.to[0].data)
		}
		return out
	}
	cur := func(memsw string) reader {
		return func(ctrl, file string) string {
			if file == "memory.memsw.limit_in_bytes" {
				return memsw
			}
			return ""
		}
	}
	mem := func(limit, swap int64) *specs.LinuxResources {
		return &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit, Swap: &swap}}
	}
	cases := []struct {
		r     *specs.LinuxResources
		memsw string
		want  []string
	}{
		{mem(128, 256), "64", []string{"memory.memsw.limit_in_bytes=256", "memory.limit_in_bytes=128"}},
		{mem(16, 32), "64", []string{"memory.limit_in_bytes=16", "memory.memsw.limit_in_bytes=32"}},
		{mem(16, -1), "64", []string{"memory.memsw.limit_in_bytes=-1", "memory.limit_in_bytes=16"}},
		{mem(-1, -1), "64", []string{"memory.memsw.limit_in_bytes=-1", "memory.limit_in_bytes=-1"}},
		{mem(16, 32), "", []string{"memory.limit_in_bytes=16", "memory.memsw.limit_in_bytes=32"}},
		{&specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr(int64(-5)), Period: ptr(uint64(1000)), Shares: ptr(uint64(0))}}, "",
			[]string{"cpu.cfs_period_us=1000", "cpu.cfs_quota_us=-1"}},
		{&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr(int64(-1))}, BlockIO: &specs.LinuxBlockIO{Weight: ptr(uint16(10))}}, "",
			[]string{"pids.max=max", "blkio.weight=10"}},
	}
	for i, tc := range cases {
		ws, err := planV1(tc.r, cur(tc.memsw))
		must(t, err)
		if got := files(ws); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("case %d: %v, want %v", i, got, tc.want)
		}
	}
	if _, err := planV1(&specs.LinuxResources{Unified: map[string]string{"a.b": "1"}}, cur("")); err == nil {
		t.Error("unified resources accepted on v1")
	}
}

func TestConversions(t *testing.T) {
	for shares, w := range map[uint64]uint64{0: 0, 2: 1, 1024: 39, 262144: 10000, 512: 20} {
		if got := SharesToWeight(shares); got != w {
			t.Errorf("SharesToWeight(%d) = %d, want %d", shares, got, w)
		}
	}
	for b, w := range map[uint16]uint64{10: 1, 1000: 10000, 500: 4950} {
		if got := BlkioToIOWeight(b); got != w {
			t.Errorf("BlkioToIOWeight(%d) = %d, want %d", b, got, w)
		}
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	put(t, dir, "cpus", "0-3\n")
	put(t, dir, "nodes", "0\n")
	oldC, oldN := cpusOnline, nodesOnline
	cpusOnline, nodesOnline = filepath.Join(dir, "cpus"), filepath.Join(dir, "nodes")
	t.Cleanup(func() { cpusOnline, nodesOnline = oldC, oldN })

	i64 := func(v int64) *int64 { return &v }
	mem := func(m specs.LinuxMemory) *specs.LinuxResources { return &specs.LinuxResources{Memory: &m} }
	cpu := func(c specs.LinuxCPU) *specs.LinuxResources { return &specs.LinuxResources{CPU: &c} }
	cases := []struct {
		r    *specs.LinuxResources
		want string // "" for valid; else the flag named
	}{
		{nil, ""},
		{&specs.LinuxResources{}, ""},
		{mem(specs.LinuxMemory{Limit: i64(6 << 20)}), ""},
		{mem(specs.LinuxMemory{Limit: i64(6<<20 - 1)}), "--memory"},
		{mem(specs.LinuxMemory{Limit: i64(4096)}), "--memory"},
		{mem(specs.LinuxMemory{Limit: i64(-1)}), ""},
		{mem(specs.LinuxMemory{Limit: i64(64 << 20), Swap: i64(128 << 20)}), ""},
		{mem(specs.LinuxMemory{Limit: i64(64 << 20), Swap: i64(64 << 20)}), ""},
		{mem(specs.LinuxMemory{Limit: i64(64 << 20), Swap: i64(-1)}), ""},
		{mem(specs.LinuxMemory{Limit: i64(64 << 20), Swap: i64(32 << 20)}), "--memory-swap"},
		{mem(specs.LinuxMemory{Swap: i64(32 << 20)}), "--memory-swap"},
		{mem(specs.LinuxMemory{Swap: i64(-1)}), ""},
		{mem(specs.LinuxMemory{Limit: i64(64 << 20), Reservation: i64(32 << 20)}), ""},
		{mem(specs.LinuxMemory{Limit: i64(64 << 20), Reservation: i64(128 << 20)}), "--memory-reservation"},
		{mem(specs.LinuxMemory{Reservation: i64(1 << 20)}), "--memory-reservation"},
		{mem(specs.LinuxMemory{Swappiness: ptr(uint64(101))}), "--memory-swappiness"},
		{cpu(specs.LinuxCPU{Shares: ptr(uint64(0))}), ""},
		{cpu(specs.LinuxCPU{Shares: ptr(uint64(2))}), ""},
		{cpu(specs.LinuxCPU{Shares: ptr(uint64(1))}), "--cpu-shares"},
		{cpu(specs.LinuxCPU{Shares: ptr(uint64(262145))}), "--cpu-shares"},
		{cpu(specs.LinuxCPU{Period: ptr(uint64(999))}), "--cpu-period"},
		{cpu(specs.LinuxCPU{Period: ptr(uint64(1000000))}), ""},
		{cpu(specs.LinuxCPU{Period: ptr(uint64(1000001))}), "--cpu-period"},
		{cpu(specs.LinuxCPU{Quota: ptr(int64(999))}), "--cpu-quota"},
		{cpu(specs.LinuxCPU{Quota: ptr(int64(-1))}), ""},
		{cpu(specs.LinuxCPU{Quota: ptr(int64(1000))}), ""},
		{cpu(specs.LinuxCPU{Cpus: "0-3"}), ""},
		{cpu(specs.LinuxCPU{Cpus: "1,3"}), ""},
		{cpu(specs.LinuxCPU{Cpus: "4"}), "--cpuset-cpus"},
		{cpu(specs.LinuxCPU{Cpus: "0-"}), "--cpuset-cpus"},
		{cpu(specs.LinuxCPU{Cpus: "3-1"}), "--cpuset-cpus"},
		{cpu(specs.LinuxCPU{Cpus: "a"}), "--cpuset-cpus"},
		{cpu(specs.LinuxCPU{Mems: "0"}), ""},
		{cpu(specs.LinuxCPU{Mems: "1"}), "--cpuset-mems"},
		{&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr(uint16(10))}}, ""},
		{&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr(uint16(9))}}, "--blkio-weight"},
		{&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr(uint16(1001))}}, "--blkio-weight"},
		{&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(-1)}}, ""},
		{&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(1)}}, ""},
	}
	for i, tc := range cases {
		err := Validate(tc.r)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("case %d: %v", i, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want+" ")):
			t.Errorf("case %d: %v, want an error naming %s", i, err, tc.want)
		case err != nil && !errors.Is(err, errdefs.ErrInvalidArgument):
			t.Errorf("case %d: %v is not ErrInvalidArgument", i, err)
		}
	}
	err := Validate(mem(specs.LinuxMemory{Limit: i64(4 << 20)}))
	if err == nil || err.Error() != "invalid --memory 4194304: minimum memory limit allowed is 6MB" {
		t.Errorf("message: %v", err)
	}
	err = Validate(cpu(specs.LinuxCPU{Cpus: "0-7"}))
	if err == nil || !strings.Contains(err.Error(), "requested CPUs are not available - requested 0-7, available: 0-3") {
		t.Errorf("message: %v", err)
	}
}

func TestParseHelpers(t *testing.T) {
	r, w, any := blkioBytes("8:0 Read 10\n8:0 Write 20\n8:0 Sync 30\n8:0 Total 30\n8:16 Read 1\n8:16 Write 2\nTotal 33\n")
	if r != 11 || w != 22 || !any {
		t.Errorf("blkioBytes = %d %d %v", r, w, any)
	}
	if _, _, any := blkioBytes("Total 0\n"); any {
		t.Error("blkioBytes of an empty file found devices")
	}
	if got := unescapeMount(`/a\040b\134c\`); got != `/a b\c\` {
		t.Errorf("unescapeMount = %q", got)
	}
}
