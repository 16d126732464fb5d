package containers

import (
	"os"
	"path/filepath"
	"reflect"
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
		spec    string
		want    User
		wantErr bool
	}{
		{"", User{UID: 0, GID: 0, Home: "/root"}, false},
		{"root", User{UID: 0, GID: 0, Home: "/root"}, false},
		{"alice", User{UID: 1000, GID: 1000, Groups: []uint32{100, 10}, Home: "/home/alice"}, false},
		{"1000", User{UID: 1000, GID: 1000, Groups: []uint32{100, 10}, Home: "/home/alice"}, false},
		{"4242", User{UID: 4242, GID: 0, Home: "/"}, false},
		{"alice:users", User{UID: 1000, GID: 100, Home: "/home/alice"}, false},
		{"1000:55", User{UID: 1000, GID: 55, Home: "/home/alice"}, false},
		{"nobody-here", User{}, true},
		{"alice:nogroup", User{}, true},
		// Out of Docker's range: 4294967295 would be -1 (keep root) to setresuid.
		{"2147483647", User{UID: 2147483647, GID: 0, Home: "/"}, false},
		{"4294967295", User{}, true},
		{"2147483648", User{}, true},
		{"0:4294967295", User{}, true},
	} {
		got, err := LookupUser(lowers, tc.spec)
		if tc.wantErr {
			if err == nil {
				t.Errorf("%q: no error", tc.spec)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.spec, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: got %+v, want %+v", tc.spec, got, tc.want)
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
