package cli

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSplitCpArg(t *testing.T) {
	tests := []struct{ in, container, path string }{
		{"web:/etc/hosts", "web", "/etc/hosts"},
		{"web:rel/x", "web", "rel/x"},
		{"/abs/with:colon", "", "/abs/with:colon"},
		{"./file:name", "", "./file:name"},
		{"plain", "", "plain"},
		{"-", "", "-"},
		{":x", "", ":x"},
	}
	for _, tt := range tests {
		c, p := splitCpArg(tt.in)
		if c != tt.container || p != tt.path {
			t.Errorf("splitCpArg(%q) = %q, %q; want %q, %q", tt.in, c, p, tt.container, tt.path)
		}
	}
}

func TestContainerPath(t *testing.T) {
	tests := []struct{ workdir, in, want string }{
		{"", "/etc/", "/etc/"},
		{"", "etc", "/etc"},
		{"/app", "data/", "/app/data/"},
		{"/app", "data/.", "/app/data/."},
		{"/app", ".", "/app/."},
		{"", ".", "/."},
		{"/app", "../x", "/x"},
	}
	for _, tt := range tests {
		if got := containerPath(tt.workdir, tt.in); got != tt.want {
			t.Errorf("containerPath(%q, %q) = %q, want %q", tt.workdir, tt.in, got, tt.want)
		}
	}
}

func TestLocalPath(t *testing.T) {
	dir := t.TempDir()
	wd, _ := os.Getwd()
	defer os.Chdir(wd)
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"f":      filepath.Join(dir, "f"),
		"d/":     filepath.Join(dir, "d") + "/",
		"d/.":    filepath.Join(dir, "d") + "/.",
		".":      dir + "/.",
		"/":      "/",
		"/x/../": "/",
	} {
		got, err := localPath(in)
		if err != nil || got != want {
			t.Errorf("localPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestChangesCommandsRegistered(t *testing.T) {
	a := &app{}
	root := a.newRootCmd()
	for _, args := range [][]string{
		{"diff"}, {"commit"}, {"cp"}, {"export"},
		{"container", "diff"}, {"container", "commit"}, {"container", "cp"}, {"container", "export"},
	} {
		cmd, _, err := root.Find(args)
		if err != nil || cmd.Name() != args[len(args)-1] {
			t.Errorf("berth %v: %v", args, err)
		}
	}
	commit, _, _ := root.Find([]string{"commit"})
	if f := commit.Flags().Lookup("pause"); f == nil || f.DefValue != "true" || f.Shorthand != "p" {
		t.Errorf("commit --pause: %+v", f)
	}
}
