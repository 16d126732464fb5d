package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

func TestRunEcho(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if out := e.ok("run", "--rm", "busybox", "echo", "hi"); out != "hi\n" {
		t.Errorf("run --rm busybox echo hi printed %q, want %q", out, "hi\n")
	}
	if out := e.ok("ps", "-a", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("after run --rm, ps -a -q lists %q, want nothing", out)
	}
}

func TestRunExitCodes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	e.fails(7, "run", "--rm", "busybox", "sh", "-c", "exit 7")

	_, stderr := e.fails(127, "run", "--rm", "busybox", "nosuchcommand-xyz")
	if !strings.Contains(stderr, "nosuchcommand-xyz") {
		t.Errorf("missing command: stderr %q does not name the command", stderr)
	}

	_, stderr = e.fails(126, "run", "--rm", "busybox", "/etc/passwd")
	if !strings.Contains(stderr, "/etc/passwd") {
		t.Errorf("non-executable command: stderr %q does not name it", stderr)
	}

	_, stderr = e.fails(125, "run", "--rm", "--no-such-flag", "busybox", "true")
	if !strings.Contains(stderr, "no-such-flag") {
		t.Errorf("bad flag: stderr %q does not name the flag", stderr)
	}

	// None of this may leave a container behind.
	if out := e.ok("ps", "-a", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("after failed run --rm, ps -a -q lists %q", out)
	}
}

// TestRunUnknownImage checks that a missing image fails with 125 and "No
// such image" without any attempt to reach a registry: every HTTP(S)
// proxy variable points at a listener of the test, which must see no
// connection, and the command must answer at once.
func TestRunUnknownImage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			c.Close()
		}
	}()
	proxy := "http://" + ln.Addr().String()
	proxyEnv := []string{
		"HTTP_PROXY=" + proxy, "HTTPS_PROXY=" + proxy, "http_proxy=" + proxy, "https_proxy=" + proxy,
		"ALL_PROXY=" + proxy, "NO_PROXY=", "no_proxy=",
	}
	for _, ref := range []string{"nosuch.invalid/x:1", "doesnotexist"} {
		for _, cmd := range []string{"run", "create"} {
			args := []string{cmd, ref}
			if cmd == "run" {
				args = []string{cmd, "--rm", ref}
			}
			out, stderr, code := e.runWith(runOpts{env: proxyEnv}, args...)
			if code != 125 {
				t.Errorf("%s %s: exit %d, want 125\nstdout: %s\nstderr: %s", cmd, ref, code, out, stderr)
			}
			if !strings.Contains(stderr, "No such image") {
				t.Errorf("%s %s: stderr %q does not say \"No such image\"", cmd, ref, stderr)
			}
		}
	}
	if n := conns.Load(); n > 0 {
		t.Errorf("berth opened %d connection(s) to the HTTP(S) proxy for a missing image: it must not pull", n)
	}
	if out := e.ok("ps", "-a", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("a failed run/create left containers: %q", out)
	}
}

func TestRunNameConflict(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ok("create", "--name", "dup", "busybox", "true")
	_, stderr := e.fails(125, "run", "--name", "dup", "busybox", "true")
	low := strings.ToLower(stderr)
	if !strings.Contains(stderr, "dup") || !(strings.Contains(low, "conflict") || strings.Contains(low, "already in use")) {
		t.Errorf("second container named dup: stderr %q, want a conflict naming \"dup\"", stderr)
	}
	_, stderr = e.fails(125, "create", "--name", "dup", "busybox", "true")
	if !strings.Contains(stderr, "dup") {
		t.Errorf("create with a taken name: stderr %q does not name it", stderr)
	}
	if n := len(lines(e.ok("ps", "-a", "-q"))); n != 1 {
		t.Errorf("after the conflicts, ps -a lists %d containers, want 1", n)
	}
}

