package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The run and create flags Docker users type: each against Docker's
// documented behaviour (docker run reference; messages as Docker 28
// prints them), with real containers.

// wantErr checks that a berth command fails with exit 125 (a bad flag, as
// Docker's) and says msg.
func (e *env) wantErr(msg string, args ...string) {
	e.t.Helper()
	_, stderr := e.fails(125, args...)
	if !strings.Contains(stderr, msg) {
		e.t.Errorf("berth %s: stderr %q, want %q", strings.Join(args, " "), stderr, msg)
	}
}

// TestFlagGroups: the user's supplementary groups from the image's
// /etc/group, the primary group among them, then --group-add (names from
// the container's /etc/group, numbers as they are), for the first process
// and for exec; what `id` shows under Docker for the same image.
func TestFlagGroups(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if got := e.ok("run", "--rm", "busybox", "id"); got != "uid=0(root) gid=0(root) groups=0(root)\n" {
		t.Errorf("id as root: %q", got)
	}
	if got := e.ok("run", "--rm", "-u", "alice", "busybox", "id"); got != "uid=1000(alice) gid=1000(alice) groups=100(users),1000(alice)\n" {
		t.Errorf("id as alice: %q, want her group users from /etc/group", got)
	}
	want := "uid=1000(alice) gid=1000(alice) groups=1(daemon),100(users),1000(alice),4242\n"
	if got := e.ok("run", "--rm", "-u", "alice", "--group-add", "daemon", "--group-add", "4242", "busybox", "id"); got != want {
		t.Errorf("id with --group-add daemon --group-add 4242: %q, want %q", got, want)
	}
	// A group in the user spec: that one only, then --group-add.
	if got := e.ok("run", "--rm", "-u", "alice:daemon", "--group-add", "users", "busybox", "id"); got != "uid=1000(alice) gid=1(daemon) groups=1(daemon),100(users)\n" {
		t.Errorf("id -u alice:daemon --group-add users: %q", got)
	}
	e.runD("--name", "grp", "-u", "alice", "--group-add", "daemon", "busybox", "sleep", "1000")
	if got := e.ok("exec", "grp", "id"); got != "uid=1000(alice) gid=1000(alice) groups=1(daemon),100(users),1000(alice)\n" {
		t.Errorf("exec in a --group-add container: %q", got)
	}
	if got := e.inspect("{{json .HostConfig.GroupAdd}}", "grp"); got != `["daemon"]` {
		t.Errorf("inspect GroupAdd %s", got)
	}
	e.wantErr("Unable to find group nosuch: no matching entries in group file", "run", "--rm", "--group-add", "nosuch", "busybox", "true")
	e.wantErr("Unable to find group nosuch", "create", "--group-add", "nosuch", "busybox")
}

// TestFlagShmSize: /dev/shm is a 64 MiB tmpfs unless --shm-size says
// otherwise; --ipc none has none.
func TestFlagShmSize(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	shmLine := func(out string) string {
		for _, l := range lines(out) {
			if f := strings.Fields(l); len(f) > 3 && f[1] == "/dev/shm" {
				return f[2] + " " + f[3]
			}
		}
		return ""
	}
	if got := shmLine(e.ok("run", "--rm", "busybox", "cat", "/proc/mounts")); !strings.HasPrefix(got, "tmpfs ") || !strings.Contains(got, "size=65536k") {
		t.Errorf("default /dev/shm: %q, want a tmpfs of size=65536k", got)
	}
	// On create, too.
	e.ok("create", "--name", "big", "--shm-size", "128m", "busybox", "sh", "-c", "cat /proc/mounts; df -k /dev/shm")
	if got := e.inspect("{{.HostConfig.ShmSize}}", "big"); got != "134217728" {
		t.Errorf("inspect ShmSize %s, want 134217728", got)
	}
	out := e.ok("start", "-a", "big")
	if got := shmLine(out); !strings.Contains(got, "size=131072k") {
		t.Errorf("--shm-size 128m: /dev/shm %q, want size=131072k", got)
	}
	e.ok("create", "--name", "dflt", "busybox")
	if got := e.inspect("{{.HostConfig.ShmSize}}", "dflt"); got != "67108864" {
		t.Errorf("inspect default ShmSize %s, want 67108864", got)
	}
	if out, _, code := e.run("run", "--rm", "--ipc", "none", "busybox", "ls", "/dev/shm"); code == 0 {
		t.Errorf("--ipc none: /dev/shm exists: %q", out)
	}
	_, stderr := e.fails(125, "run", "--rm", "--shm-size", "abc", "busybox", "true")
	if !strings.Contains(stderr, `invalid argument "abc" for "--shm-size" flag: invalid size: 'abc'`) {
		t.Errorf("bad --shm-size: %q", stderr)
	}
}

