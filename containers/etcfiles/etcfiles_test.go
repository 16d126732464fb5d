package etcfiles

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir, Options{Hostname: "box"}); err != nil {
		t.Fatal(err)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := read(Hostname); got != "box\n" {
		t.Errorf("hostname %q", got)
	}
	if got := read(Hosts); !strings.HasPrefix(got, "127.0.0.1\tlocalhost\n") || !strings.HasSuffix(got, "127.0.0.1\tbox\n") {
		t.Errorf("hosts %q: want localhost first and the container's name last", got)
	}
	for _, line := range strings.Split(read(ResolvConf), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "nameserver" && (strings.HasPrefix(f[1], "127.") || f[1] == "::1") {
			t.Errorf("resolv.conf keeps a loopback name server: %q", line)
		}
	}
	if err := Write(dir, Options{Hostname: "box"}, "passwd"); err == nil {
		t.Error("wrote a file that is not one of berth's")
	}
}

func TestWriteHostNetwork(t *testing.T) {
	want, err := os.ReadFile("/etc/hosts")
	if err != nil {
		t.Fatalf("this test reads the host's /etc/hosts: %v", err)
	}
	dir := t.TempDir()
	if err := Write(dir, Options{Hostname: "h", HostNetwork: true}, Hosts); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, Hosts))
	if string(got) != string(want) {
		t.Errorf("hosts on the host's network: %q, want the host's %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, Hostname)); !os.IsNotExist(err) {
		t.Errorf("Write of hosts alone made hostname too: %v", err)
	}
}

// A rewrite keeps the file: a running container's bind mount holds it.
func TestRewriteInPlace(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir, Options{Hostname: "one"}); err != nil {
		t.Fatal(err)
	}
	inode := func() uint64 {
		fi, err := os.Stat(filepath.Join(dir, Hosts))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t).Ino
	}
	before := inode()
	if err := Write(dir, Options{Hostname: "two"}, Hosts); err != nil {
		t.Fatal(err)
	}
	if after := inode(); after != before {
		t.Errorf("hosts rewritten as a new file (inode %d, was %d)", after, before)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, Hosts)); !strings.HasSuffix(string(b), "\ttwo\n") || strings.Contains(string(b), "one") {
		t.Errorf("rewritten hosts: %q", b)
	}
}

func TestMounts(t *testing.T) {
	for _, ro := range []bool{false, true} {
		ms := Mounts("/c", ro)
		if len(ms) != len(Files) {
			t.Fatalf("%d mounts for %d files", len(ms), len(Files))
		}
		for i, m := range ms {
			if m.Destination != Files[i].Target || m.Source != filepath.Join("/c", Files[i].Name) || m.Type != "bind" {
				t.Errorf("mount %+v for %+v", m, Files[i])
			}
			if slices.Contains(m.Options, "ro") != ro || !slices.Contains(m.Options, "rbind") {
				t.Errorf("read-only root %v: options %q", ro, m.Options)
			}
			if !Has(Files[i].Name) {
				t.Errorf("Has(%q) is false", Files[i].Name)
			}
		}
	}
	if Has("passwd") {
		t.Error("Has(passwd)")
	}
}