func TestRunEnvAndWorkdir(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	envFile := filepath.Join(t.TempDir(), "env.list")
	if err := os.WriteFile(envFile, []byte("# a comment\nFROMFILE=file value\n\nSHARED=from-file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := e.runWith(runOpts{env: []string{"E2E_HOST_VAR=from-host"}},
		"run", "--rm", "-e", "FOO=bar", "-e", "SPACES=a b  c", "-e", "E2E_HOST_VAR", "-e", "E2E_UNSET_VAR",
		"--env-file", envFile, "-e", "SHARED=from-flag", "busybox", "env")
	if code != 0 {
		t.Fatalf("run env: exit %d: %s", code, stderr)
	}
	vars := map[string]string{}
	for _, l := range lines(out) {
		k, v, _ := strings.Cut(l, "=")
		vars[k] = v
	}
	want := map[string]string{
		"FOO": "bar", "SPACES": "a b  c", "E2E_HOST_VAR": "from-host", "FROMFILE": "file value",
		"SHARED": "from-flag", "HOSTNAME": vars["HOSTNAME"],
	}
	for k, v := range want {
		if got, ok := vars[k]; !ok || got != v {
			t.Errorf("env in the container: %s=%q (set: %v), want %q\nfull env:\n%s", k, got, ok, v, out)
		}
	}
	if _, ok := vars["E2E_UNSET_VAR"]; ok {
		t.Errorf("-e E2E_UNSET_VAR (unset on the host) appears in the container's env")
	}
	if !strings.Contains(vars["PATH"], "/bin") {
		t.Errorf("PATH in the container is %q, want a default PATH", vars["PATH"])
	}
	if vars["HOSTNAME"] == "" {
		t.Errorf("HOSTNAME not set in the container's env:\n%s", out)
	}

	if out := e.ok("run", "--rm", "-w", "/new/work/dir", "busybox", "pwd"); out != "/new/work/dir\n" {
		t.Errorf("run -w /new/work/dir pwd printed %q", out)
	}
	if out := e.ok("run", "--rm", "-w", "/etc", "busybox", "sh", "-c", "pwd; ls -d passwd"); out != "/etc\npasswd\n" {
		t.Errorf("run -w /etc printed %q", out)
	}
}

func TestRunUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if out := e.ok("run", "--rm", "-u", "alice", "busybox", "id"); !strings.HasPrefix(out, "uid=1000(alice) gid=1000(alice)") {
		t.Errorf("run -u alice id printed %q, want uid=1000(alice) gid=1000(alice)", out)
	}
	if out := e.ok("run", "--rm", "-u", "alice", "busybox", "sh", "-c", "echo $HOME"); out != "/home/alice\n" {
		t.Errorf("run -u alice: HOME is %q, want /home/alice", out)
	}
	if out := e.ok("run", "--rm", "-u", "1000:100", "busybox", "id"); !strings.HasPrefix(out, "uid=1000(alice) gid=100(users)") {
		t.Errorf("run -u 1000:100 id printed %q, want uid=1000(alice) gid=100(users)", out)
	}
	if out := e.ok("run", "--rm", "-u", "4242", "busybox", "id", "-u"); out != "4242\n" {
		t.Errorf("run -u 4242 (not in passwd) id -u printed %q, want 4242", out)
	}
	// The user's file writes are its own: not root's.
	if out := e.ok("run", "--rm", "-u", "alice", "busybox", "sh", "-c", "touch /tmp/f && stat -c %u:%g /tmp/f"); out != "1000:1000\n" {
		t.Errorf("file made by alice owned by %q, want 1000:1000", out)
	}
	_, stderr, code := e.failsAny("run", "--rm", "-u", "nosuchuser", "busybox", "id")
	if !strings.Contains(stderr, "nosuchuser") {
		t.Errorf("run -u nosuchuser: stderr %q does not name the user", stderr)
	}
	if code != 125 && code != 126 {
		t.Errorf("run -u nosuchuser: exit %d, want 125 or 126 (berth could not run it)", code)
	}
}

