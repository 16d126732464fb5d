package cgroups

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Device rules on the machine's kernel: a copy of the test binary is put
// in a cgroup with rules and then tries device nodes. On v1 through the
// devices hierarchy; on v2 through the cgroup2 mount, which on a hybrid
// host holds no controllers but runs device programs all the same.

// probeEnv makes the test binary a probe (see TestMain): the value is a
// directory where it may make device nodes.
const probeEnv = "BERTH_CGROUPS_DEVICE_PROBE"

// probes are what the probe tries, in order, by name.
var probes = []struct {
	name string
	try  func(dir string) error
}{
	{"open null rw", func(string) error { return tryOpen("/dev/null", unix.O_RDWR) }},
	{"open null r", func(string) error { return tryOpen("/dev/null", unix.O_RDONLY) }},
	{"open null w", func(string) error { return tryOpen("/dev/null", unix.O_WRONLY) }},
	{"open loop-control", func(string) error { return tryOpen("/dev/loop-control", unix.O_RDWR) }},
	{"mknod b 7:0", func(dir string) error {
		return unix.Mknod(filepath.Join(dir, "loop0"), unix.S_IFBLK|0o600, int(unix.Mkdev(7, 0)))
	}},
	{"open b 7:0", func(dir string) error { return tryOpen(filepath.Join(dir, "loop0"), unix.O_RDONLY) }},
	{"mknod c 10:237", func(dir string) error {
		return unix.Mknod(filepath.Join(dir, "lc"), unix.S_IFCHR|0o600, int(unix.Mkdev(10, 237)))
	}},
	{"open c 10:237", func(dir string) error { return tryOpen(filepath.Join(dir, "lc"), unix.O_RDWR) }},
}

func tryOpen(path string, flags int) error {
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0)
	if err == nil {
		unix.Close(fd)
	}
	return err
}

// deviceProbe is the probe's main: it waits for a line on stdin (sent once
// it is in its cgroup), then prints "name: ok" or "name: EPERM" for each
// probe.
func deviceProbe(dir string) int {
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return 2
	}
	for _, p := range probes {
		res := "ok"
		if err := p.try(dir); err != nil {
			res = err.Error()
			if errno, ok := err.(unix.Errno); ok {
				res = unix.ErrnoName(errno)
			}
		}
		os.Stdout.WriteString(p.name + ": " + res + "\n")
	}
	return 0
}

// probeIn runs the probe inside c and returns its results by name.
func probeIn(t *testing.T, c *Cgroup) map[string]string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), probeEnv+"="+t.TempDir())
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	must(t, err)
	out, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if err := c.Add(cmd.Process.Pid); err != nil {
		t.Fatalf("Add: %v", err)
	}
	_, err = io.WriteString(in, "go\n")
	must(t, err)
	b, err := io.ReadAll(out)
	must(t, err)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("probe: %v (output %q)", err, b)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, _ := strings.Cut(line, ": ")
		got[k] = v
	}
	return got
}

func checkProbe(t *testing.T, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s, want %s", k, got[k], v)
		}
	}
}

var (
	// denyButNull is deny all, allow c 1:3 rwm.
	denyButNull = []specs.LinuxDeviceCgroup{{Access: "rwm"}, rule(true, "c", 1, 3, "rwm")}
	// readOnlyNull lets /dev/null be read only, and allows c 10:237.
	readOnlyNull = []specs.LinuxDeviceCgroup{{Access: "rwm"}, rule(true, "c", 1, 3, "r"),
		rule(true, "c", 10, 237, "rwm"), rule(true, "c", wildcard, wildcard, "m")}
)

func needLoopControl(t *testing.T) {
	t.Helper()
	var st unix.Stat_t
	if unix.Stat("/dev/loop-control", &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR {
		t.Skip("no /dev/loop-control on this host")
	}
}

// deviceFS is the file system the test runs on: v1's devices hierarchy,
// or a cgroup2 mount (the machine's, or on a hybrid host its empty one).
func deviceFS(t *testing.T, mode Mode) *FS {
	t.Helper()
	fs := needRoot(t)
	needLoopControl(t)
	switch {
	case mode == V1 && fs.Mode == V1:
		if fs.Controllers["devices"] == "" {
			t.Skip("the devices controller is not mounted")
		}
		return fs
	case mode == V2 && fs.Unified != "":
		return &FS{Mode: V2, Unified: fs.Unified}
	}
	t.Skipf("no cgroup %v file system here", mode)
	return nil
}

func testRealDevices(t *testing.T, mode Mode) {
	fs := deviceFS(t, mode)

	c := newTest(t, fs, &specs.LinuxResources{Devices: denyButNull})
	checkProbe(t, probeIn(t, c), map[string]string{
		"open null rw": "ok", "open loop-control": "EPERM",
		"mknod b 7:0": "EPERM", "open b 7:0": "ENOENT", "mknod c 10:237": "EPERM",
	})

	c = newTest(t, fs, &specs.LinuxResources{Devices: dockerRules()})
	checkProbe(t, probeIn(t, c), map[string]string{
		"open null rw": "ok", "open loop-control": "EPERM",
		"mknod b 7:0": "ok", "open b 7:0": "EPERM", "mknod c 10:237": "ok", "open c 10:237": "EPERM",
	})

	// Update replaces the rules; nil Devices leaves them alone (the
	// cgroup2 mount of a hybrid host has no pids controller).
	must(t, c.Update(&specs.LinuxResources{Devices: readOnlyNull}))
	other := &specs.LinuxResources{}
	if fs.Mode == V1 {
		other.Pids = &specs.LinuxPids{Limit: ptr(int64(100))}
	}
	must(t, c.Update(other))
	checkProbe(t, probeIn(t, c), map[string]string{
		"open null rw": "EPERM", "open null r": "ok", "open null w": "EPERM", "open loop-control": "ok",
		"mknod b 7:0": "EPERM", "mknod c 10:237": "ok", "open c 10:237": "ok",
	})

	c = newTest(t, fs, &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}})
	checkProbe(t, probeIn(t, c), map[string]string{
		"open null rw": "ok", "open loop-control": "ok", "mknod b 7:0": "ok", "open b 7:0": "ok",
	})
}

