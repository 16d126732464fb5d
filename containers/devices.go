package containers

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"berth/errdefs"
)

// Device access, as Docker sets it up: the devices cgroup (enforced by the
// cgroups package) denies every device but a few harmless ones, so that
// CAP_MKNOD, which containers keep by default, does not reach the host's
// disks or kvm; --device hands one host device in; --device-cgroup-rule
// opens more; --privileged opens all.

func devRule(typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
	r := specs.LinuxDeviceCgroup{Allow: true, Type: typ, Access: access}
	if major >= 0 {
		r.Major = &major
	}
	if minor >= 0 {
		r.Minor = &minor
	}
	return r
}

// mobyDeviceRules are moby's defaults (DefaultLinuxSpec): deny all, then
// null, zero, urandom, random, tty and console; fuse denied.
func mobyDeviceRules() []specs.LinuxDeviceCgroup {
	fuse := devRule("c", 10, 229, "rwm")
	fuse.Allow = false
	return []specs.LinuxDeviceCgroup{
		{Allow: false, Type: "a", Access: "rwm"},
		devRule("c", 1, 5, "rwm"), devRule("c", 1, 3, "rwm"), devRule("c", 1, 9, "rwm"),
		devRule("c", 1, 8, "rwm"), devRule("c", 5, 0, "rwm"), devRule("c", 5, 1, "rwm"),
		fuse,
	}
}

// runcDeviceRules are the rules runc appends to every container's
// (AllowedDevices), which Docker's containers therefore get too: mknod of
// any node (opening it is another matter), full, pts, ptmx and tun.
func runcDeviceRules() []specs.LinuxDeviceCgroup {
	return []specs.LinuxDeviceCgroup{
		devRule("c", -1, -1, "m"), devRule("b", -1, -1, "m"),
		devRule("c", 1, 3, "rwm"), devRule("c", 1, 8, "rwm"), devRule("c", 1, 7, "rwm"),
		devRule("c", 5, 0, "rwm"), devRule("c", 1, 5, "rwm"), devRule("c", 1, 9, "rwm"),
		devRule("c", 136, -1, "rwm"), devRule("c", 5, 2, "rwm"), devRule("c", 10, 200, "rwm"),
	}
}

// deviceSpec works out the device nodes a container gets besides the
// defaults, and its device cgroup rules, in Docker's order: moby's
// defaults, --device, --device-cgroup-rule, runc's defaults. Privileged
// containers may use every device (berth does not copy the host's /dev
// into them as Docker does: --device still adds nodes).
func deviceSpec(hc *HostConfig) ([]specs.LinuxDevice, []specs.LinuxDeviceCgroup, error) {
	var extra []specs.LinuxDeviceCgroup
	for _, r := range hc.DeviceCgroupRules {
		rule, err := ParseDeviceCgroupRule(r)
		if err != nil {
			return nil, nil, err
		}
		extra = append(extra, rule)
	}
	var devs []specs.LinuxDevice
	var allowed []specs.LinuxDeviceCgroup
	for _, m := range hc.Devices {
		perms := m.CgroupPermissions
		if perms == "" {
			perms = "rwm"
		}
		if !validDeviceMode(perms) {
			return nil, nil, errdefs.InvalidArgument("invalid device mode: %s", perms)
		}
		ctr := m.PathInContainer
		if ctr == "" {
			ctr = m.PathOnHost
		}
		d, err := DevicesFromPath(m.PathOnHost, ctr)
		if err != nil {
			return nil, nil, err
		}
		for _, dev := range d {
			allowed = append(allowed, devRule(dev.Type, dev.Major, dev.Minor, perms))
		}
		devs = append(devs, d...)
	}
	if hc.Privileged {
		return devs, []specs.LinuxDeviceCgroup{{Allow: true, Type: "a", Access: "rwm"}}, nil
	}
	rules := append(mobyDeviceRules(), allowed...)
	rules = append(rules, extra...)
	return devs, append(rules, runcDeviceRules()...), nil
}

// DevicesFromPath reads the host's device node at host (following a
// symbolic link) and returns it as the spec's device at ctr; a directory
// gives every device node under it, at the same place under ctr (as
// Docker does for --device /dev/snd).
func DevicesFromPath(host, ctr string) ([]specs.LinuxDevice, error) {
	resolved := host
	if fi, err := os.Lstat(host); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		if p, err := filepath.EvalSymlinks(host); err == nil {
			resolved = p
		}
	}
	d, err := deviceAt(resolved)
	if err == nil {
		d.Path = ctr
		return []specs.LinuxDevice{d}, nil
	}
	var devs []specs.LinuxDevice
	if errors.Is(err, errNotDevice) {
		if fi, serr := os.Stat(resolved); serr == nil && fi.IsDir() {
			_ = filepath.WalkDir(resolved, func(p string, _ fs.DirEntry, _ error) error {
				if d, err := deviceAt(p); err == nil {
					d.Path = filepath.Join(ctr, strings.TrimPrefix(p, resolved))
					devs = append(devs, d)
				}
				return nil // skip what is not a device; keep walking
			})
		}
	}
	if len(devs) == 0 {
		return nil, errdefs.InvalidArgument("error gathering device information while adding custom device %q: %v", host, err)
	}
	return devs, nil
}