func TestRunEntrypointAndHostname(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// The image's CMD is ["sh"]: --entrypoint resets it, so echo gets no
	// argument (Docker: "Passing --entrypoint will clear out any default
	// command set on the image").
	if out := e.ok("run", "--rm", "--entrypoint", "echo", "busybox"); out != "\n" {
		t.Errorf("run --entrypoint echo busybox printed %q, want an empty line (the image CMD must be reset)", out)
	}
	if out := e.ok("run", "--rm", "--entrypoint", "echo", "busybox", "a", "b"); out != "a b\n" {
		t.Errorf("run --entrypoint echo busybox a b printed %q, want \"a b\"", out)
	}
	e.ok("create", "--name", "ep", "--entrypoint", "/bin/echo", "busybox", "x")
	if p := e.inspect("{{.Path}} {{json .Args}}", "ep"); p != `/bin/echo ["x"]` {
		t.Errorf("inspect Path/Args of --entrypoint /bin/echo x: %q", p)
	}
	if out := e.ok("run", "--rm", "--hostname", "myhost", "busybox", "sh", "-c", "hostname; cat /etc/hostname"); out != "myhost\nmyhost\n" {
		t.Errorf("run --hostname myhost: hostname and /etc/hostname printed %q", out)
	}
	if out := e.ok("run", "--rm", "-h", "other", "busybox", "hostname"); out != "other\n" {
		t.Errorf("run -h other hostname printed %q", out)
	}
}

func TestRunLabels(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ok("create", "--name", "lab", "-l", "com.example.a=one", "--label", "b=two=2", "-l", "empty=", "busybox", "true")
	if got := e.inspect(`{{index .Config.Labels "com.example.a"}}|{{index .Config.Labels "b"}}|{{index .Config.Labels "empty"}}`, "lab"); got != "one|two=2|" {
		t.Errorf("inspect labels: %q, want one|two=2|", got)
	}
	if got := e.inspect("{{len .Config.Labels}}", "lab"); got != "3" {
		t.Errorf("inspect: %s labels, want 3", got)
	}
	if out := strings.TrimSpace(e.ok("ps", "-a", "--filter", "label=b=two=2", "--format", "{{.Names}}")); out != "lab" {
		t.Errorf("ps --filter label=b=two=2 printed %q, want lab", out)
	}
}

func TestRunReadOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, p := range []string{"/newfile", "/tmp/newfile", "/etc/passwd"} {
		_, stderr, _ := e.failsAny("run", "--rm", "--read-only", "busybox", "sh", "-c", "echo x >> "+p)
		if !strings.Contains(stderr, "Read-only file system") {
			t.Errorf("--read-only write to %s: stderr %q, want \"Read-only file system\"", p, stderr)
		}
	}
	// Without --read-only the same writes work.
	e.ok("run", "--rm", "busybox", "sh", "-c", "echo x > /newfile && echo x > /tmp/newfile")
	// /proc and /dev stay usable.
	e.ok("run", "--rm", "--read-only", "busybox", "sh", "-c", "echo x > /dev/null && cat /proc/self/status >/dev/null")
	if out := e.ok("run", "--rm", "--read-only", "busybox", "awk", `$2 == "/" {print $4}`, "/proc/mounts"); !strings.HasPrefix(out, "ro") {
		t.Errorf("--read-only: / is mounted %q, want ro", out)
	}
}

