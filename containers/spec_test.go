package containers

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestMergeImageConfigEntrypointCmd(t *testing.T) {
	img := v1.Config{Entrypoint: []string{"/ep"}, Cmd: []string{"img-cmd"}, Env: []string{"A=1", "PATH=/bin"}, WorkingDir: "/w", User: "alice"}
	for _, tc := range []struct {
		name          string
		cfg           Config
		entrypointSet bool
		wantEP, wantC []string
	}{
		{"image defaults", Config{}, false, []string{"/ep"}, []string{"img-cmd"}},
		{"args replace cmd", Config{Cmd: []string{"x"}}, false, []string{"/ep"}, []string{"x"}},
		{"entrypoint resets cmd", Config{Entrypoint: []string{"/other"}}, true, []string{"/other"}, nil},
		{"entrypoint and args", Config{Entrypoint: []string{"/other"}, Cmd: []string{"y"}}, true, []string{"/other"}, []string{"y"}},
		{"empty entrypoint clears", Config{Cmd: []string{"z"}}, true, nil, []string{"z"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Hostname = "h"
			if err := mergeImageConfig(&cfg, img, tc.entrypointSet); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cfg.Entrypoint, tc.wantEP) || !reflect.DeepEqual(cfg.Cmd, tc.wantC) {
				t.Errorf("entrypoint %q cmd %q, want %q %q", cfg.Entrypoint, cfg.Cmd, tc.wantEP, tc.wantC)
			}
			if cfg.WorkingDir != "/w" || cfg.User != "alice" {
				t.Errorf("workdir %q user %q not taken from the image", cfg.WorkingDir, cfg.User)
			}
		})
	}
}

func TestMergeImageConfigEnv(t *testing.T) {
	cfg := Config{Hostname: "abc", Tty: true, Env: []string{"A=2", "B=3"}}
	if err := mergeImageConfig(&cfg, v1.Config{Env: []string{"A=1", "C=4"}}, false); err != nil {
		t.Fatal(err)
	}
	want := []string{"HOSTNAME=abc", "PATH=" + DefaultPath, "A=2", "C=4", "B=3", "TERM=xterm"}
	if !reflect.DeepEqual(cfg.Env, want) {
		t.Errorf("env %q, want %q", cfg.Env, want)
	}
	if cfg.WorkingDir != "/" {
		t.Errorf("default workdir %q, want /", cfg.WorkingDir)
	}
	bad := Config{WorkingDir: "rel"}
	if err := mergeImageConfig(&bad, v1.Config{}, false); err == nil {
		t.Error("relative working directory accepted")
	}
}

func TestLookupUser(t *testing.T) {
	layer := t.TempDir()
	os.MkdirAll(filepath.Join(layer, "etc"), 0o755)
	os.WriteFile(filepath.Join(layer, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(layer, "etc/group"), []byte("root:x:0:\nusers:x:100:alice,bob\nalice:x:1000:\nwheel:x:10:alice\n"), 0o644)
	lowers := []string{layer}
	for _, tc := range []struct {
		spec     string
		groupAdd []string
		want     User
		wantErr  string
	}{
		{"", nil, User{UID: 0, GID: 0, Groups: []uint32{0}, Home: "/root"}, ""},
		{"root", nil, User{UID: 0, GID: 0, Groups: []uint32{0}, Home: "/root"}, ""},
		{"alice", nil, User{UID: 1000, GID: 1000, Groups: []uint32{1000, 100, 10}, Home: "/home/alice"}, ""},
		{"1000", nil, User{UID: 1000, GID: 1000, Groups: []uint32{1000, 100, 10}, Home: "/home/alice"}, ""},
		{"4242", nil, User{UID: 4242, GID: 0, Groups: []uint32{0}, Home: "/"}, ""},
		// A group named in the spec: no supplementary groups from the file.
		{"alice:users", nil, User{UID: 1000, GID: 100, Groups: []uint32{100}, Home: "/home/alice"}, ""},
		{"1000:55", nil, User{UID: 1000, GID: 55, Groups: []uint32{55}, Home: "/home/alice"}, ""},
		// --group-add: names from /etc/group, numbers as they are, each once.
		{"", []string{"wheel", "4242", "users", "100"}, User{UID: 0, GID: 0, Groups: []uint32{0, 10, 4242, 100}, Home: "/root"}, ""},
		{"alice:users", []string{"alice"}, User{UID: 1000, GID: 100, Groups: []uint32{100, 1000}, Home: "/home/alice"}, ""},
		{"", []string{"audio"}, User{}, "Unable to find group audio: no matching entries in group file"},
		{"", []string{"2147483648"}, User{}, "uids and gids must be in range"},
		{"nobody-here", nil, User{}, "unable to find user nobody-here"},
		{"alice:nogroup", nil, User{}, "unable to find group nogroup"},
		// Out of Docker's range: 4294967295 would be -1 (keep root) to setresuid.
		{"2147483647", nil, User{UID: 2147483647, GID: 0, Groups: []uint32{0}, Home: "/"}, ""},
		{"4294967295", nil, User{}, "uids and gids must be in range"},
		{"2147483648", nil, User{}, "uids and gids must be in range"},
		{"0:4294967295", nil, User{}, "uids and gids must be in range"},
	} {
		got, err := LookupUser(lowers, tc.spec, tc.groupAdd)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q %q: error %v, want %q", tc.spec, tc.groupAdd, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q %q: %v", tc.spec, tc.groupAdd, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q %q: got %+v, want %+v", tc.spec, tc.groupAdd, got, tc.want)
		}
	}
}

func TestMergeEnv(t *testing.T) {
	got := MergeEnv([]string{"A=1", "B=2"}, []string{"B=3", "C=4"})
	if want := []string{"A=1", "B=3", "C=4"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestValidateName(t *testing.T) {
	for name, ok := range map[string]bool{"web": true, "a.b-c_d": true, "/web": true, "x": false, "-x": false, "a b": false, "": false} {
		if err := ValidateName(name); (err == nil) != ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}