// capEffHas reports whether this process has capability c in effect.
func capEffHas(t *testing.T, c uint) bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			n, _ := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return n&(1<<c) != 0
		}
	}
	return false
}

// TestFlagOomScoreAdj: the container's first process, and what it and
// exec start, have the OOM score adjustment asked for.
func TestFlagOomScoreAdj(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.runD("--name", "oom", "--oom-score-adj", "300", "busybox", "sleep", "1000")
	if got := e.ok("exec", "oom", "cat", "/proc/1/oom_score_adj", "/proc/self/oom_score_adj"); got != "300\n300\n" {
		t.Errorf("oom_score_adj of PID 1 and of an exec: %q, want 300 twice", got)
	}
	if got := e.inspect("{{.HostConfig.OomScoreAdj}}", "oom"); got != "300" {
		t.Errorf("inspect OomScoreAdj %s", got)
	}
	const capSysResource = 24
	if capEffHas(t, capSysResource) {
		if got := e.ok("run", "--rm", "--oom-score-adj", "-500", "busybox", "cat", "/proc/1/oom_score_adj"); got != "-500\n" {
			t.Errorf("--oom-score-adj -500: %q", got)
		}
	} else {
		// Lowering it takes CAP_SYS_RESOURCE, which this host withholds
		// from root: refused at once, not at start.
		e.wantErr("lowering the OOM score takes CAP_SYS_RESOURCE", "create", "--oom-score-adj", "-500", "busybox")
	}
	e.wantErr("Invalid value 1001, range for oom score adj is [-1000, 1000]", "run", "--rm", "--oom-score-adj", "1001", "busybox", "true")
	e.wantErr(`invalid argument "x" for "--oom-score-adj" flag`, "create", "--oom-score-adj", "x", "busybox")
}

// TestFlagCidfile: the ID goes to the file at create; an existing file
// is refused before anything is made; a failed create leaves no file.
func TestFlagCidfile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := t.TempDir()
	cid := filepath.Join(dir, "cid")
	id := e.runD("--cidfile", cid, "busybox", "sleep", "1000")
	if b, err := os.ReadFile(cid); err != nil || string(b) != id {
		t.Errorf("cidfile holds %q (%v), want %s", b, err, id)
	}
	if got := e.inspect("{{.HostConfig.ContainerIDFile}}", id); got != cid {
		t.Errorf("inspect ContainerIDFile %q", got)
	}
	before := len(lines(e.ok("ps", "-aq")))
	e.wantErr("container ID file found, make sure the other container isn't running or delete "+cid, "run", "--cidfile", cid, "busybox", "true")
	e.wantErr("container ID file found", "create", "--cidfile", cid, "busybox")
	if after := len(lines(e.ok("ps", "-aq"))); after != before {
		t.Errorf("%d containers after the refusals, want %d", after, before)
	}
	cid2 := filepath.Join(dir, "cid2")
	created := strings.TrimSpace(e.ok("create", "--cidfile", cid2, "busybox"))
	if b, _ := os.ReadFile(cid2); string(b) != created {
		t.Errorf("create --cidfile: file %q, want %s", b, created)
	}
	cid3 := filepath.Join(dir, "cid3")
	e.fails(125, "create", "--cidfile", cid3, "nosuchimage")
	if _, err := os.Stat(cid3); !os.IsNotExist(err) {
		t.Errorf("a failed create left its cidfile: %v", err)
	}
}

