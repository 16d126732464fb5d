package containers

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"berth/errdefs"
)

func TestParseDevice(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want DeviceMapping
		err  string
	}{
		{in: "/dev/kvm", want: DeviceMapping{"/dev/kvm", "/dev/kvm", "rwm"}},
		{in: "/dev/null:/dev/mynull", want: DeviceMapping{"/dev/null", "/dev/mynull", "rwm"}},
		{in: "/dev/null:r", want: DeviceMapping{"/dev/null", "/dev/null", "r"}},
		{in: "/dev/null:/dev/mynull:mr", want: DeviceMapping{"/dev/null", "/dev/mynull", "mr"}},
		{in: "/dev/null:/dev/mynull:xyz", err: "invalid device mode: xyz"},
		{in: "/dev/null:/dev/mynull:rr", err: "invalid device mode: rr"},
		{in: "/dev/null:xyz", err: "invalid device mode: xyz"},
		{in: "/dev/null:rel:r", err: "rel is not an absolute path"},
		{in: "", err: "invalid device specification: "},
		{in: ":/dev/x", err: "invalid device specification: :/dev/x"},
		{in: "/a:/b:r:w", err: "invalid device specification: /a:/b:r:w"},
	} {
		got, err := ParseDevice(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("%q: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %+v %v, want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseDeviceCgroupRule(t *testing.T) {
	n := func(v int64) *int64 { return &v }
	for _, tc := range []struct {
		in   string
		want specs.LinuxDeviceCgroup
		err  string
	}{
		{in: "c 1:3 mr", want: specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: n(1), Minor: n(3), Access: "mr"}},
		{in: "b *:* rwm", want: specs.LinuxDeviceCgroup{Allow: true, Type: "b", Major: n(-1), Minor: n(-1), Access: "rwm"}},
		{in: "a *:* rwm", want: specs.LinuxDeviceCgroup{Allow: true, Type: "a", Major: n(-1), Minor: n(-1), Access: "rwm"}},
		{in: "x", err: "invalid device cgroup rule format: 'x'"},
		{in: "c 1:3  rwm", err: "invalid device cgroup rule format: 'c 1:3  rwm'"},
		{in: " c 1:3 rwm", err: "invalid device cgroup rule format: ' c 1:3 rwm'"},
		{in: "z 1:3 rwm", err: "invalid device cgroup rule format: 'z 1:3 rwm'"},
		{in: "c 1:3 rwmx", err: "invalid device cgroup rule format"},
		{in: "c 99999999999:3 rwm", err: "invalid major value in device cgroup rule format: 'c 99999999999:3 rwm'"},
		{in: "c 1:99999999999 rwm", err: "invalid minor value in device cgroup rule format"},
	} {
		got, err := ParseDeviceCgroupRule(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: %+v %v", tc.in, got, err)
		}
	}
}

// ruleStrings shows rules as "allow c 1:3 rwm".
func ruleStrings(rules []specs.LinuxDeviceCgroup) []string {
	num := func(p *int64) string {
		if p == nil || *p < 0 {
			return "*"
		}
		return itoa(*p)
	}
	var out []string
	for _, r := range rules {
		verb := "deny"
		if r.Allow {
			verb = "allow"
		}
		out = append(out, verb+" "+r.Type+" "+num(r.Major)+":"+num(r.Minor)+" "+r.Access)
	}
	return out
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func TestDeviceSpecDefaults(t *testing.T) {
	devs, rules, err := deviceSpec(&HostConfig{})
	if err != nil || len(devs) != 0 {
		t.Fatalf("devices %v, err %v", devs, err)
	}
	// moby's DefaultLinuxSpec, then runc's AllowedDevices.
	want := []string{
		"deny a *:* rwm",
		"allow c 1:5 rwm", "allow c 1:3 rwm", "allow c 1:9 rwm", "allow c 1:8 rwm",
		"allow c 5:0 rwm", "allow c 5:1 rwm", "deny c 10:229 rwm",
		"allow c *:* m", "allow b *:* m",
		"allow c 1:3 rwm", "allow c 1:8 rwm", "allow c 1:7 rwm", "allow c 5:0 rwm",
		"allow c 1:5 rwm", "allow c 1:9 rwm", "allow c 136:* rwm", "allow c 5:2 rwm", "allow c 10:200 rwm",
	}
	if got := ruleStrings(rules); !reflect.DeepEqual(got, want) {
		t.Errorf("rules\n%q\nwant\n%q", got, want)
	}

	_, rules, err = deviceSpec(&HostConfig{Privileged: true, DeviceCgroupRules: []string{"c 1:3 r"}})
	if err != nil || !reflect.DeepEqual(ruleStrings(rules), []string{"allow a *:* rwm"}) {
		t.Errorf("privileged: %q %v", ruleStrings(rules), err)
	}
	_, _, err = deviceSpec(&HostConfig{Privileged: true, DeviceCgroupRules: []string{"x"}})
	if err == nil || err.Error() != "invalid device cgroup rule format: 'x'" {
		t.Errorf("privileged with a bad rule: %v", err)
	}
}

func TestDeviceSpecDevices(t *testing.T) {
	hc := &HostConfig{
		Devices:           []DeviceMapping{{PathOnHost: "/dev/null", PathInContainer: "/dev/mynull", CgroupPermissions: "r"}},
		DeviceCgroupRules: []string{"c 10:237 rwm"},
	}
	devs, rules, err := deviceSpec(hc)
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 1 || devs[0].Path != "/dev/mynull" || devs[0].Type != "c" || devs[0].Major != 1 || devs[0].Minor != 3 ||
		devs[0].FileMode == nil || *devs[0].FileMode != 0o666 || devs[0].UID == nil || *devs[0].UID != 0 {
		t.Errorf("devices %+v", devs)
	}
	got := ruleStrings(rules)
	// After moby's defaults: --device, then --device-cgroup-rule.
	if len(got) != 8+2+11 || got[8] != "allow c 1:3 r" || got[9] != "allow c 10:237 rwm" {
		t.Errorf("rules %q", got)
	}

	for _, tc := range []struct {
		m   DeviceMapping
		err string
	}{
		{DeviceMapping{PathOnHost: "/dev/nope"}, `error gathering device information while adding custom device "/dev/nope": no such file or directory`},
		{DeviceMapping{PathOnHost: "/etc/hostname"}, `error gathering device information while adding custom device "/etc/hostname": not a device node`},
		{DeviceMapping{PathOnHost: "/dev/null", CgroupPermissions: "xyz"}, "invalid device mode: xyz"},
	} {
		_, _, err := deviceSpec(&HostConfig{Devices: []DeviceMapping{tc.m}})
		if err == nil || err.Error() != tc.err || !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%+v: %v, want %q", tc.m, err, tc.err)
		}
	}
}

// A directory gives the device nodes under it, at the same place under
// the container path; a symbolic link is followed.
func TestDevicesFromDirectory(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make device nodes")
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []struct {
		path  string
		mode  uint32
		major uint32
	}{{"a", unix.S_IFCHR | 0o640, 10}, {"sub/b", unix.S_IFBLK | 0o600, 7}} {
		if err := unix.Mknod(filepath.Join(dir, n.path), n.mode, int(unix.Mkdev(n.major, 1))); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "plain"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{dir, link} {
		devs, err := DevicesFromPath(host, "/dev/x")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range devs {
			got = append(got, d.Path+" "+d.Type+" "+itoa(d.Major)+":"+itoa(d.Minor)+" "+d.FileMode.String())
		}
		want := []string{"/dev/x/a c 10:1 -rw-r-----", "/dev/x/sub/b b 7:1 -rw-------"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %q, want %q", host, got, want)
		}
	}
	if _, err := DevicesFromPath(t.TempDir(), "/dev/x"); err == nil || !strings.Contains(err.Error(), "not a device node") {
		t.Errorf("empty directory: %v", err)
	}
}
