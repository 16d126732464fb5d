package monitor_test

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"berth/containers"
	"berth/containers/attach"
	"berth/containers/monitor"
	"berth/containers/runtime"
	"berth/internal/enginetest"
)

// pending starts a monitor for a container yet to come (monitor.PendingArg)
// as the engine's run does, and returns the client's end of its socket.
func pending(t *testing.T, root string) (net.Conn, *exec.Cmd) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "client"), os.NewFile(uintptr(fds[1]), "monitor")
	defer theirs.Close()
	conn, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := &exec.Cmd{Path: self, Args: []string{"berth", "monitor", "--root", root, monitor.PendingArg},
		ExtraFiles: []*os.File{theirs}, SysProcAttr: &syscall.SysProcAttr{Setsid: true}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return conn, cmd
}

// stageOf returns the PID of an init stage whose parent is pid, or 0.
func stageOf(pid int) int {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(b, []byte("berth\x00init\x00")) {
			continue
		}
		dir := filepath.Dir(p)
		stat, err := os.ReadFile(filepath.Join(dir, "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		i := bytes.LastIndexByte(stat, ')')
		f := strings.Fields(string(stat[i+1:]))
		if i < 0 || len(f) < 2 || f[1] != strconv.Itoa(pid) {
			continue
		}
		child, _ := strconv.Atoi(filepath.Base(dir))
		return child
	}
	return 0
}

// A pending monitor told a wrong guess (Prepare) of the container's
// namespaces and stdio drops the stage it spawned on it and starts the
// right one: the container runs as its record says.
func TestPrepareWrongGuess(t *testing.T) {
	e := enginetest.New(t)
	c := create(t, e, containers.Config{Cmd: []string{"sh", "-c", "ls /sys/class/net; echo err >&2"}}, containers.HostConfig{})
	conn, cmd := pending(t, e.Root())
	// The record: no terminal, no stdin, a network namespace. The guess:
	// a terminal, stdin, the host's network.
	wrong, err := runtime.CloneFlags(containers.Namespaces(&containers.HostConfig{NetworkMode: "host"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := monitor.Prepare(conn, wrong, true, true); err != nil {
		t.Fatal(err)
	}
	if err := monitor.Assign(conn, c.ID); err != nil {
		t.Fatal(err)
	}
	ac := attach.NewConn(conn)
	if err := ac.WriteJSON(attach.Hello, attach.HelloMsg{Stdout: true, Stderr: true}); err != nil {
		t.Fatal(err)
	}
	s := result(t, collect(ac), conn.Close)
	if s.exit == nil || s.exit.Code != 0 || s.stdout != "lo\n" || s.stderr != "err\n" {
		t.Errorf("stdout %q, stderr %q, exit %+v; want lo alone (its own network namespace), err on stderr, 0", s.stdout, s.stderr, s.exit)
	}
	monitorGone(t, e, c.ID, cmd.Process.Pid)
}

// A pending monitor whose container never comes (its Create failed: the
// client closes the socket) ends, and so does the stage it spawned.
func TestPrepareNoContainer(t *testing.T) {
	e := enginetest.New(t)
	conn, cmd := pending(t, e.Root())
	flags, err := runtime.CloneFlags(containers.Namespaces(&containers.HostConfig{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := monitor.Prepare(conn, flags, false, false); err != nil {
		t.Fatal(err)
	}
	var stage int
	waitFor(t, "the monitor to spawn a stage", func() bool { stage = stageOf(cmd.Process.Pid); return stage != 0 })
	conn.Close()
	if err := cmd.Wait(); err != nil {
		t.Errorf("monitor: %v, want a clean exit", err)
	}
	waitFor(t, "the stage to end", func() bool { return gone(stage) })
}