// TestFlagCPUsAboveHost: --cpus above this machine's CPUs is refused with
// Docker's message, on run, create and update.
func TestFlagCPUsAboveHost(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	n := goruntime.NumCPU() // the CPUs this process may use, as Docker counts them
	msg := fmt.Sprintf("range of CPUs is from 0.01 to %[1]d.00, as there are only %[1]d CPUs available", n)
	e.wantErr(msg, "run", "--rm", "--cpus", strconv.Itoa(n+1), "busybox", "true")
	e.wantErr(msg, "create", "--cpus", fmt.Sprintf("%d.5", n), "busybox")
	e.ok("create", "--name", "cpu", "--cpus", strconv.Itoa(n), "busybox")
	if _, stderr := e.fails(1, "update", "--cpus", strconv.Itoa(n+1), "cpu"); !strings.Contains(stderr, msg) {
		t.Errorf("update --cpus %d: %q", n+1, stderr)
	}
}

// TestFlagDefaultsInInspect: a container made with none of the flags
// shows Docker's defaults.
func TestFlagDefaultsInInspect(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ok("create", "--name", "dflt", "busybox")
	var hc struct {
		RestartPolicy                                       struct{ Name string }
		ShmSize                                             int64
		PidMode, IpcMode, UTSMode, UsernsMode, CgroupnsMode string
		OomScoreAdj                                         int
		GroupAdd                                            []string
		ContainerIDFile                                     string
	}
	if err := json.Unmarshal([]byte(e.inspect("{{json .HostConfig}}", "dflt")), &hc); err != nil {
		t.Fatal(err)
	}
	cgns := "host" // Docker's default on cgroup v1
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		cgns = "private"
	}
	if hc.RestartPolicy.Name != "no" || hc.ShmSize != 64<<20 || hc.IpcMode != "private" || hc.PidMode != "" || hc.UTSMode != "" ||
		hc.UsernsMode != "" || hc.CgroupnsMode != cgns || hc.OomScoreAdj != 0 || hc.GroupAdd != nil {
		t.Errorf("defaults %+v, want RestartPolicy no, ShmSize 64 MiB, IpcMode private, CgroupnsMode %s", hc, cgns)
	}
	if got := e.inspect("{{json .Config.ExposedPorts}} {{json .Config.StopTimeout}} {{.Platform}}", "dflt"); got != "null null linux" {
		t.Errorf("ExposedPorts, StopTimeout, Platform: %s", got)
	}
}

// TestFlagExpose: --expose ports and ranges, tcp unless named, in
// Config.ExposedPorts.
func TestFlagExpose(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ok("create", "--name", "exp", "--expose", "80", "--expose", "90-91/udp", "busybox")
	if got := e.inspect("{{json .Config.ExposedPorts}}", "exp"); got != `{"80/tcp":{},"90/udp":{},"91/udp":{}}` {
		t.Errorf("ExposedPorts %s", got)
	}
	e.wantErr("invalid range format for --expose: 80-70, error: invalid range specified for port: 80-70", "run", "--expose", "80-70", "busybox", "true")
	e.wantErr("invalid port format for --expose: 80:90", "create", "--expose", "80:90", "busybox")
}

// TestFlagPidHost: no PID namespace of its own: the host's processes are
// its, and what it leaves running goes when its first process ends.
func TestFlagPidHost(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	hostNS, _ := os.Readlink("/proc/self/ns/pid")
	hostInit, _ := os.ReadFile("/proc/1/comm")
	out := e.ok("run", "--rm", "--pid", "host", "busybox", "sh", "-c", "readlink /proc/self/ns/pid; cat /proc/1/comm")
	if want := hostNS + "\n" + string(hostInit); out != want {
		t.Errorf("--pid host sees %q, want the host's namespace and PID 1: %q", out, want)
	}
	// The shell leaves a sleep behind, which holds its output: run ends
	// all the same, and the sleep with it.
	out = e.ok("run", "--rm", "--pid", "host", "busybox", "sh", "-c", "sleep 1000 & echo $!")
	pid, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("the sleep's host PID: %q", out)
	}
	if !waitFor(time.Minute, func() bool {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		return err != nil || !strings.HasPrefix(string(b), "sleep")
	}) {
		t.Errorf("the container's sleep (pid %d) outlived its first process", pid)
	}
	e.runD("--name", "ph", "--pid", "host", "busybox", "sleep", "1000")
	if got := e.inspect("{{.HostConfig.PidMode}}", "ph"); got != "host" {
		t.Errorf("PidMode %q", got)
	}
	// top lists the container's processes, not the host's.
	if rows := lines(e.ok("top", "ph")); len(rows) != 2 || !strings.Contains(rows[1], "sleep 1000") {
		t.Errorf("top of a --pid host container: %q", rows)
	}
	e.wantErr("--pid: invalid PID mode", "run", "--pid", "private", "busybox", "true")
}

