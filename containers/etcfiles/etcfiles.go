// Package etcfiles owns the files berth gives a container in /etc
// (hostname, hosts, resolv.conf): what each says, where it is kept (the
// container's directory) and where the container sees it. The spec binds
// each onto its target as any other mount (Mounts); the runtime resolves
// the target inside the container's root, so an image whose /etc/hosts is
// a link gets the file where the link leads, and never outside the root.
//
// A file is rewritten in place, never replaced by a rename: a running
// container's bind mount holds the file it was made with and would not
// see a new one (networks rewrite hosts as containers connect).
package etcfiles

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The files' names in the container's directory.
const (
	Hostname   = "hostname"
	Hosts      = "hosts"
	ResolvConf = "resolv.conf"
)

// A File is one of them and where the container sees it.
type File struct {
	Name   string // in the container's directory
	Target string // in the container
}

// Files are the files, in the order they are mounted.
var Files = []File{
	{ResolvConf, "/etc/resolv.conf"},
	{Hostname, "/etc/hostname"},
	{Hosts, "/etc/hosts"},
}

// Has reports whether name is one of the files.
func Has(name string) bool {
	for _, f := range Files {
		if f.Name == name {
			return true
		}
	}
	return false
}

// Options are what the files say depends on.
type Options struct {
	Hostname string
	// HostNetwork: the container shares the host's network, and gets its
	// hosts and resolv.conf as they are.
	HostNetwork bool
}

// Write writes the named files (all of them when none is named) into dir,
// a container's directory, in place.
func Write(dir string, o Options, names ...string) error {
	if len(names) == 0 {
		for _, f := range Files {
			names = append(names, f.Name)
		}
	}
	for _, name := range names {
		var b []byte
		switch name {
		case Hostname:
			b = []byte(o.Hostname + "\n")
		case Hosts:
			b = hosts(o)
		case ResolvConf:
			b = resolvConf(o.HostNetwork)
		default:
			return fmt.Errorf("write %s: not a file berth gives a container", name)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("write the container's %s: %w", name, err)
		}
	}
	return nil
}

// Mounts are the spec's mounts of the files of dir onto their targets:
// read-only with a read-only root filesystem, as Docker's.
func Mounts(dir string, readonlyRoot bool) []specs.Mount {
	opts := []string{"rbind", "rprivate"}
	if readonlyRoot {
		opts = append(opts, "ro")
	}
	out := make([]specs.Mount, 0, len(Files))
	for _, f := range Files {
		out = append(out, specs.Mount{Destination: f.Target, Type: "bind", Source: filepath.Join(dir, f.Name), Options: opts})
	}
	return out
}

// hosts is the host's /etc/hosts for a container on the host's network;
// otherwise loopback names and the container's own name on 127.0.0.1.
func hosts(o Options) []byte {
	if o.HostNetwork {
		if b, err := os.ReadFile("/etc/hosts"); err == nil {
			return b
		}
	}
	return fmt.Appendf(nil, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"+
		"fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"+
		"127.0.0.1\t%s\n", o.Hostname)
}

// resolvConf is the host's resolv.conf: as it is with the host's network;
// without loopback name servers otherwise (they would point into the
// container itself).
func resolvConf(hostNetwork bool) []byte {
	b, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return nil
	}
	if hostNetwork {
		return b
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" && (strings.HasPrefix(f[1], "127.") || f[1] == "::1") {
			continue
		}
		out = append(out, line)
	}
	return []byte(strings.Join(out, "\n"))
}
