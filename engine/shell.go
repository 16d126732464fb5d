package engine

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"berth/errdefs"
)

// fallbackShells are tried, in order, when /etc/shells names none that
// exists.
var fallbackShells = []string{"/bin/bash", "/usr/bin/bash", "/bin/sh", "/usr/bin/sh"}

// FindShell picks an interactive shell in a running container: one listed
// in its /etc/shells (bash first when listed), else bash, else sh. Paths
// resolve inside the container's root, so a symlink such as busybox's
// /bin/sh -> /bin/busybox counts only if its target exists there.
func (e *Engine) FindShell(ctx context.Context, ref string) (string, error) {
	c, err := e.containers.Get(ctx, ref)
	if err != nil {
		return "", err
	}
	if !c.State.Running || c.State.Pid == 0 {
		return "", errdefs.NotRunning("container %s is not running", c.Name)
	}
	root, err := os.Open("/proc/" + strconv.Itoa(c.State.Pid) + "/root")
	if err != nil {
		return "", fmt.Errorf("find a shell in %s: %w", c.Name, err)
	}
	defer root.Close()
	exists := func(p string) bool {
		fd, err := unix.Openat2(int(root.Fd()), p, &unix.OpenHow{
			Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err != nil {
			return false
		}
		var st unix.Stat_t
		err = unix.Fstat(fd, &st)
		unix.Close(fd)
		return err == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && st.Mode&0o111 != 0
	}
	for _, sh := range shellCandidates(readShells(int(root.Fd()))) {
		if exists(sh) {
			return sh, nil
		}
	}
	return "", errdefs.NotFound("container %s has no shell: /etc/shells names none that exists, and there is no bash or sh", c.Name)
}

// readShells reads /etc/shells inside the root; nil when there is none.
func readShells(rootfd int) []string {
	fd, err := unix.Openat2(rootfd, "/etc/shells", &unix.OpenHow{
		Flags: unix.O_RDONLY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil
	}
	f := os.NewFile(uintptr(fd), "/etc/shells")
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || !strings.HasPrefix(line, "/") {
			continue
		}
		out = append(out, line)
	}
	return out
}

// shellCandidates orders the shells to try: those /etc/shells lists (bash
// first; no nologin or false), then the fallbacks.
func shellCandidates(listed []string) []string {
	var bash, rest []string
	for _, s := range listed {
		base := s[strings.LastIndexByte(s, '/')+1:]
		switch {
		case base == "nologin" || base == "false":
		case base == "bash":
			bash = append(bash, s)
		default:
			rest = append(rest, s)
		}
	}
	out := append(bash, rest...)
	for _, s := range fallbackShells {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
