package containers

import (
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"berth/errdefs"
)

// ParseSignal reads a signal as Docker takes it: a number, or a name with
// or without SIG (KILL, SIGKILL, sigkill).
func ParseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, errdefs.InvalidArgument("invalid signal: %s", s)
		}
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	sig := unix.SignalNum(name)
	if sig == 0 {
		return 0, errdefs.InvalidArgument("invalid signal: %s", s)
	}
	return sig, nil
}
