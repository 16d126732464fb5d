package events

import (
	"strings"
	"testing"
)

func TestFilterMatch(t *testing.T) {
	web := Event{Type: TypeContainer, Action: "start", Actor: Actor{
		ID:         "1d1ae36f0c8e4b6fa0e7bd4d0a2b1c3d4e5f60718293a4b5c6d7e8f901234567",
		Attributes: map[string]string{"name": "web", "image": "busybox:1.36", "com.example.tier": "front"},
	}}
	execStart := Event{Type: TypeContainer, Action: "exec_start: sh -c true", Actor: web.Actor}
	pull := Event{Type: TypeImage, Action: "pull", Actor: Actor{ID: "docker.io/library/alpine:3.19", Attributes: map[string]string{"name": "docker.io/library/alpine"}}}
	tag := Event{Type: TypeImage, Action: "tag", Actor: Actor{ID: "sha256:abcd", Attributes: map[string]string{"name": "alpine:3.19"}}}
	vol := Event{Type: TypeVolume, Action: "create", Actor: Actor{ID: "data", Attributes: map[string]string{"driver": "local"}}}
	net := Event{Type: TypeNetwork, Action: "connect", Actor: Actor{ID: "9f8e7d", Attributes: map[string]string{"name": "bridge", "container": web.Actor.ID}}}
	all := map[string]Event{"web": web, "exec": execStart, "pull": pull, "tag": tag, "vol": vol, "net": net}

	tests := []struct {
		filters []string
		want    string // names of the events that match, sorted
	}{
		{nil, "exec,net,pull,tag,vol,web"},
		{[]string{"type=container"}, "exec,web"},
		{[]string{"type=image", "type=volume"}, "pull,tag,vol"},
		{[]string{"event=start"}, "web"},
		{[]string{"event=exec_start"}, "exec"},
		{[]string{"event=exec"}, ""},
		{[]string{"event=start", "event=create"}, "vol,web"},
		{[]string{"container=web"}, "exec,web"},
		{[]string{"container=we"}, "exec,web"}, // names match by prefix too, as Docker's fuzzy match
		{[]string{"container=1d1ae36f"}, "exec,web"},
		{[]string{"container=" + web.Actor.ID}, "exec,web"},
		{[]string{"container=2d"}, ""},
		{[]string{"container=web", "event=start"}, "web"},
		{[]string{"container=web", "type=image"}, ""},
		{[]string{"image=busybox"}, "exec,web"},
		{[]string{"image=busybox:1.36"}, "exec,web"},
		{[]string{"image=busybox:latest"}, ""},
		{[]string{"image=alpine"}, "pull,tag"},
		{[]string{"image=sha256:abcd"}, "tag"},
		{[]string{"label=com.example.tier"}, "exec,web"},
		{[]string{"label=com.example.tier=front"}, "exec,web"},
		{[]string{"label=com.example.tier=back"}, ""},
		{[]string{"label=com.example.tier", "label=driver"}, ""},
		{[]string{"volume=data"}, "vol"},
		{[]string{"network=bridge"}, "net"},
		{[]string{"network=9f8e"}, "net"},
		{[]string{"scope=local"}, "exec,net,pull,tag,vol,web"},
		{[]string{"scope=swarm"}, ""},
		{[]string{"TYPE=volume"}, "vol"},
	}
	for _, tt := range tests {
		f, err := ParseFilters(tt.filters)
		if err != nil {
			t.Fatalf("ParseFilters(%q): %v", tt.filters, err)
		}
		var got []string
		for _, name := range []string{"exec", "net", "pull", "tag", "vol", "web"} {
			if f.Match(all[name]) {
				got = append(got, name)
			}
		}
		if strings.Join(got, ",") != tt.want {
			t.Errorf("%q matches %v, want %s", tt.filters, got, tt.want)
		}
	}
}

func TestParseFiltersErrors(t *testing.T) {
	for _, tt := range []struct {
		arg, want string
	}{
		{"colour=red", "invalid filter 'colour'"},
		{"service=web", "invalid filter 'service'"},
		{"type", `bad format of filter "type"`},
		{"=x", `bad format of filter "=x"`},
	} {
		_, err := ParseFilters([]string{"type=container", tt.arg})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseFilters(%q) = %v, want an error with %q", tt.arg, err, tt.want)
		}
	}
	f, err := ParseFilters([]string{"type=container", "event=die", "type=image"})
	if err != nil {
		t.Fatal(err)
	}
	if f.IsZero() || f.String() != "event=die,type=container,type=image" {
		t.Errorf("filter = %q", f.String())
	}
	if !(Filter{}).IsZero() {
		t.Error("zero Filter not IsZero")
	}
}

func TestStripTag(t *testing.T) {
	for in, want := range map[string]string{
		"busybox":                              "busybox",
		"busybox:1.36":                         "busybox",
		"docker.io/library/busybox:latest":     "busybox",
		"docker.io/me/app:v1":                  "me/app",
		"localhost:5000/app":                   "localhost:5000/app",
		"localhost:5000/app:v2":                "localhost:5000/app",
		"busybox@sha256:0123":                  "busybox@sha256:0123",
		"sha256:0123456789abcdef0123456789abc": "sha256:0123456789abcdef0123456789abc",
	} {
		if got := stripTag(in); got != want {
			t.Errorf("stripTag(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestContainerAttributes(t *testing.T) {
	got := ContainerAttributes("web", "busybox", map[string]string{"name": "label-loses", "tier": "front"}, "exitCode", "137", "dangling")
	want := map[string]string{"name": "web", "image": "busybox", "tier": "front", "exitCode": "137"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}
