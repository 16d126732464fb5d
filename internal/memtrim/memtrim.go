// Package memtrim gives back the memory a long-lived berth process no
// longer needs once it has started: a container's monitor, and its PID 1
// under --init. Both live as long as their container but run only a few
// small loops: the pages of the binary that package initialisation and
// start-up touched need not stay resident, and neither does the garbage
// of start-up. Only read-only mappings of the executable are dropped: they
// are read again from the page cache if touched, and nothing in them is
// ever written.
package memtrim

import (
	"bufio"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Mapping is an address range of the running executable.
type Mapping struct{ Start, End uintptr }

// Now frees what the collector can and drops the executable's read-only
// pages.
func Now() {
	debug.FreeOSMemory()
	Drop(ExecutableMappings())
}

// ExecutableMappings lists the read-only mappings of this process's
// executable, from /proc/self/maps. A process that will trim later, in a
// place whose /proc it does not trust, reads them first.
func ExecutableMappings() []Mapping {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return nil
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []Mapping
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 00400000-00638000 r-xp 00000000 fe:00 9978163   /path/to/berth
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[5] != exe || strings.Contains(fields[1], "w") {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		out = append(out, Mapping{uintptr(start), uintptr(end)})
	}
	return out
}

// Drop lets the kernel take back the pages of ms.
func Drop(ms []Mapping) {
	for _, m := range ms {
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, m.Start, m.End-m.Start, unix.MADV_DONTNEED)
	}
}
