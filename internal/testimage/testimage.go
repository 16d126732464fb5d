// Package testimage builds the busybox root filesystem that tests, the
// benchmarks and the quick start import as an image: Debian's static
// busybox, a link per applet, and minimal /etc files. No network needed.
package testimage

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"strings"
	"time"
)

// BusyboxPath is where Debian's busybox-static installs the binary.
const BusyboxPath = "/bin/busybox"

// Files a rootfs holds besides busybox and its applets.
var etcFiles = map[string]string{
	"etc/passwd":     "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nalice:x:1000:1000:Alice:/home/alice:/bin/sh\n",
	"etc/group":      "root:x:0:\ndaemon:x:1:\nusers:x:100:alice\nnogroup:x:65534:\nalice:x:1000:\n",
	"etc/shells":     "/bin/sh\n/bin/ash\n",
	"etc/os-release": "NAME=\"berth busybox\"\nID=busybox\n",
}

// WriteBusyboxTar writes a busybox rootfs tar to w.
func WriteBusyboxTar(w io.Writer) error {
	bin, err := os.ReadFile(BusyboxPath)
	if err != nil {
		return fmt.Errorf("read %s (install Debian's busybox-static): %w", BusyboxPath, err)
	}
	if bytes.HasPrefix(bin, []byte("#!")) {
		return errors.New(BusyboxPath + " is a script, not busybox-static")
	}
	out, err := exec.Command(BusyboxPath, "--list-full").Output()
	if err != nil {
		return fmt.Errorf("list busybox applets: %w", err)
	}
	tw := tar.NewWriter(w)
	now := time.Unix(1700000000, 0)
	dir := func(name string, mode int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: now})
	}
	for _, d := range []string{"bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "root", "home", "var", "run", "proc", "sys", "dev"} {
		if err := dir(d, 0o755); err != nil {
			return err
		}
	}
	if err := dir("home/alice", 0o755); err != nil {
		return err
	}
	if err := dir("tmp", 0o1777); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755, Size: int64(len(bin)), ModTime: now}); err != nil {
		return err
	}
	if _, err := tw.Write(bin); err != nil {
		return err
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "bin/busybox" {
			continue
		}
		target, err := relTo(applet, "bin/busybox")
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: applet, Linkname: target, Mode: 0o777, ModTime: now}); err != nil {
			return err
		}
	}
	for name, body := range etcFiles {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: now}); err != nil {
			return err
		}
		if _, err := io.WriteString(tw, body); err != nil {
			return err
		}
	}
	return tw.Close()
}

// relTo is the relative symlink target from link to target (both relative
// to the root), e.g. usr/bin/env -> ../../bin/busybox.
func relTo(link, target string) (string, error) {
	depth := strings.Count(path.Clean(link), "/")
	return strings.Repeat("../", depth) + target, nil
}