// TestFlagPidContainer: --pid container:NAME joins that running
// container's PID namespace: it sees its processes and they its own;
// when that container's first process ends, so does this one.
func TestFlagPidContainer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	donor := e.runD("--name", "donor", "busybox", "sleep", "1000")
	out := e.ok("run", "--rm", "--pid", "container:donor", "busybox", "sh", "-c", "readlink /proc/self/ns/pid; ps -o pid,args")
	donorNS := strings.TrimSpace(e.ok("exec", "donor", "readlink", "/proc/self/ns/pid"))
	if !strings.HasPrefix(out, donorNS+"\n") || !strings.Contains(out, "    1 sleep 1000") {
		t.Errorf("--pid container:donor sees %q, want the donor's namespace %s and its sleep as PID 1", out, donorNS)
	}
	e.runD("--name", "joined", "--pid", "container:donor", "busybox", "sleep", "999")
	if got := e.inspect("{{.HostConfig.PidMode}}", "joined"); got != "container:"+donor {
		t.Errorf("PidMode %q, want container:%s (the name resolved)", got, donor)
	}
	if ps := e.ok("exec", "donor", "ps", "-o", "args"); !strings.Contains(ps, "sleep 999") {
		t.Errorf("the donor does not see the joined container's process: %q", ps)
	}
	if ps := e.ok("exec", "joined", "ps", "-o", "args"); !strings.Contains(ps, "sleep 1000") {
		t.Errorf("exec in the joined container does not see the donor's process: %q", ps)
	}
	e.ok("kill", "donor")
	e.waitState("joined", "exited", time.Minute)
	if got := e.inspect("{{.State.ExitCode}}", "joined"); got != "137" {
		t.Errorf("joined container ended with %s when the donor's PID 1 died, want 137", got)
	}
	// The donor must run (Docker's messages, at start).
	e.wantErr("container "+donor+" is not running", "run", "--rm", "--pid", "container:donor", "busybox", "true")
	e.wantErr("No such container: nosuch", "run", "--rm", "--pid", "container:nosuch", "busybox", "true")
	if _, stderr := e.fails(1, "start", "joined"); !strings.Contains(stderr, "is not running") {
		t.Errorf("start with a stopped donor: %q", stderr)
	}
}

