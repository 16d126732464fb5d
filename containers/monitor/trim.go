package monitor

import (
	"bufio"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// trimAfter is how long a container runs before its monitor trims
// itself; the benchmark reads a monitor's memory a second after start.
const trimAfter = 300 * time.Millisecond

// trimIdle is the least time until the next health check for which the
// monitor trims itself after one: checked more often, it is busy anyway,
// and trimming would cost a quarter more CPU per check (the pages fault
// back in at the next) to save pages it touches again at once.
const trimIdle = time.Second

// trimMemory gives back what starting up cost. A monitor lives as long as
// its container but runs only a few small loops: the pages of the binary
// that package initialisation and start-up touched need not stay resident,
// and neither does the garbage of start-up. Only read-only mappings of the
// executable are dropped: they are re-read from the page cache if touched
// again, and nothing in them is ever written.
func trimMemory() {
	debug.FreeOSMemory()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return
	}
	defer f.Close()
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
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_DONTNEED)
	}
}
