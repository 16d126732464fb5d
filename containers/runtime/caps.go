package runtime

import (
	"fmt"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// capNames maps the kernel's capability names (without CAP_) to numbers.
var capNames = map[string]int{
	"CHOWN": 0, "DAC_OVERRIDE": 1, "DAC_READ_SEARCH": 2, "FOWNER": 3, "FSETID": 4,
	"KILL": 5, "SETGID": 6, "SETUID": 7, "SETPCAP": 8, "LINUX_IMMUTABLE": 9,
	"NET_BIND_SERVICE": 10, "NET_BROADCAST": 11, "NET_ADMIN": 12, "NET_RAW": 13,
	"IPC_LOCK": 14, "IPC_OWNER": 15, "SYS_MODULE": 16, "SYS_RAWIO": 17, "SYS_CHROOT": 18,
	"SYS_PTRACE": 19, "SYS_PACCT": 20, "SYS_ADMIN": 21, "SYS_BOOT": 22, "SYS_NICE": 23,
	"SYS_RESOURCE": 24, "SYS_TIME": 25, "SYS_TTY_CONFIG": 26, "MKNOD": 27, "LEASE": 28,
	"AUDIT_WRITE": 29, "AUDIT_CONTROL": 30, "SETFCAP": 31, "MAC_OVERRIDE": 32,
	"MAC_ADMIN": 33, "SYSLOG": 34, "WAKE_ALARM": 35, "BLOCK_SUSPEND": 36, "AUDIT_READ": 37,
	"PERFMON": 38, "BPF": 39, "CHECKPOINT_RESTORE": 40,
}

// DefaultCaps is Docker's default capability set.
var DefaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// AllCaps returns every capability the running kernel knows, as CAP_ names.
func AllCaps() []string {
	last := lastCap()
	var out []string
	for name, n := range capNames {
		if n <= last {
			out = append(out, "CAP_"+name)
		}
	}
	sort.Strings(out)
	return out
}

// NormalizeCap turns "net_admin", "NET_ADMIN" or "CAP_NET_ADMIN" into
// "CAP_NET_ADMIN"; "ALL" stays "ALL".
func NormalizeCap(s string) (string, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	if u == "ALL" {
		return u, nil
	}
	u = strings.TrimPrefix(u, "CAP_")
	if _, ok := capNames[u]; !ok {
		return "", fmt.Errorf("unknown capability: %q", s)
	}
	return "CAP_" + u, nil
}

// MergeCaps applies --cap-add and --cap-drop to base as Docker does: ALL in
// add means every capability, ALL in drop means none before the adds.
func MergeCaps(base, add, drop []string) ([]string, error) {
	set := map[string]bool{}
	for _, c := range base {
		set[c] = true
	}
	norm := func(list []string) ([]string, bool, error) {
		var out []string
		all := false
		for _, c := range list {
			n, err := NormalizeCap(c)
			if err != nil {
				return nil, false, err
			}
			if n == "ALL" {
				all = true
				continue
			}
			out = append(out, n)
		}
		return out, all, nil
	}
	d, dropAll, err := norm(drop)
	if err != nil {
		return nil, err
	}
	a, addAll, err := norm(add)
	if err != nil {
		return nil, err
	}
	if dropAll {
		set = map[string]bool{}
	}
	for _, c := range d {
		delete(set, c)
	}
	if addAll {
		for _, c := range AllCaps() {
			set[c] = true
		}
	}
	for _, c := range a {
		set[c] = true
	}
	out := make([]string, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	sort.Strings(out)
	return out, nil
}

func lastCap() int {
	// /proc/sys/kernel/cap_last_cap names the highest capability the kernel has.
	b, err := readSmallFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 40
	}
	n := 0
	for _, c := range strings.TrimSpace(string(b)) {
		n = n*10 + int(c-'0')
	}
	return n
}

func capMask(names []string) (uint64, error) {
	var m uint64
	for _, name := range names {
		n, ok := capNames[strings.TrimPrefix(name, "CAP_")]
		if !ok {
			return 0, fmt.Errorf("unknown capability %q", name)
		}
		m |= 1 << uint(n)
	}
	return m, nil
}

// capState is the capability sets to apply to the process before execve.
type capState struct {
	bounding, effective, permitted, inheritable, ambient uint64
}

// dropBounding removes from the bounding set every capability not in keep.
// It must run while the process still holds CAP_SETPCAP.
func dropBounding(keep uint64, sc scope) error {
	last := lastCap()
	for c := 0; c <= last; c++ {
		if keep&(1<<uint(c)) != 0 {
			continue
		}
		if err := sc.prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0); err != nil && err != unix.EINVAL {
			return fmt.Errorf("drop capability %d from bounding set: %w", c, err)
		}
	}
	return nil
}

// permittedNow is the calling thread's permitted set.
func permittedNow() (uint64, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, fmt.Errorf("capget: %w", err)
	}
	return uint64(data[0].Permitted) | uint64(data[1].Permitted)<<32, nil
}

// limitTo keeps only the capabilities berth itself holds: a process cannot
// grant what it lacks (some hosts withhold e.g. CAP_SYS_RESOURCE from root,
// and --privileged must still work there).
func (s *capState) limitTo(have uint64) {
	s.bounding &= have
	s.effective &= have
	s.permitted &= have
	s.inheritable &= have
	s.ambient &= have
}

// setCaps sets the effective, permitted and inheritable sets and raises the
// ambient ones.
func setCaps(s capState, sc scope) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	data[0].Effective, data[1].Effective = uint32(s.effective), uint32(s.effective>>32)
	data[0].Permitted, data[1].Permitted = uint32(s.permitted), uint32(s.permitted>>32)
	data[0].Inheritable, data[1].Inheritable = uint32(s.inheritable), uint32(s.inheritable>>32)
	if err := sc.capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	if err := sc.prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0); err != nil {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	for c := 0; c < 64; c++ {
		if s.ambient&(1<<uint(c)) == 0 {
			continue
		}
		if err := sc.prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c)); err != nil {
			return fmt.Errorf("raise ambient capability %d: %w", c, err)
		}
	}
	return nil
}
