package engine

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"berth/errdefs"
)

// Process is one row of `top`, as `ps -ef` prints it.
type Process struct {
	UID   string
	PID   int
	PPID  int
	C     string
	STIME string
	TTY   string
	TIME  string
	CMD   string
}

// Top lists the processes running in a container, seen from the host.
func (e *Engine) Top(ctx context.Context, ref string) ([]Process, error) {
	c, err := e.containers.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	if !c.State.Running {
		return nil, errdefs.NotRunning("container %s is not running", c.Name)
	}
	// Its cgroup's processes: its PID namespace may be the host's or
	// another container's (--pid).
	pids, err := e.cgroup(c).Procs()
	if err != nil {
		return nil, fmt.Errorf("top %s: %w", c.Name, err)
	}
	slices.Sort(pids)
	boot := bootTime()
	var out []Process
	for _, pid := range pids {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if p, ok := readProc(pid, boot); ok {
			out = append(out, p)
		}
	}
	return out, nil
}

var clockTicks = int64(100) // USER_HZ on every Linux architecture berth runs on

func readProc(pid int, boot time.Time) (Process, bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Process{}, false
	}
	// The command name is in parentheses and may hold spaces.
	s := string(stat)
	rp := strings.LastIndexByte(s, ')')
	if rp < 0 {
		return Process{}, false
	}
	f := strings.Fields(s[rp+2:])
	if len(f) < 20 {
		return Process{}, false
	}
	p := Process{PID: pid, C: "0", TTY: "?"}
	p.PPID, _ = strconv.Atoi(f[1])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	start, _ := strconv.ParseInt(f[19], 10, 64)
	ttyNr, _ := strconv.Atoi(f[4])
	if ttyNr != 0 {
		major, minor := (ttyNr>>8)&0xfff, (ttyNr&0xff)|((ttyNr>>12)&0xfff00)
		if major == 136 {
			p.TTY = fmt.Sprintf("pts/%d", minor)
		} else {
			p.TTY = "?"
		}
	}
	cpu := (utime + stime) / clockTicks
	p.TIME = fmt.Sprintf("%02d:%02d:%02d", cpu/3600, cpu/60%60, cpu%60)
	started := boot.Add(time.Duration(start * int64(time.Second) / clockTicks))
	if elapsed := time.Since(started).Seconds(); elapsed > 0 {
		p.C = strconv.Itoa(int(float64(utime+stime) / float64(clockTicks) * 100 / elapsed))
	}
	if time.Since(started) < 24*time.Hour {
		p.STIME = started.Format("15:04")
	} else {
		p.STIME = started.Format("Jan02")
	}
	var st unix.Stat_t
	if unix.Stat(fmt.Sprintf("/proc/%d", pid), &st) == nil {
		p.UID = strconv.Itoa(int(st.Uid))
		if st.Uid == 0 {
			p.UID = "root"
		}
	}
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	p.CMD = strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))
	if p.CMD == "" {
		p.CMD = "[" + s[strings.IndexByte(s, '(')+1:rp] + "]"
	}
	return p, true
}

func bootTime() time.Time {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return time.Unix(n, 0)
		}
	}
	return time.Time{}
}