// TestFlagIpc: shareable, container:NAME (the same IPC namespace and
// /dev/shm), host, and the donor that is not shareable.
func TestFlagIpc(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.runD("--name", "donor", "--ipc", "shareable", "busybox", "sh", "-c", "echo from-donor > /dev/shm/x && sleep 1000")
	waitFor(time.Minute, func() bool { _, _, c := e.run("exec", "donor", "test", "-f", "/dev/shm/x"); return c == 0 })
	donorNS := strings.TrimSpace(e.ok("exec", "donor", "readlink", "/proc/self/ns/ipc"))
	out := e.ok("run", "--rm", "--ipc", "container:donor", "busybox", "sh", "-c", "readlink /proc/self/ns/ipc; cat /dev/shm/x; echo from-joiner > /dev/shm/y")
	if out != donorNS+"\nfrom-donor\n" {
		t.Errorf("--ipc container:donor: %q, want the donor's namespace %s and its /dev/shm file", out, donorNS)
	}
	if got := e.ok("exec", "donor", "cat", "/dev/shm/y"); got != "from-joiner\n" {
		t.Errorf("the donor sees %q in the joiner's /dev/shm file", got)
	}
	if got := e.inspect("{{.HostConfig.IpcMode}}", "donor"); got != "shareable" {
		t.Errorf("IpcMode %q", got)
	}
	priv := e.runD("--name", "priv", "busybox", "sleep", "1000")
	e.wantErr("can't join IPC of container "+priv+": non-shareable IPC (hint: use IpcMode:shareable for the donor container)",
		"run", "--rm", "--ipc", "container:priv", "busybox", "true")

	// --ipc host: the host's namespace and /dev/shm.
	hostNS, _ := os.Readlink("/proc/self/ns/ipc")
	f, err := os.CreateTemp("/dev/shm", "berth-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	defer os.Remove(f.Name())
	out = e.ok("run", "--rm", "--ipc", "host", "busybox", "sh", "-c", "readlink /proc/self/ns/ipc; ls "+f.Name())
	if out != hostNS+"\n"+f.Name()+"\n" {
		t.Errorf("--ipc host: %q, want %s and the host's /dev/shm file", out, hostNS)
	}
	e.wantErr("invalid IPC mode: foo", "create", "--ipc", "foo", "busybox")
	e.wantErr(`sysctl "kernel.shmmax" is not allowed in the hosts ipc namespace`, "run", "--ipc", "host", "--sysctl", "kernel.shmmax=1", "busybox", "true")
}

// TestFlagUtsHost: the host's UTS namespace: its host name; -h with it is
// refused.
func TestFlagUtsHost(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	host, _ := os.Hostname()
	if got := e.ok("run", "--rm", "--uts", "host", "busybox", "hostname"); got != host+"\n" {
		t.Errorf("--uts host: hostname %q, want %q", got, host)
	}
	if got := e.ok("run", "--rm", "busybox", "hostname"); got == host+"\n" {
		t.Errorf("without --uts host the container has the host's name %q", got)
	}
	e.wantErr("conflicting options: hostname and the UTS mode", "run", "--uts", "host", "-h", "x", "busybox", "true")
	e.wantErr("--uts: invalid UTS mode", "create", "--uts", "private", "busybox")
}

// TestFlagUsernsCgroupns: --userns host is accepted (berth remaps no
// users); --cgroupns private gives the container its cgroup as the root,
// host shows the host's path.
func TestFlagUsernsCgroupns(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ok("create", "--name", "uns", "--userns", "host", "--cgroupns", "private", "busybox", "cat", "/proc/self/cgroup")
	if got := e.inspect("{{.HostConfig.UsernsMode}} {{.HostConfig.CgroupnsMode}}", "uns"); got != "host private" {
		t.Errorf("UsernsMode CgroupnsMode: %q", got)
	}
	for _, l := range lines(e.ok("start", "-a", "uns")) {
		if !strings.HasSuffix(l, ":/") {
			t.Errorf("--cgroupns private: %q, want the root", l)
		}
	}
	id := e.runD("--cgroupns", "host", "busybox", "sleep", "1000")
	if out := e.ok("exec", id, "cat", "/proc/self/cgroup"); !strings.Contains(out, "/berth/"+id) {
		t.Errorf("--cgroupns host: %q, want the host's path of the container's cgroup", out)
	}
	e.wantErr("--userns: invalid USER mode", "run", "--userns", "private", "busybox", "true")
	e.wantErr("--cgroupns: invalid CGROUP mode", "create", "--cgroupns", "foo", "busybox")
}

// TestFlagPlatform: the image's platform (this machine's) is accepted;
// another is refused as Docker refuses it; no emulation.
func TestFlagPlatform(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if got := e.ok("run", "--rm", "--platform", "linux/"+goruntime.GOARCH, "busybox", "echo", "ok"); got != "ok\n" {
		t.Errorf("--platform linux/%s: %q", goruntime.GOARCH, got)
	}
	e.ok("create", "--platform", goruntime.GOARCH, "busybox")
	other := "arm64"
	if goruntime.GOARCH == "arm64" {
		other = "amd64"
	}
	e.wantErr(fmt.Sprintf("image with reference busybox was found but its platform (linux/%s) does not match the specified platform (linux/%s)", goruntime.GOARCH, other),
		"run", "--rm", "--platform", "linux/"+other, "busybox", "true")
	e.wantErr(`error parsing specified platform: "a/b/c/d": cannot parse platform specifier: invalid argument`, "create", "--platform", "a/b/c/d", "busybox")
}

// TestFlagLabelFile: labels from files (comments and blank lines
// skipped, a key without "=" left out), --label over them.
func TestFlagLabelFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := filepath.Join(t.TempDir(), "labels")
	os.WriteFile(p, []byte("# a comment\na=1\n\n  b=two words \nc\n"), 0o644)
	e.ok("run", "--name", "lbl", "--label-file", p, "--label", "a=2", "busybox", "true")
	if got := e.inspect("{{json .Config.Labels}}", "lbl"); got != `{"a":"2","b":"two words "}` {
		t.Errorf("labels %s", got)
	}
	e.wantErr("open /nonexistent-labels: no such file or directory", "create", "--label-file", "/nonexistent-labels", "busybox")
}

