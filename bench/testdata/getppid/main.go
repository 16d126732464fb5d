// getppid times a tight loop of getppid(2) calls, made with
// syscall.RawSyscall so that nothing but the syscall is measured, and
// prints nanoseconds per call, one line per round. bench/seccomp.sh runs
// it, built static, in Docker's and berth's containers to compare the
// cost of their seccomp filters.
//
//	getppid [CALLS [ROUNDS [SYSCALL]]]  default 10000000 calls, 1 round
//	getppid status                      the Seccomp lines of /proc/self/status
//
// SYSCALL is getppid (the default) or personality, called as
// personality(0xffffffff), a query whose seccomp rule has an argument.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "status" {
		b, err := os.ReadFile("/proc/self/status")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "Seccomp") {
				fmt.Println(l)
			}
		}
		return
	}
	calls, rounds := 10_000_000, 1
	if len(os.Args) > 1 {
		calls = atoi(os.Args[1])
	}
	if len(os.Args) > 2 {
		rounds = atoi(os.Args[2])
	}
	nr, arg := uintptr(syscall.SYS_GETPPID), uintptr(0)
	if len(os.Args) > 3 {
		switch os.Args[3] {
		case "getppid":
		case "personality":
			nr, arg = syscall.SYS_PERSONALITY, 0xffffffff
		default:
			fmt.Fprintf(os.Stderr, "getppid: unknown syscall %q\n", os.Args[3])
			os.Exit(2)
		}
	}
	runtime.LockOSThread()
	for range rounds {
		start := time.Now()
		for range calls {
			syscall.RawSyscall(nr, arg, 0, 0)
		}
		ns := time.Since(start).Nanoseconds()
		fmt.Printf("%.2f\n", float64(ns)/float64(calls))
	}
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		fmt.Fprintf(os.Stderr, "getppid: %q is not a positive number\n", s)
		os.Exit(2)
	}
	return n
}