// capEff returns the CapEff line of /proc/self/status in a container.
func capEff(t *testing.T, e *env, flags ...string) string {
	t.Helper()
	args := append(append([]string{"run", "--rm"}, flags...), "busybox", "grep", "-E", "^(CapEff|NoNewPrivs):", "/proc/self/status")
	out, stderr, code := e.run(args...)
	if code != 0 {
		t.Errorf("berth %s: exit %d\nstderr: %s", strings.Join(args, " "), code, clip(stderr))
		return "(failed)"
	}
	for _, l := range lines(out) {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no CapEff in /proc/self/status: %q", out)
	return ""
}

func TestRunCapabilities(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const dockerDefault = 0x00000000a80425fb
	if got := capEff(t, e); got != fmt.Sprintf("%016x", dockerDefault) {
		t.Errorf("default CapEff %s, want Docker's %016x", got, dockerDefault)
	}
	if got := capEff(t, e, "--cap-drop", "ALL"); got != "0000000000000000" {
		t.Errorf("--cap-drop ALL: CapEff %s, want 0", got)
	}
	if got := capEff(t, e, "--cap-add", "NET_ADMIN"); got != fmt.Sprintf("%016x", dockerDefault|1<<12) {
		t.Errorf("--cap-add NET_ADMIN: CapEff %s, want %016x", got, dockerDefault|1<<12)
	}
	if got := capEff(t, e, "--cap-drop", "ALL", "--cap-add", "cap_chown"); got != "0000000000000001" {
		t.Errorf("--cap-drop ALL --cap-add cap_chown: CapEff %s, want 1", got)
	}
	if got := capEff(t, e, "--cap-drop", "NET_RAW"); got != fmt.Sprintf("%016x", dockerDefault&^(1<<13)) {
		t.Errorf("--cap-drop NET_RAW: CapEff %s, want %016x", got, dockerDefault&^(1<<13))
	}
	// --privileged gives every capability berth itself may hold: the
	// host's bounding set (on a normal host, every capability up to
	// cap_last_cap).
	all := hostCapBnd(t)
	if got := capEff(t, e, "--privileged"); got != fmt.Sprintf("%016x", all) {
		t.Errorf("--privileged: CapEff %s, want every capability of the host's bounding set %016x", got, all)
	}
	// A non-root user has no effective capabilities, as in Docker.
	if got := capEff(t, e, "-u", "alice"); got != "0000000000000000" {
		t.Errorf("-u alice: CapEff %s, want 0", got)
	}
	_, stderr, code := e.failsAny("run", "--rm", "--cap-add", "NOT_A_CAP", "busybox", "true")
	if code != 125 || !strings.Contains(stderr, "NOT_A_CAP") {
		t.Errorf("--cap-add NOT_A_CAP: exit %d, stderr %q; want 125 naming it", code, stderr)
	}

	nnp := func(flags ...string) string {
		args := append(append([]string{"run", "--rm"}, flags...), "busybox", "grep", "^NoNewPrivs:", "/proc/self/status")
		return strings.Join(strings.Fields(e.ok(args...)), " ")
	}
	if got := nnp("--security-opt", "no-new-privileges"); got != "NoNewPrivs: 1" {
		t.Errorf("--security-opt no-new-privileges: %q, want NoNewPrivs: 1", got)
	}
	if got := nnp("--security-opt", "no-new-privileges:true"); got != "NoNewPrivs: 1" {
		t.Errorf("--security-opt no-new-privileges:true: %q, want NoNewPrivs: 1", got)
	}
	if got := nnp(); got != "NoNewPrivs: 0" {
		t.Errorf("default: %q, want NoNewPrivs: 0", got)
	}
}

func TestRunNetwork(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ifaces := func(procNetDev string) []string {
		var names []string
		for _, l := range lines(procNetDev) {
			if name, _, ok := strings.Cut(l, ":"); ok && !strings.Contains(name, "|") {
				names = append(names, strings.TrimSpace(name))
			}
		}
		return names
	}
	for _, flags := range [][]string{{"--network", "none"}, nil} {
		args := append(append([]string{"run", "--rm"}, flags...), "busybox", "cat", "/proc/net/dev")
		if got := ifaces(e.ok(args...)); len(got) != 1 || got[0] != "lo" {
			t.Errorf("run %v: interfaces %v, want only lo", flags, got)
		}
	}
	out := e.ok("run", "--rm", "--network", "none", "busybox", "ip", "link", "show", "lo")
	if !strings.Contains(out, ",UP") && !strings.Contains(out, "<UP") {
		t.Errorf("--network none: lo is not up:\n%s", out)
	}
	e.ok("run", "--rm", "--network", "none", "busybox", "ping", "-c", "1", "-W", "2", "127.0.0.1")

	host, err := os.ReadFile("/proc/net/dev")
	if err != nil {
		t.Fatal(err)
	}
	want := ifaces(string(host))
	got := ifaces(e.ok("run", "--rm", "--network", "host", "busybox", "cat", "/proc/net/dev"))
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("--network host: interfaces %v, want the host's %v", got, want)
	}
	hostname, _ := os.Hostname()
	if out := e.ok("run", "--rm", "--network", "host", "busybox", "hostname"); strings.TrimSpace(out) != hostname {
		t.Errorf("--network host: hostname %q, want the host's %q", out, hostname)
	}
	_, stderr, code := e.failsAny("run", "--rm", "--network", "nosuchnet", "busybox", "true")
	if code != 125 || !strings.Contains(stderr, "nosuchnet") {
		t.Errorf("--network nosuchnet: exit %d, stderr %q; want 125 naming it", code, stderr)
	}
}

func TestRunLogRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	script := `i=0; while [ $i -lt 400 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done`
	id := e.runD("--log-opt", "max-size=1k", "--log-opt", "max-file=2", "busybox", "sh", "-c", script)
	if code := strings.TrimSpace(e.ok("wait", id)); code != "0" {
		t.Fatalf("wait: %q", code)
	}
	dir := filepath.Join(e.root, "containers", id)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var logs []string
	for _, ent := range ents {
		if !strings.HasPrefix(ent.Name(), "json.log") || ent.Name() == "json.log.idx" {
			continue // the rotation index is not a log file
		}
		logs = append(logs, ent.Name())
		fi, err := ent.Info()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > 1024 {
			t.Errorf("%s is %d bytes, over max-size=1k", ent.Name(), fi.Size())
		}
	}
	if strings.Join(logs, ",") != "json.log,json.log.1" {
		t.Errorf("log files %v, want json.log and json.log.1 (max-file=2)", logs)
	}
	// Docker's json-file format: one JSON object per line. berth writes one
	// object per chunk of output read (a chunk may hold many lines).
	for _, name := range logs {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range lines(string(b)) {
			var ent struct{ Log, Stream, Time string }
			if err := json.Unmarshal([]byte(l), &ent); err != nil {
				t.Errorf("%s line %d is not JSON: %v: %s", name, i+1, err, clip(l))
				break
			}
			if ent.Log == "" || ent.Stream != "stdout" || ent.Time == "" {
				t.Errorf("%s line %d: entry %s, want log, stream stdout and time", name, i+1, clip(l))
				break
			}
		}
	}
	out := e.ok("logs", id)
	if !strings.HasSuffix(out, "line-399-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n") {
		t.Errorf("logs do not end with the last line: %q", clip(out))
	}
	if strings.Contains(out, "line-0-") {
		t.Errorf("logs still hold the first line after rotation")
	}
	_, stderr, code := e.failsAny("run", "--rm", "--log-opt", "max-size=lots", "busybox", "true")
	if code != 125 || !strings.Contains(stderr, "max-size") {
		t.Errorf("--log-opt max-size=lots: exit %d, stderr %q; want 125 naming max-size", code, stderr)
	}
}

// BERTH_TRACE: the CLI, the monitor and the init stage mark their phases
// in one file, which never reaches the container.
func TestRunTrace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	path := filepath.Join(t.TempDir(), "trace")
	out, stderr, code := e.runWith(runOpts{env: []string{"BERTH_TRACE=" + path}}, "run", "--rm", "busybox", "ls", "/proc/self/fd")
	if code != 0 || out != "0\n1\n2\n3\n" {
		t.Fatalf("traced run: exit %d, fds %q (want 0 1 2 3)\n%s", code, out, stderr)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pids := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.SplitN(line, " ", 3)
		if len(f) == 3 {
			pids[f[2]] = f[1]
		}
	}
	for _, phase := range []string{"cli: main", "cli: created", "cli: monitor exec", "monitor: main", "monitor: cgroup ready", "monitor: go", "init: main", "init: config", "init: rootfs", "init: execve", "cli: started", "cli: end"} {
		if _, ok := pids[phase]; !ok {
			t.Errorf("no %q mark in:\n%s", phase, b)
		}
	}
	if pids["cli: main"] == pids["monitor: main"] || pids["monitor: main"] == pids["init: main"] {
		t.Errorf("marks of the CLI, monitor and init from the same process:\n%s", b)
	}
}