func TestRealDevicesV1(t *testing.T) {
	testRealDevices(t, V1)
	fs := deviceFS(t, V1)
	c := newTest(t, fs, &specs.LinuxResources{Devices: dockerRules()})
	want := "b *:* m\nc *:* m\nc 1:3 rwm\nc 1:5 rwm\nc 1:7 rwm\nc 1:8 rwm\nc 1:9 rwm\n" +
		"c 5:0 rwm\nc 5:1 rwm\nc 5:2 rwm\nc 10:200 rwm\nc 136:* rwm"
	if got := listExceptions(t, readFile(t, c.Dir("devices"), "devices.list")); got != want {
		t.Errorf("devices.list =\n%s\nwant\n%s", got, want)
	}
	// No rules: the parent's (allow all).
	c = newTest(t, fs, nil)
	if got := readFile(t, c.Dir("devices"), "devices.list"); got != "a *:* rwm" {
		t.Errorf("devices.list without rules = %q", got)
	}
}

// listExceptions is a devices.list in a fixed order.
func listExceptions(t *testing.T, list string) string {
	t.Helper()
	set, err := parseDevicesList(list)
	must(t, err)
	var lines []string
	for _, k := range set.keys() {
		lines = append(lines, exceptString(k, set.except[k]))
	}
	return strings.Join(lines, "\n")
}

func TestRealDevicesV2(t *testing.T) {
	testRealDevices(t, V2)
	// One program per cgroup, also after updates; gone with the cgroup.
	fs := deviceFS(t, V2)
	c := newTest(t, fs, &specs.LinuxResources{Devices: dockerRules()})
	must(t, c.Update(&specs.LinuxResources{Devices: denyButNull}))
	must(t, c.Update(&specs.LinuxResources{Devices: readOnlyNull}))
	ids := attachedDevicePrograms(t, c.Dir(""))
	if len(ids) != 1 {
		t.Fatalf("%d device programs attached, want 1", len(ids))
	}
	must(t, c.Delete())
	// Removing the directory detaches the program, and the kernel frees
	// it, in a work queue after the cgroup is released: wait for that.
	deadline := time.Now().Add(time.Minute)
	for delay := time.Millisecond; ; delay = min(2*delay, 100*time.Millisecond) {
		p, err := ebpf.NewProgramFromID(ids[0])
		if errors.Is(err, unix.ENOENT) {
			break
		}
		if err == nil {
			p.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("device program %d still loaded a minute after its cgroup was removed (%v)", ids[0], err)
		}
		time.Sleep(delay)
	}
}

func attachedDevicePrograms(t *testing.T, dir string) []ebpf.ProgramID {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	must(t, err)
	defer unix.Close(fd)
	res, err := link.QueryPrograms(link.QueryOptions{Target: fd, Attach: ebpf.AttachCGroupDevice})
	must(t, err)
	var ids []ebpf.ProgramID
	for _, p := range res.Programs {
		ids = append(ids, p.ID)
	}
	return ids
}

// BenchmarkDeviceProgram: compiling Docker's default rules.
func BenchmarkDeviceProgram(b *testing.B) {
	for b.Loop() {
		s, err := newDeviceSet(dockerRules())
		if err != nil {
			b.Fatal(err)
		}
		_ = s.program()
	}
}

// BenchmarkDeviceProgramLoad: compiling and loading into the kernel (what
// a v2 start adds, before the attach).
func BenchmarkDeviceProgramLoad(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	for b.Loop() {
		s, err := newDeviceSet(dockerRules())
		if err != nil {
			b.Fatal(err)
		}
		p, err := loadDeviceProgram(s.program())
		if err != nil {
			b.Fatal(err)
		}
		p.Close()
	}
}

// BenchmarkNewDelete: a container cgroup's New and Delete, with Docker's
// device rules and without, on v1 and on the cgroup2 mount.
func BenchmarkNewDelete(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	host, err := Host()
	if err != nil {
		b.Skip(err)
	}
	fss := map[string]*FS{}
	if host.Mode == V1 {
		fss["v1"] = host
	}
	if host.Unified != "" {
		fss["v2"] = &FS{Mode: V2, Unified: host.Unified}
	}
	for name, fs := range fss {
		for _, devices := range []bool{false, true} {
			r := &specs.LinuxResources{}
			label := name + "/no-devices"
			if devices {
				r.Devices = dockerRules()
				label = name + "/devices"
			}
			b.Run(label, func(b *testing.B) {
				for b.Loop() {
					c, err := fs.New(testPath(nil), r)
					if err != nil {
						b.Fatal(err)
					}
					if err := c.Delete(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
