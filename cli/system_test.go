package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOSPrettyName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n", "Debian GNU/Linux 12 (bookworm)"},
		{"PRETTY_NAME='Alpine Linux v3.19'\n", "Alpine Linux v3.19"},
		{"PRETTY_NAME=Plain\n", "Plain"},
		{"NAME=x\n", ""},
	}
	for _, tt := range tests {
		if got := osPrettyName(strings.NewReader(tt.in)); got != tt.want {
			t.Errorf("osPrettyName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCgroupVersion(t *testing.T) {
	dir := t.TempDir()
	if got := cgroupVersion(dir); got != "1" {
		t.Errorf("without cgroup.controllers: %s", got)
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.controllers"), []byte("cpu io memory\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := cgroupVersion(dir); got != "2" {
		t.Errorf("with cgroup.controllers: %s", got)
	}
}

func TestWriteVersion(t *testing.T) {
	v := versionInfo{
		Client: clientVersion{Version: "1.2.3", APIVersion: apiVersion, GoVersion: "go1.26", Os: "linux", Arch: "amd64", GitCommit: "abc1234"},
		Server: &serverVersion{Platform: platform{Name: "berth (daemonless)"}, Version: "1.2.3", APIVersion: apiVersion, GoVersion: "go1.26", Os: "linux", Arch: "amd64"},
	}
	var b bytes.Buffer
	if err := writeVersion(&b, v); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"Client:\n Version:           1.2.3\n API version:       berth\n",
		" Git commit:        abc1234\n OS/Arch:           linux/amd64\n",
		"\nServer: berth (daemonless)\n Engine:\n  Version:          1.2.3\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Built") || strings.Count(out, "Git commit") != 1 {
		t.Errorf("empty fields must be left out:\n%s", out)
	}
}

func TestWriteTemplate(t *testing.T) {
	v := versionInfo{Client: clientVersion{Version: "1.2.3", APIVersion: "berth"}}
	tests := []struct{ format, want string }{
		{"{{.Client.Version}}", "1.2.3\n"},
		// As Docker's version, info, inspect and events: the template as
		// written (\t stays two characters; a newline is {{"\n"}}).
		{`{{.Client.APIVersion}}\t{{.Server}}`, `berth\t<nil>` + "\n"},
		{`{{.Client.Version}}{{"\n"}}{{.Client.APIVersion}}`, "1.2.3\nberth\n"},
		{"json", `{"Client":{"Platform":{"Name":""},"Version":"1.2.3","ApiVersion":"berth","GitCommit":"","GoVersion":"","Os":"","Arch":""},"Server":null}` + "\n"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if err := writeTemplate(&b, tt.format, v); err != nil {
			t.Fatalf("%q: %v", tt.format, err)
		}
		if b.String() != tt.want {
			t.Errorf("%q: got %q, want %q", tt.format, b.String(), tt.want)
		}
	}
	if err := writeTemplate(&bytes.Buffer{}, "{{.Nope}}", v); err == nil {
		t.Error("unknown field accepted")
	}
}

func TestWriteInfo(t *testing.T) {
	info := systemInfo{Containers: 3, ContainersRunning: 1, ContainersPaused: 0, ContainersStopped: 2, Images: 5,
		Driver: "overlay", CgroupVersion: "2", MemTotal: 16 << 30, NCPU: 8, DockerRootDir: "/var/lib/berth"}
	var b bytes.Buffer
	if err := writeInfo(&b, info); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Server:\n Containers: 3\n  Running: 1\n  Paused: 0\n  Stopped: 2\n Images: 5\n",
		" Storage Driver: overlay\n", " Cgroup Version: 2\n", " CPUs: 8\n", " Total Memory: 16GiB\n",
		" Berth Root Dir: /var/lib/berth\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}
