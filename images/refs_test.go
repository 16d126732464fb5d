package images

import (
	"errors"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"berth/errdefs"
)

func TestNormalizeRef(t *testing.T) {
	const dig = "sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct {
		in, want, familiar string
		err                error
	}{
		{in: "busybox", want: "docker.io/library/busybox:latest", familiar: "busybox:latest"},
		{in: "busybox:1.36", want: "docker.io/library/busybox:1.36", familiar: "busybox:1.36"},
		{in: "library/busybox", want: "docker.io/library/busybox:latest", familiar: "busybox:latest"},
		{in: "docker.io/library/busybox:latest", want: "docker.io/library/busybox:latest", familiar: "busybox:latest"},
		{in: "index.docker.io/library/busybox", want: "docker.io/library/busybox:latest", familiar: "busybox:latest"},
		{in: "user/app:v2", want: "docker.io/user/app:v2", familiar: "user/app:v2"},
		{in: "localhost:5000/app", want: "localhost:5000/app:latest", familiar: "localhost:5000/app:latest"},
		{in: "quay.io/org/app:1", want: "quay.io/org/app:1", familiar: "quay.io/org/app:1"},
		{in: "busybox@" + dig, want: "docker.io/library/busybox@" + dig, familiar: "busybox@" + dig},
		{in: "Busybox", err: errdefs.ErrInvalidArgument},
		{in: "", err: errdefs.ErrInvalidArgument},
		{in: "a b", err: errdefs.ErrInvalidArgument},
		{in: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", err: errdefs.ErrInvalidArgument},
	}
	for _, tt := range tests {
		got, err := NormalizeRef(tt.in)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("NormalizeRef(%q) = %q, %v; want error %v", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizeRef(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			continue
		}
		if f := FamiliarName(got); f != tt.familiar {
			t.Errorf("FamiliarName(%q) = %q, want %q", got, f, tt.familiar)
		}
	}
	if _, err := NormalizeTag("busybox@" + dig); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("NormalizeTag of a digest reference: %v, want invalid argument", err)
	}
	h := v1.Hash{Algorithm: "sha256", Hex: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
	if got := ShortID(h); got != "0123456789ab" {
		t.Errorf("ShortID = %q", got)
	}
}

func TestFamiliarNameKeepsWhatWasWritten(t *testing.T) {
	for in, want := range map[string]string{
		"docker.io/library/busybox":        "busybox",
		"docker.io/library/busybox:1":      "busybox:1",
		"docker.io/user/app":               "user/app",
		"library/busybox":                  "busybox",
		"quay.io/library/x:2":              "quay.io/library/x:2",
		"localhost:5000/app":               "localhost:5000/app",
		"localhost:5000/app:v1":            "localhost:5000/app:v1",
		"not a reference":                  "not a reference",
		"docker.io/library/busybox:latest": "busybox:latest",
	} {
		if got := FamiliarName(in); got != want {
			t.Errorf("FamiliarName(%q) = %q, want %q", in, got, want)
		}
	}
}
