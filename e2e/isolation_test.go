package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestIsolationPID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if out := e.ok("run", "--rm", "busybox", "sh", "-c", "echo $$; cat /proc/1/cmdline | tr '\\0' ' '"); out != "1\nsh -c echo $$; cat /proc/1/cmdline | tr '\\0' ' ' " {
		t.Errorf("PID 1 in the container is not the command: %q", out)
	}
	if out := e.ok("run", "--rm", "busybox", "cat", "/proc/self/stat"); !strings.HasPrefix(out, "1 (cat)") {
		t.Errorf("the command is not PID 1: /proc/self/stat %q", out)
	}

	// A process of the host, with an argument of its own, must not show.
	marker := exec.Command("sleep", "31337")
	if err := marker.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { marker.Process.Kill(); marker.Wait() }()

	out := e.ok("run", "--rm", "busybox", "sh", "-c", "sleep 1000 & ps -o pid,args; kill %1")
	rows := lines(out)
	if len(rows) < 3 || len(rows) > 4 {
		t.Errorf("ps in the container lists %d lines, want the header, sh, sleep and ps:\n%s", len(rows), out)
	}
	for _, r := range rows[1:] {
		f := strings.Fields(r)
		pid, err := strconv.Atoi(f[0])
		if err != nil || pid > 20 {
			t.Errorf("ps in the container shows %q: not a container process", r)
		}
	}
	if strings.Contains(out, "31337") {
		t.Errorf("ps in the container shows the host's sleep 31337:\n%s", out)
	}
	if !strings.Contains(out, "sleep 1000") {
		t.Errorf("ps in the container does not show its own sleep 1000:\n%s", out)
	}
}

func TestIsolationHostnameAndEtc(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	hostsBefore, _ := os.ReadFile("/etc/hosts")
	hostnameBefore, _ := os.ReadFile("/etc/hostname")

	a := e.runD("--name", "ca", "busybox", "sleep", "1000")
	b := e.runD("--name", "cb", "busybox", "sleep", "1000")
	for _, c := range []struct{ name, id string }{{"ca", a}, {"cb", b}} {
		short := c.id[:12]
		if out := e.ok("exec", c.name, "hostname"); out != short+"\n" {
			t.Errorf("container %s: hostname %q, want its short ID %s", c.name, out, short)
		}
		if out := e.ok("exec", c.name, "cat", "/etc/hostname"); out != short+"\n" {
			t.Errorf("container %s: /etc/hostname %q, want its short ID %s", c.name, out, short)
		}
		if out := e.ok("exec", c.name, "cat", "/etc/hosts"); !strings.Contains(out, short) || !strings.Contains(out, "localhost") {
			t.Errorf("container %s: /etc/hosts does not name localhost and %s:\n%s", c.name, short, out)
		}
	}
	// Changes to one container's /etc/hosts and /etc/hostname are its own.
	e.ok("exec", "ca", "sh", "-c", "echo 10.9.9.9 only-in-a >> /etc/hosts && echo changed-a > /etc/hostname")
	if out := e.ok("exec", "ca", "cat", "/etc/hosts"); !strings.Contains(out, "only-in-a") {
		t.Errorf("container a does not see its own change to /etc/hosts:\n%s", out)
	}
	if out := e.ok("exec", "cb", "cat", "/etc/hosts", "/etc/hostname"); strings.Contains(out, "only-in-a") || strings.Contains(out, "changed-a") {
		t.Errorf("container b sees container a's /etc changes:\n%s", out)
	}
	if after, _ := os.ReadFile("/etc/hosts"); string(after) != string(hostsBefore) {
		t.Errorf("the host's /etc/hosts changed")
	}
	if after, _ := os.ReadFile("/etc/hostname"); string(after) != string(hostnameBefore) {
		t.Errorf("the host's /etc/hostname changed")
	}
	// Changing the hostname inside (CAP_SYS_ADMIN needed, as in Docker)
	// does not change the host's.
	hostname, _ := os.Hostname()
	e.fails(1, "exec", "ca", "hostname", "renamed-inside")
	e.ok("run", "--rm", "--cap-add", "SYS_ADMIN", "busybox", "hostname", "renamed-inside")
	if now, _ := os.Hostname(); now != hostname {
		t.Errorf("hostname inside a container changed the host's: %q -> %q", hostname, now)
	}
}

func TestIsolationFilesystem(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := t.TempDir()
	marker := filepath.Join(dir, "host-marker")
	if err := os.WriteFile(marker, []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, _ := e.failsAny("run", "--rm", "busybox", "ls", marker)
	if !strings.Contains(stderr, "No such file") {
		t.Errorf("ls of a host file inside the container: %q, want No such file", stderr)
	}
	e.fails(1, "run", "--rm", "busybox", "test", "-e", dir)
	// Nor does a file made inside reach the host or the next container.
	e.ok("run", "--rm", "busybox", "sh", "-c", "mkdir -p "+dir+" && echo in > "+dir+"/from-container && echo in > /etc/from-container")
	for _, p := range []string{filepath.Join(dir, "from-container"), "/etc/from-container"} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("a file written inside a container appeared on the host at %s", p)
			os.Remove(p)
		}
	}
	e.fails(1, "run", "--rm", "busybox", "test", "-e", "/etc/from-container")
}

