package seccomp

import (
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const (
	retAllow       = unix.SECCOMP_RET_ALLOW
	retKillProcess = unix.SECCOMP_RET_KILL_PROCESS
	retENOSYS      = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
)

// errNotify: user notification needs a listener fd handed to a supervisor,
// which berth does not have.
var errNotify = errors.New("SCMP_ACT_NOTIFY is not supported")

// actionRet turns a profile action into the filter's return value. errno
// is the rule's errnoRet: the errno of SCMP_ACT_ERRNO and the data of
// SCMP_ACT_TRACE, EPERM when unset (as runc does).
func actionRet(act specs.LinuxSeccompAction, errno *uint) (uint32, error) {
	data := uint32(unix.EPERM)
	if errno != nil {
		if *errno > 0xffff {
			return 0, fmt.Errorf("errnoRet %d does not fit in 16 bits", *errno)
		}
		data = uint32(*errno)
	}
	switch act {
	case specs.ActAllow:
		return retAllow, nil
	case specs.ActErrno:
		return unix.SECCOMP_RET_ERRNO | data, nil
	case specs.ActKill, specs.ActKillThread:
		return unix.SECCOMP_RET_KILL_THREAD, nil
	case specs.ActKillProcess:
		return retKillProcess, nil
	case specs.ActTrap:
		return unix.SECCOMP_RET_TRAP, nil
	case specs.ActTrace:
		return unix.SECCOMP_RET_TRACE | data, nil
	case specs.ActLog:
		return unix.SECCOMP_RET_LOG, nil
	case specs.ActNotify:
		return 0, errNotify
	case "":
		return 0, errors.New("no action")
	}
	return 0, fmt.Errorf("unknown action %q", act)
}

// filterFlags turns the profile's flags into SECCOMP_FILTER_FLAG_* bits.
func filterFlags(flags []specs.LinuxSeccompFlag) (uint32, error) {
	var out uint32
	for _, f := range flags {
		switch f {
		case specs.LinuxSeccompFlagLog:
			out |= unix.SECCOMP_FILTER_FLAG_LOG
		case specs.LinuxSeccompFlagSpecAllow:
			out |= unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
		case "SECCOMP_FILTER_FLAG_TSYNC":
			// Apply always synchronises the process's threads.
		case specs.LinuxSeccompFlagWaitKillableRecv:
			return 0, fmt.Errorf("flag %s needs SCMP_ACT_NOTIFY, which is not supported", f)
		default:
			return 0, fmt.Errorf("unknown flag %q", f)
		}
	}
	return out, nil
}
