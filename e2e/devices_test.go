package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The devices cgroup: Docker's default rules, --device,
// --device-cgroup-rule and --privileged. Containers keep CAP_MKNOD, so
// they may make any node; opening one is what the cgroup decides.

const eperm = "Operation not permitted"

// needHostDevice skips the test unless the host has this character device.
func needHostDevice(t *testing.T, path string) {
	t.Helper()
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR {
		t.Skipf("the host has no %s", path)
	}
}

// devicesCgroupDir is a container's cgroup in the v1 devices hierarchy
// ("" when the host has none).
func devicesCgroupDir(id string) string {
	if _, err := os.Stat("/sys/fs/cgroup/devices/devices.list"); err != nil {
		return ""
	}
	return filepath.Join("/sys/fs/cgroup/devices/berth", id)
}

func TestDevicesDefault(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	// mknod works (Docker allows m for every device); open does not.
	out, stderr, code := e.run("run", "--rm", "busybox", "sh", "-c", "mknod /tmp/lc c 10 237 && echo made && cat /tmp/lc")
	if code == 0 || out != "made\n" || !strings.Contains(stderr, eperm) {
		t.Errorf("open of a mknod'ed loop-control: exit %d, stdout %q, stderr %q; want made, then %q", code, out, stderr, eperm)
	}
	out, stderr, code = e.run("run", "--rm", "busybox", "sh", "-c", "mknod /tmp/loop0 b 7 0 && echo made && dd if=/tmp/loop0 of=/dev/null count=1")
	if code == 0 || out != "made\n" || !strings.Contains(stderr, eperm) {
		t.Errorf("read of a mknod'ed loop0: exit %d, stdout %q, stderr %q; want made, then %q", code, out, stderr, eperm)
	}

	// The usual devices still work: /dev/full opens (and is full), /dev/tty
	// opens as far as the cgroup goes (there is no controlling terminal).
	out, stderr, _ = e.run("run", "--rm", "busybox", "sh", "-c",
		"echo x > /dev/null && head -c 3 /dev/zero | wc -c && head -c 5 /dev/urandom | wc -c && head -c 2 /dev/random | wc -c; "+
			"echo x > /dev/full; (: < /dev/tty); echo done")
	if f := strings.Fields(out); len(f) != 4 || f[0] != "3" || f[1] != "5" || f[2] != "2" || f[3] != "done" {
		t.Errorf("null, zero, urandom, random: stdout %q, stderr %q", out, stderr)
	}
	if strings.Contains(stderr, eperm) || !strings.Contains(stderr, "No space left on device") {
		t.Errorf("full and tty: stderr %q, want /dev/full's ENOSPC and no %q", stderr, eperm)
	}

	// A pseudo-terminal (ptmx, pts) works.
	p := startPty(t, e, 24, 80, "run", "--rm", "-t", "busybox", "sh", "-c", "tty && echo hello > $(tty) && echo via-tty > /dev/tty")
	p.expect("/dev/pts/0", 30*time.Second)
	p.expect("hello", 30*time.Second)
	p.expect("via-tty", 30*time.Second)
	if code := p.wait(30 * time.Second); code != 0 {
		t.Errorf("run -t: exit %d\n%s", code, p.output())
	}

	// exec --privileged gives capabilities, not devices: the rules are
	// the container's cgroup's.
	id := e.runD("--name", "devs", "busybox", "sleep", "1000")
	out, stderr, code = e.run("exec", "--privileged", "devs", "sh", "-c", "mknod /tmp/lc c 10 237 && echo made && cat /tmp/lc")
	if code == 0 || out != "made\n" || !strings.Contains(stderr, eperm) {
		t.Errorf("exec --privileged: exit %d, stdout %q, stderr %q; want %q", code, out, stderr, eperm)
	}
	if dir := devicesCgroupDir(id); dir != "" {
		b, err := os.ReadFile(filepath.Join(dir, "devices.list"))
		if err != nil || !strings.Contains(string(b), "c 136:* rwm") || strings.Contains(string(b), "a *:* rwm") {
			t.Errorf("%s/devices.list: %q %v", dir, b, err)
		}
		e.ok("rm", "-f", "devs")
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("devices cgroup %s left after rm: %v", dir, err)
		}
	}
}

