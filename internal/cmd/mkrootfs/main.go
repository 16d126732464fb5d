// Command mkrootfs writes the busybox rootfs tar (see testimage) to stdout,
// for the quick start and the benchmarks.
package main

import (
	"bufio"
	"fmt"
	"os"

	"berth/internal/testimage"
)

func main() {
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	if err := testimage.WriteBusyboxTar(w); err != nil {
		fmt.Fprintln(os.Stderr, "mkrootfs:", err)
		os.Exit(1)
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "mkrootfs:", err)
		os.Exit(1)
	}
}
