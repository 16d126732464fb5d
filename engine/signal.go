package engine

import (
	"strconv"
	"strings"
	"syscall"

	units "github.com/docker/go-units"
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

// parseSize reads sizes as Docker writes them: 512m, 1g, 10k, 100 (bytes).
func parseSize(s string) (int64, error) {
	n, err := units.RAMInBytes(s)
	if err != nil {
		return 0, errdefs.InvalidArgument("invalid size %q: %v", s, err)
	}
	return n, nil
}