func TestDevicesFlags(t *testing.T) {
	t.Parallel()
	needHostDevice(t, "/dev/loop-control")
	e := newEnv(t)

	// --device hands the node in, with rwm by default.
	out := e.ok("run", "--rm", "--device", "/dev/loop-control", "busybox", "sh", "-c",
		"ls -l /dev/loop-control && dd if=/dev/loop-control of=/dev/null count=0 2>/dev/null && echo opened")
	if !strings.Contains(out, "10, 237") || !strings.HasSuffix(out, "opened\n") {
		t.Errorf("--device /dev/loop-control: %q", out)
	}
	// At another path, read only: reading opens, writing does not.
	out, stderr, code := e.run("run", "--rm", "--device", "/dev/loop-control:/dev/lc:r", "busybox", "sh", "-c",
		"dd if=/dev/lc of=/dev/null count=0 2>/dev/null && echo read-ok && echo x > /dev/lc")
	if code == 0 || out != "read-ok\n" || !strings.Contains(stderr, eperm) {
		t.Errorf("--device ...:/dev/lc:r: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	// /dev/null under another name (its numbers are allowed rwm anyway,
	// as in Docker).
	if out := e.ok("run", "--rm", "--device", "/dev/null:/dev/mynull:r", "busybox", "sh", "-c", "ls -l /dev/mynull && cat /dev/mynull && echo ok"); !strings.Contains(out, "1,   3") || !strings.HasSuffix(out, "ok\n") {
		t.Errorf("--device /dev/null:/dev/mynull:r: %q", out)
	}

	// A directory hands in every device node under it, in sub-directories
	// of the container path.
	dir := t.TempDir()
	if err := unix.Mknod(filepath.Join(dir, "lc"), unix.S_IFCHR|0o600, int(unix.Mkdev(10, 237))); err != nil {
		t.Fatal(err)
	}
	out = e.ok("run", "--rm", "--device", dir+":/dev/mine", "busybox", "sh", "-c",
		"dd if=/dev/mine/lc of=/dev/null count=0 2>/dev/null && echo opened")
	if out != "opened\n" {
		t.Errorf("--device DIR:/dev/mine: %q", out)
	}

	// --device-cgroup-rule opens what it names.
	out = e.ok("run", "--rm", "--device-cgroup-rule", "c 10:237 rwm", "busybox", "sh", "-c",
		"mknod /tmp/lc c 10 237 && dd if=/tmp/lc of=/dev/null count=0 2>/dev/null && echo opened")
	if out != "opened\n" {
		t.Errorf("--device-cgroup-rule 'c 10:237 rwm': %q", out)
	}
	out, stderr, code = e.run("run", "--rm", "--device-cgroup-rule", "c 10:* m", "busybox", "sh", "-c",
		"mknod /tmp/lc c 10 237 && echo made && cat /tmp/lc")
	if code == 0 || out != "made\n" || !strings.Contains(stderr, eperm) {
		t.Errorf("--device-cgroup-rule 'c 10:* m' opened the node: exit %d, stdout %q, stderr %q", code, out, stderr)
	}

	// --privileged opens every device.
	out = e.ok("run", "--rm", "--privileged", "busybox", "sh", "-c",
		"mknod /tmp/lc c 10 237 && dd if=/tmp/lc of=/dev/null count=0 2>/dev/null && echo opened")
	if out != "opened\n" {
		t.Errorf("--privileged: %q", out)
	}

	// update does not touch device rules, neither live nor for the next
	// start.
	e.runD("--name", "upd", "--device-cgroup-rule", "c 10:237 rwm", "busybox", "sleep", "1000")
	if got := e.inspect("{{json .HostConfig.DeviceCgroupRules}}", "upd"); got != `["c 10:237 rwm"]` {
		t.Errorf("inspect DeviceCgroupRules: %s", got)
	}
	e.ok("update", "--memory", "64m", "--pids-limit", "100", "upd")
	probe := "mknod /tmp/lc c 10 237 2>/dev/null; dd if=/tmp/lc of=/dev/null count=0 2>/dev/null && echo lc; " +
		"mknod /tmp/loop0 b 7 0 2>/dev/null; dd if=/tmp/loop0 of=/dev/null count=0 2>/dev/null || echo no-loop0"
	if out := e.ok("exec", "upd", "sh", "-c", probe); out != "lc\nno-loop0\n" {
		t.Errorf("after update: %q", out)
	}
	e.ok("restart", "-t", "0", "upd")
	if out := e.ok("exec", "upd", "sh", "-c", probe); out != "lc\nno-loop0\n" {
		t.Errorf("after update and restart: %q", out)
	}
	e.ok("rm", "-f", "upd")
}

func TestDevicesBadFlags(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--device", "/dev/nope"}, `error gathering device information while adding custom device "/dev/nope": no such file or directory`},
		{[]string{"--device", "/etc/hostname"}, `error gathering device information while adding custom device "/etc/hostname": not a device node`},
		{[]string{"--device", "/dev/null:/dev/x:xyz"}, "invalid device mode: xyz"},
		{[]string{"--device", "/dev/null:xyz"}, "invalid device mode: xyz"},
		{[]string{"--device-cgroup-rule", "x"}, "invalid device cgroup rule format: 'x'"},
		{[]string{"--device-cgroup-rule", "c 1:3 rwx"}, "invalid device cgroup rule format: 'c 1:3 rwx'"},
	} {
		for _, cmd := range []string{"run", "create"} {
			args := append(append([]string{cmd}, tc.args...), "busybox", "true")
			_, stderr := e.fails(125, args...)
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("berth %s: stderr %q, want %q", strings.Join(args, " "), stderr, tc.want)
			}
		}
	}
	if out := e.ok("ps", "-a", "-q"); out != "" {
		t.Errorf("failed creates left containers: %q", out)
	}
}