// TestFlagStopTimeout: stop and restart without -t give the container its
// --stop-timeout, set on run or create, before SIGKILL; -t wins. Seen by
// how the container ends: its TERM handler exits 3, SIGKILL 137.
func TestFlagStopTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	script := `trap "exit 3" TERM; echo ready; while :; do sleep 0.1; done`
	runs := map[string]int{}
	stopped := func(name string, stopArgs ...string) string {
		t.Helper()
		// Its handler is set once this run has said so.
		runs[name]++
		if !waitFor(time.Minute, func() bool {
			out, _, _ := e.run("logs", name)
			return strings.Count(out, "ready\n") >= runs[name]
		}) {
			t.Fatalf("run %d of %s never said ready", runs[name], name)
		}
		e.ok(append(append([]string{"stop"}, stopArgs...), name)...)
		return e.inspect("{{.State.ExitCode}}", name)
	}
	e.runD("--name", "dflt", "busybox", "sh", "-c", script)
	if got := stopped("dflt"); got != "3" {
		t.Errorf("stop with Docker's 10 s: exit %s, want 3 (its TERM handler)", got)
	}
	e.runD("--name", "zero", "--stop-timeout", "0", "busybox", "sh", "-c", script)
	if got := e.inspect("{{.Config.StopTimeout}}", "zero"); got != "0" {
		t.Errorf("inspect StopTimeout %q, want 0", got)
	}
	if got := stopped("zero"); got != "137" {
		t.Errorf("stop with --stop-timeout 0: exit %s, want 137 (killed at once)", got)
	}
	e.ok("create", "--name", "created", "--stop-timeout", "0", "busybox", "sh", "-c", script)
	e.ok("start", "created")
	if got := stopped("created"); got != "137" {
		t.Errorf("stop with --stop-timeout 0 set on create: exit %s, want 137", got)
	}
	e.ok("start", "created")
	if got := stopped("created", "-t", "30"); got != "3" {
		t.Errorf("stop -t 30 over --stop-timeout 0: exit %s, want 3", got)
	}
	// -1: no SIGKILL, however long the container takes.
	e.runD("--name", "forever", "--stop-timeout", "-1", "busybox", "sh", "-c", script)
	if got := stopped("forever"); got != "3" {
		t.Errorf("stop with --stop-timeout -1: exit %s, want 3 (its TERM handler, never killed)", got)
	}
}

// TestFlagIpcDonorShm: the /dev/shm a joiner takes must be the donor's
// tmpfs: one the donor replaced (it is privileged) by a link or by another
// file system is refused, and the joiner does not start.
func TestFlagIpcDonorShm(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.runD("--name", "linked", "--privileged", "--ipc", "shareable", "busybox", "sh", "-c",
		"umount /dev/shm && rmdir /dev/shm && ln -s /etc /dev/shm && echo ready && sleep 1000")
	waitLog(t, e, "linked", "ready")
	e.wantErr("shared /dev/shm: open the other container's", "run", "--rm", "--ipc", "container:linked", "busybox", "true")
	e.runD("--name", "bound", "--privileged", "--ipc", "shareable", "busybox", "sh", "-c",
		"umount /dev/shm && mount --bind /etc /dev/shm && echo ready && sleep 1000")
	waitLog(t, e, "bound", "ready")
	e.wantErr("the other container's /dev/shm is not a tmpfs", "run", "--rm", "--ipc", "container:bound", "busybox", "true")
}