var errNotDevice = errors.New("not a device node")

// deviceAt describes the device node at path, with its permission bits and
// owner, which the container's copy keeps.
func deviceAt(path string) (specs.LinuxDevice, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return specs.LinuxDevice{}, err // the bare errno: "no such file or directory"
	}
	var typ string
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		typ = "c"
	case unix.S_IFBLK:
		typ = "b"
	default:
		return specs.LinuxDevice{}, errNotDevice
	}
	mode := os.FileMode(st.Mode &^ unix.S_IFMT)
	uid, gid := st.Uid, st.Gid
	rdev := uint64(st.Rdev)
	return specs.LinuxDevice{
		Path: path, Type: typ,
		Major: int64(unix.Major(rdev)), Minor: int64(unix.Minor(rdev)),
		FileMode: &mode, UID: &uid, GID: &gid,
	}, nil
}

// ParseDevice reads a --device value, HOST[:CONTAINER][:PERMISSIONS], as
// Docker does: a second field that reads as permissions ("rw") is taken
// for them; CONTAINER defaults to HOST and PERMISSIONS to rwm.
func ParseDevice(s string) (DeviceMapping, error) {
	parts := strings.Split(s, ":")
	if len(parts) > 3 || parts[0] == "" {
		return DeviceMapping{}, errdefs.InvalidArgument("invalid device specification: %s", s)
	}
	m := DeviceMapping{PathOnHost: parts[0], PathInContainer: parts[0], CgroupPermissions: "rwm"}
	switch len(parts) {
	case 2:
		if validDeviceMode(parts[1]) {
			m.CgroupPermissions = parts[1]
		} else if !strings.HasPrefix(parts[1], "/") {
			// Neither permissions nor a path: Docker names it a mode.
			return DeviceMapping{}, errdefs.InvalidArgument("invalid device mode: %s", parts[1])
		} else {
			m.PathInContainer = parts[1]
		}
	case 3:
		if !strings.HasPrefix(parts[1], "/") {
			return DeviceMapping{}, errdefs.InvalidArgument("invalid device specification: %s: %s is not an absolute path", s, parts[1])
		}
		if !validDeviceMode(parts[2]) {
			return DeviceMapping{}, errdefs.InvalidArgument("invalid device mode: %s", parts[2])
		}
		m.PathInContainer, m.CgroupPermissions = parts[1], parts[2]
	}
	return m, nil
}

// validDeviceMode: one to three of r, w, m, each at most once.
func validDeviceMode(mode string) bool {
	if mode == "" || len(mode) > 3 {
		return false
	}
	seen := map[rune]bool{}
	for _, c := range mode {
		if c != 'r' && c != 'w' && c != 'm' || seen[c] {
			return false
		}
		seen[c] = true
	}
	return true
}

var deviceCgroupRuleRE = regexp.MustCompile(`^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$`)

// ParseDeviceCgroupRule reads a --device-cgroup-rule, "TYPE MAJOR:MINOR
// ACCESS" with exactly one space between fields ("c 1:3 mr", "c 189:* rwm"),
// into an allow rule, with Docker's messages.
func ParseDeviceCgroupRule(s string) (specs.LinuxDeviceCgroup, error) {
	m := deviceCgroupRuleRE.FindStringSubmatch(s)
	if m == nil {
		return specs.LinuxDeviceCgroup{}, errdefs.InvalidArgument("invalid device cgroup rule format: '%s'", s)
	}
	num := func(v, what string) (int64, error) {
		if v == "*" {
			return -1, nil
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return 0, errdefs.InvalidArgument("invalid %s value in device cgroup rule format: '%s'", what, s)
		}
		return int64(n), nil
	}
	major, err := num(m[2], "major")
	if err != nil {
		return specs.LinuxDeviceCgroup{}, err
	}
	minor, err := num(m[3], "minor")
	if err != nil {
		return specs.LinuxDeviceCgroup{}, err
	}
	// Moby keeps the wildcard as -1 rather than leaving the number out;
	// runc and berth's cgroups read both the same.
	return specs.LinuxDeviceCgroup{Allow: true, Type: m[1], Major: &major, Minor: &minor, Access: m[4]}, nil
}
