// Package testimage builds the busybox root filesystem that tests, the
// benchmarks and the quick start import as an image: Debian's static
// busybox, a link per applet, and minimal /etc files. No network needed.
package testimage

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"runtime"
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

// WriteDeepArchive writes a docker-archive (as `docker save` makes, for
// `load`) of one image, tagged ref, of n layers: base (a rootfs tar, such
// as WriteBusyboxTar's; nil for a layer with one file, /base) and n-1 tiny
// layers above it. Layer i (from 1) holds /f<i> and /top, each saying i;
// layer 1 also /gone and /opq/a, which layer n/2 deletes (a whiteout) and
// layer n-1 hides (an opaque /opq holding only b), when there are that
// many. Made in memory in one pass: images of hundreds of layers for
// tests and benchmarks without a build of hundreds of steps.
func WriteDeepArchive(w io.Writer, base []byte, n int, ref string) error {
	if n < 1 {
		return fmt.Errorf("an image of %d layers", n)
	}
	now := time.Unix(1700000000, 0)
	if base == nil {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "base", Mode: 0o644, ModTime: now}); err != nil {
			return err
		}
		if err := tw.Close(); err != nil {
			return err
		}
		base = buf.Bytes()
	}
	layer := func(i int) ([]byte, error) {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		put := func(name, body string) error {
			h := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: now}
			if strings.HasSuffix(name, "/") {
				h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
			}
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			_, err := io.WriteString(tw, body)
			return err
		}
		num := fmt.Sprint(i) + "\n"
		files := [][2]string{{"f" + fmt.Sprint(i), num}, {"top", num}}
		switch {
		case i == 1:
			files = append(files, [2]string{"gone", "layer 1\n"}, [2]string{"opq/", ""}, [2]string{"opq/a", "layer 1\n"})
		case i == n/2:
			files = append(files, [2]string{".wh.gone", ""})
		}
		if i == n-1 && i > 1 {
			files = append(files, [2]string{"opq/", ""}, [2]string{"opq/.wh..wh..opq", ""}, [2]string{"opq/b", num})
		}
		for _, f := range files {
			if err := put(f[0], f[1]); err != nil {
				return nil, err
			}
		}
		err := tw.Close()
		return buf.Bytes(), err
	}
	tw := tar.NewWriter(w)
	add := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: now}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	type history struct {
		Created   time.Time `json:"created"`
		CreatedBy string    `json:"created_by"`
	}
	var diffIDs, files []string
	var hist []history
	for i := range n {
		data := base
		if i > 0 {
			var err error
			if data, err = layer(i); err != nil {
				return err
			}
		}
		sum := sha256.Sum256(data)
		hexSum := hex.EncodeToString(sum[:])
		name := "blobs/sha256/" + hexSum
		if err := add(name, data); err != nil {
			return err
		}
		diffIDs, files = append(diffIDs, "sha256:"+hexSum), append(files, name)
		hist = append(hist, history{Created: now, CreatedBy: fmt.Sprintf("layer %d", i)})
	}
	cfg, err := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH, "os": "linux", "created": now,
		"config":  map[string]any{"Cmd": []string{"sh"}, "Env": []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": diffIDs},
		"history": hist,
	})
	if err != nil {
		return err
	}
	sum := sha256.Sum256(cfg)
	cfgName := "blobs/sha256/" + hex.EncodeToString(sum[:])
	if err := add(cfgName, cfg); err != nil {
		return err
	}
	manifest, err := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{ref}, "Layers": files}})
	if err != nil {
		return err
	}
	if err := add("manifest.json", manifest); err != nil {
		return err
	}
	return tw.Close()
}
