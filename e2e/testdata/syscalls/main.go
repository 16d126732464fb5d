// Command syscalls makes raw system calls for berth's end-to-end seccomp
// tests (e2e/security_test.go), which build it into a static binary and run
// it inside containers; the go tool ignores it otherwise (it lives under
// testdata).
//
// Each argument names one probe; for each it prints "name=ok" when the
// call succeeded, or "name=ERRNO" (EPERM, ENOSYS, ...) when it failed.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

var probes = map[string]func() error{
	// keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, create=1)
	"keyctl": func() error {
		_, _, e := syscall.Syscall(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, uintptr(0xfffffffd), 1)
		return errno(e)
	},
	"add_key": func() error {
		typ, _ := syscall.BytePtrFromString("user")
		desc, _ := syscall.BytePtrFromString("berth-e2e")
		payload := []byte("x")
		// KEY_SPEC_PROCESS_KEYRING = -2
		_, _, e := syscall.Syscall6(unix.SYS_ADD_KEY, uintptr(unsafe.Pointer(typ)), uintptr(unsafe.Pointer(desc)),
			uintptr(unsafe.Pointer(&payload[0])), uintptr(len(payload)), uintptr(0xfffffffe), 0)
		return errno(e)
	},
	// request_key of a key nobody has: ENOKEY when the call is allowed.
	"request_key": func() error {
		typ, _ := syscall.BytePtrFromString("user")
		desc, _ := syscall.BytePtrFromString("berth-e2e-no-such-key")
		_, _, e := syscall.Syscall6(unix.SYS_REQUEST_KEY, uintptr(unsafe.Pointer(typ)), uintptr(unsafe.Pointer(desc)), 0, 0, 0, 0)
		return errno(e)
	},
	"io_uring_setup": func() error {
		var params [120]byte // struct io_uring_params, zeroed
		fd, _, e := syscall.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params[0])), 0)
		if e == 0 {
			syscall.Close(int(fd))
		}
		return errno(e)
	},
	// clone3 with a zero size: EINVAL when the call is allowed, ENOSYS
	// under Docker's profile (which makes libc fall back to clone).
	"clone3": func() error {
		_, _, e := syscall.Syscall(unix.SYS_CLONE3, 0, 0, 0)
		return errno(e)
	},
	// unshare(CLONE_NEWUSER) needs a single-threaded caller: the forked
	// child does it before it executes /bin/true.
	"unshare_user": func() error {
		cmd := exec.Command("/bin/true")
		cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWUSER}
		return cmd.Run()
	},
	// clone(CLONE_NEWUSER), the other way in.
	"clone_newuser": func() error {
		cmd := exec.Command("/bin/true")
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER}
		return cmd.Run()
	},
	"mkdir": func() error { return syscall.Mkdir("/syscalls-probe-dir", 0o755) },
	"getpid": func() error {
		if syscall.Getpid() <= 0 {
			return syscall.EINVAL
		}
		return nil
	},
	// Eight OS threads, each locked to its goroutine, doing some work.
	"threads": func() error {
		var wg sync.WaitGroup
		sums := make([]uint64, 8)
		tids := make([]int, 8)
		for i := range sums {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				tids[i] = syscall.Gettid()
				for j := uint64(0); j < 2_000_000; j++ {
					sums[i] += j ^ uint64(i)
				}
			}(i)
		}
		wg.Wait()
		seen := map[int]bool{}
		for _, t := range tids {
			seen[t] = true
		}
		if len(seen) < 2 {
			return fmt.Errorf("only %d threads", len(seen))
		}
		return nil
	},
	// fork and exec a program of the image.
	"fork": func() error { return exec.Command("/bin/true").Run() },
}

func errno(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: syscalls PROBE...")
		os.Exit(2)
	}
	for _, name := range os.Args[1:] {
		p, ok := probes[name]
		if !ok {
			fmt.Fprintf(os.Stderr, "syscalls: unknown probe %q\n", name)
			os.Exit(2)
		}
		err := p()
		var e syscall.Errno
		isErrno := errors.As(err, &e)
		switch {
		case err == nil:
			fmt.Printf("%s=ok\n", name)
		case isErrno && unix.ErrnoName(e) != "":
			fmt.Printf("%s=%s\n", name, unix.ErrnoName(e))
		default:
			fmt.Printf("%s=%v\n", name, err)
		}
	}
}
