// Command mkrootfs writes the busybox rootfs tar (see testimage) to stdout,
// for the quick start and the benchmarks. With -layers N it writes instead
// a docker-archive (for `load`) of an image of N layers, the busybox
// rootfs and N-1 tiny ones above it (testimage.WriteDeepArchive), tagged
// -ref.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"

	"berth/internal/testimage"
)

func main() {
	layers := flag.Int("layers", 0, "write a docker-archive of an image of this many layers")
	ref := flag.String("ref", "deep:latest", "the archive's image tag (with -layers)")
	flag.Parse()
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	if err := write(w, *layers, *ref); err != nil {
		fmt.Fprintln(os.Stderr, "mkrootfs:", err)
		os.Exit(1)
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "mkrootfs:", err)
		os.Exit(1)
	}
}

func write(w *bufio.Writer, layers int, ref string) error {
	if layers == 0 {
		return testimage.WriteBusyboxTar(w)
	}
	var base bytes.Buffer
	if err := testimage.WriteBusyboxTar(&base); err != nil {
		return err
	}
	return testimage.WriteDeepArchive(w, base.Bytes(), layers, ref)
}