func TestIsolationProcAndSys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Docker masks /proc/kcore, /proc/keys, ... with /dev/null.
	for _, p := range []string{"/proc/kcore", "/proc/keys", "/proc/timer_list"} {
		if _, err := os.Stat(p); err != nil {
			continue // this kernel does not have it
		}
		out, stderr, code := e.run("run", "--rm", "busybox", "sh", "-c", "wc -c < "+p)
		if code != 0 || strings.TrimSpace(out) != "0" {
			t.Errorf("%s in the container: exit %d, %q bytes (%s); want it masked (0 bytes, as /dev/null)", p, code, strings.TrimSpace(out), strings.TrimSpace(stderr))
		}
	}
	// /proc/acpi and /sys/firmware are hidden behind empty read-only dirs.
	if out := e.ok("run", "--rm", "busybox", "sh", "-c", "ls -A /sys/firmware 2>/dev/null | wc -l"); strings.TrimSpace(out) != "0" {
		t.Errorf("/sys/firmware is not masked: %s entries", strings.TrimSpace(out))
	}

	// /proc/sys is read-only: writing the (namespaced) hostname through it fails.
	_, stderr, _ := e.failsAny("run", "--rm", "busybox", "sh", "-c", "echo x > /proc/sys/kernel/hostname")
	if !strings.Contains(stderr, "Read-only file system") {
		t.Errorf("write to /proc/sys/kernel/hostname: %q, want Read-only file system", stderr)
	}
	for _, p := range []string{"/proc/sysrq-trigger", "/proc/sys"} {
		if _, err := os.Stat(p); err != nil {
			continue // this kernel does not have it
		}
		out := e.ok("run", "--rm", "busybox", "awk", `$2 == "`+p+`" {print $4}`, "/proc/mounts")
		if !strings.HasPrefix(out, "ro") {
			t.Errorf("%s is mounted with %q, want read-only", p, strings.TrimSpace(out))
		}
	}
	// /sys is read-only.
	out := e.ok("run", "--rm", "busybox", "awk", `$2 == "/sys" {print $1, $3, $4}`, "/proc/mounts")
	if f := strings.Fields(out); len(f) < 3 || f[1] != "sysfs" || !strings.HasPrefix(f[2], "ro") {
		t.Errorf("/sys is mounted as %q, want a read-only sysfs", strings.TrimSpace(out))
	}
	_, stderr, _ = e.failsAny("run", "--rm", "busybox", "mkdir", "/sys/kernel/e2e-test")
	if !strings.Contains(stderr, "Read-only file system") {
		t.Errorf("mkdir under /sys: %q, want Read-only file system", stderr)
	}
}

func TestIsolationMounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	out := e.ok("run", "--rm", "busybox", "cat", "/proc/mounts")
	allowed := []string{"/proc", "/dev", "/sys", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf"}
	var points []string
	for _, l := range lines(out) {
		f := strings.Fields(l)
		if len(f) < 3 {
			t.Errorf("odd /proc/mounts line %q", l)
			continue
		}
		mp := f[1]
		points = append(points, mp)
		ok := mp == "/"
		for _, a := range allowed {
			if mp == a || strings.HasPrefix(mp, a+"/") {
				ok = true
			}
		}
		if !ok {
			t.Errorf("the container sees a mount that is not its own: %s", l)
		}
		if mentions(l, e.root) && mp != "/" {
			t.Errorf("a container mount other than / names the state root: %s", l)
		}
	}
	if len(points) == 0 || points[0] != "/" {
		t.Errorf("the first mount is not the container's root: %v", points)
	}
	if len(points) > 40 {
		t.Errorf("the container sees %d mounts: %v", len(points), points)
	}
	// Every mount point of the host outside the allowed places is absent.
	host, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	mine := map[string]bool{}
	for _, p := range points {
		mine[p] = true
	}
	for _, l := range lines(string(host)) {
		f := strings.Fields(l)
		if len(f) > 1 && f[1] != "/" && mine[f[1]] && !strings.HasPrefix(f[1], "/proc") && !strings.HasPrefix(f[1], "/dev") && !strings.HasPrefix(f[1], "/sys") && !strings.HasPrefix(f[1], "/etc/") {
			t.Errorf("the host's mount %s shows in the container", f[1])
		}
	}
	// The root is the overlay of the image.
	if root := lines(out)[0]; !strings.HasPrefix(root, "overlay / overlay") {
		t.Errorf("the container's / is %q, want an overlay", root)
	}
}
