package cgroups

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/cilium/ebpf/asm"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Device rules without the kernel: how rule lists read, which writes a v1
// cgroup gets, and what the v2 program decides (run here by a small
// interpreter, against a reading of the rules written independently).

func rule(allow bool, typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
	r := specs.LinuxDeviceCgroup{Allow: allow, Type: typ, Access: access}
	if major != wildcard {
		r.Major = ptr(major)
	}
	if minor != wildcard {
		r.Minor = ptr(minor)
	}
	return r
}

// dockerRules are Docker's defaults as the containers package writes
// them: moby's list, then runc's.
func dockerRules() []specs.LinuxDeviceCgroup {
	return []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		rule(true, "c", 1, 5, "rwm"), rule(true, "c", 1, 3, "rwm"), rule(true, "c", 1, 9, "rwm"),
		rule(true, "c", 1, 8, "rwm"), rule(true, "c", 5, 0, "rwm"), rule(true, "c", 5, 1, "rwm"),
		rule(false, "c", 10, 229, "rwm"),
		rule(true, "c", wildcard, wildcard, "m"), rule(true, "b", wildcard, wildcard, "m"),
		rule(true, "c", 1, 3, "rwm"), rule(true, "c", 1, 8, "rwm"), rule(true, "c", 1, 7, "rwm"),
		rule(true, "c", 5, 0, "rwm"), rule(true, "c", 1, 5, "rwm"), rule(true, "c", 1, 9, "rwm"),
		rule(true, "c", 136, wildcard, "rwm"), rule(true, "c", 5, 2, "rwm"), rule(true, "c", 10, 200, "rwm"),
	}
}

func TestDeviceSetDockerDefaults(t *testing.T) {
	s, err := newDeviceSet(dockerRules())
	must(t, err)
	var got []string
	for _, k := range s.keys() {
		got = append(got, exceptString(k, s.except[k]))
	}
	want := []string{
		"b *:* m",
		"c *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
		"c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 10:200 rwm", "c 136:* rwm",
	}
	if s.allowAll || !reflect.DeepEqual(got, want) {
		t.Errorf("allowAll %v, exceptions\n%q\nwant\n%q", s.allowAll, got, want)
	}
}

func TestDeviceSetRules(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rules []specs.LinuxDeviceCgroup
		allow bool
		want  map[string]bool // exceptString → present
		err   string
	}{
		{name: "empty list denies all", rules: []specs.LinuxDeviceCgroup{}, want: map[string]bool{}},
		{name: "no reset: deny all first", rules: []specs.LinuxDeviceCgroup{rule(true, "c", 1, 3, "r")},
			want: map[string]bool{"c 1:3 r": true}},
		{name: "privileged", rules: []specs.LinuxDeviceCgroup{{Allow: true, Type: "a", Access: "rwm"}},
			allow: true, want: map[string]bool{}},
		{name: "a ignores numbers and access",
			rules: []specs.LinuxDeviceCgroup{rule(true, "c", 1, 3, "rwm"), rule(true, "a", 1, 3, "r")},
			allow: true, want: map[string]bool{}},
		{name: "merge and take back",
			rules: []specs.LinuxDeviceCgroup{{Access: "rwm"}, rule(true, "c", 1, 3, "r"), rule(true, "c", 1, 3, "wm"), rule(false, "c", 1, 3, "w")},
			want:  map[string]bool{"c 1:3 rm": true}},
		{name: "take back all removes",
			rules: []specs.LinuxDeviceCgroup{{Access: "rwm"}, rule(true, "c", 1, 3, "rw"), rule(false, "c", 1, 3, "")},
			want:  map[string]bool{}},
		{name: "deny exceptions after allow all",
			rules: []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}, rule(false, "b", 8, wildcard, "w")},
			allow: true, want: map[string]bool{"b 8:* w": true}},
		{name: "negative numbers are wildcards",
			rules: []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: ptr(int64(136)), Minor: ptr(int64(-1)), Access: "rwm"}},
			want:  map[string]bool{"c 136:* rwm": true}},
		{name: "punching a hole", err: `device rule "deny c 1:3 w": it would only partly take back the wider rule "c 1:* rw"`,
			rules: []specs.LinuxDeviceCgroup{rule(true, "c", 1, wildcard, "rw"), rule(false, "c", 1, 3, "w")}},
		{name: "a hole in another access is fine",
			rules: []specs.LinuxDeviceCgroup{rule(true, "c", wildcard, wildcard, "m"), rule(true, "c", 1, 3, "rw"), rule(false, "c", 1, 3, "w")},
			want:  map[string]bool{"c *:* m": true, "c 1:3 r": true}},
		{name: "bad type", err: `device rule "allow x 1:3 rwm": unknown device type "x"`,
			rules: []specs.LinuxDeviceCgroup{rule(true, "x", 1, 3, "rwm")}},
		{name: "bad access", err: `device rule "allow c 1:3 rwx": unknown device access "rwx"`,
			rules: []specs.LinuxDeviceCgroup{rule(true, "c", 1, 3, "rwx")}},
		{name: "huge major", err: `major number 4294967296 out of range`,
			rules: []specs.LinuxDeviceCgroup{rule(true, "c", 1<<32, 3, "rwm")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := newDeviceSet(tc.rules)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			must(t, err)
			got := map[string]bool{}
			for k, acc := range s.except {
				got[exceptString(k, acc)] = true
			}
			if s.allowAll != tc.allow || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("allowAll %v %v, want %v %v", s.allowAll, got, tc.allow, tc.want)
			}
		})
	}
}

func TestParseDevicesList(t *testing.T) {
	s, err := parseDevicesList("c 1:3 rwm\nc *:* m\nb 7:* r\nc 1:3 w\n")
	must(t, err)
	want := map[devKey]uint8{{'c', 1, 3}: accAll, {'c', -1, -1}: accMknod, {'b', 7, -1}: accRead}
	if s.allowAll || !reflect.DeepEqual(s.except, want) {
		t.Errorf("got %v %v", s.allowAll, s.except)
	}
	s, err = parseDevicesList("a *:* rwm\n")
	must(t, err)
	if !s.allowAll || len(s.except) != 0 {
		t.Errorf("allow all: %v %v", s.allowAll, s.except)
	}
	for _, bad := range []string{"c 1 rwm", "x 1:3 rwm", "c 1:3", "c a:3 rwm", "c 1:3 rwq"} {
		if _, err := parseDevicesList(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestTransition(t *testing.T) {
	set := func(rules ...specs.LinuxDeviceCgroup) *deviceSet {
		s, err := newDeviceSet(rules)
		must(t, err)
		return s
	}
	str := func(ws []devWrite) string {
		var b []string
		for _, w := range ws {
			b = append(b, w.file+" "+w.line)
		}
		return strings.Join(b, "; ")
	}
	fresh, _ := parseDevicesList("a *:* rwm")
	for _, tc := range []struct {
		name     string
		cur, new *deviceSet
		want     string
	}{
		{"new cgroup", fresh, set(rule(true, "c", 1, 3, "rwm"), rule(true, "c", wildcard, wildcard, "m")),
			"devices.deny a; devices.allow c *:* m; devices.allow c 1:3 rwm"},
		{"privileged", fresh, set(specs.LinuxDeviceCgroup{Allow: true}), "devices.allow a"},
		{"privileged with a deny", fresh, set(specs.LinuxDeviceCgroup{Allow: true}, rule(false, "b", 8, 0, "w")),
			"devices.allow a; devices.deny b 8:0 w"},
		{"same rules: nothing", set(rule(true, "c", 1, 3, "rwm")), set(rule(true, "c", 1, 3, "rwm")), ""},
		{"update: take back, then grant, no reset",
			set(rule(true, "c", 1, 3, "rwm"), rule(true, "c", 1, 5, "rwm")),
			set(rule(true, "c", 1, 3, "r"), rule(true, "c", 1, 7, "rwm")),
			"devices.deny c 1:3 wm; devices.deny c 1:5 rwm; devices.allow c 1:7 rwm"},
		{"whitelist to allow all", set(rule(true, "c", 1, 3, "rwm")), set(specs.LinuxDeviceCgroup{Allow: true}), "devices.allow a"},
	} {
		if got := str(transition(tc.cur, tc.new)); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

// reference decides a request by the v1 kernel's rules, from the
// exceptions: in a deny-by-default cgroup one exception must grant all the
// access asked; in an allow-by-default one no exception may deny any of it.
func reference(s *deviceSet, typ byte, acc uint8, major, minor int64) bool {
	for k, ex := range s.except {
		if k.typ != typ || k.major != wildcard && k.major != major || k.minor != wildcard && k.minor != minor {
			continue
		}
		if !s.allowAll && acc&^ex == 0 {
			return true
		}
		if s.allowAll && acc&ex != 0 {
			return false
		}
	}
	return s.allowAll
}

// runDeviceProgram interprets the few instructions program() emits, on a
// bpf_cgroup_dev_ctx.
func runDeviceProgram(t *testing.T, insts asm.Instructions, ctx [3]uint32) int64 {
	t.Helper()
	labels := map[string]int{}
	for i, ins := range insts {
		if s := ins.Symbol(); s != "" {
			labels[s] = i
		}
	}
	var reg [11]uint64
	for pc, steps := 0, 0; ; steps++ {
		if pc >= len(insts) || steps > 10000 {
			t.Fatalf("program runs off at %d", pc)
		}
		ins := insts[pc]
		op := ins.OpCode
		src := uint64(ins.Constant)
		if op.Source() == asm.RegSource {
			src = reg[ins.Src]
		}
		switch cls := op.Class(); {
		case cls == asm.LdXClass:
			if ins.Src != asm.R1 || op.Size() != asm.Word || ins.Offset%4 != 0 {
				t.Fatalf("unexpected load %v", ins)
			}
			reg[ins.Dst] = uint64(ctx[ins.Offset/4])
		case cls.IsALU():
			var v uint64
			switch op.ALUOp() {
			case asm.Mov:
				v = src
			case asm.And:
				v = reg[ins.Dst] & src
			case asm.RSh:
				v = reg[ins.Dst] >> src
			default:
				t.Fatalf("unexpected ALU op %v", ins)
			}
			if cls == asm.ALUClass {
				v = uint64(uint32(v))
			}
			reg[ins.Dst] = v
		case cls == asm.JumpClass:
			taken := false
			switch op.JumpOp() {
			case asm.Exit:
				return int64(reg[asm.R0])
			case asm.JNE:
				taken = reg[ins.Dst] != src
			case asm.JEq:
				taken = reg[ins.Dst] == src
			default:
				t.Fatalf("unexpected jump %v", ins)
			}
			if taken {
				to, ok := labels[ins.Reference()]
				if !ok {
					t.Fatalf("jump to unknown label %q", ins.Reference())
				}
				pc = to
				continue
			}
		default:
			t.Fatalf("unexpected instruction %v", ins)
		}
		pc++
	}
}

func TestDeviceProgram(t *testing.T) {
	sets := map[string][]specs.LinuxDeviceCgroup{
		"docker":    dockerRules(),
		"deny all":  {},
		"allow all": {{Allow: true}},
		"read-only null": {{Access: "rwm"}, rule(true, "c", 1, 3, "r"),
			rule(true, "c", wildcard, 5, "w"), rule(true, "b", 7, wildcard, "rm")},
		"deny some": {{Allow: true}, rule(false, "c", 10, 237, "rw"), rule(false, "b", wildcard, wildcard, "m"),
			rule(false, "c", 1, wildcard, "rwm")},
	}
	numbers := []int64{0, 1, 3, 5, 7, 10, 136, 200, 229, 237, 4095}
	for name, rules := range sets {
		s, err := newDeviceSet(rules)
		must(t, err)
		insts := s.program()
		for _, typ := range []byte{'b', 'c'} {
			for acc := uint8(1); acc <= accAll; acc++ {
				for _, major := range numbers {
					for _, minor := range numbers {
						ctx := [3]uint32{uint32(acc)<<16 | uint32(bpfDevType[typ]), uint32(major), uint32(minor)}
						got := runDeviceProgram(t, insts, ctx) == 1
						if want := reference(s, typ, acc, major, minor); got != want {
							t.Fatalf("%s: %c %d:%d %s: program says %v, rules say %v\n%v",
								name, typ, major, minor, accessString(acc), got, want, insts)
						}
					}
				}
			}
		}
	}
	// Spot checks of the reference itself, on Docker's defaults.
	s, _ := newDeviceSet(dockerRules())
	for _, tc := range []struct {
		typ          byte
		acc          uint8
		major, minor int64
		want         bool
	}{
		{'c', accRead | accWrite, 1, 3, true},
		{'c', accMknod, 10, 237, true},
		{'c', accRead, 10, 237, false},
		{'b', accMknod, 7, 0, true},
		{'b', accRead, 7, 0, false},
		{'c', accRead | accWrite, 136, 4, true},
		{'c', accRead, 10, 229, false},
	} {
		if got := reference(s, tc.typ, tc.acc, tc.major, tc.minor); got != tc.want {
			t.Errorf("%c %d:%d %s = %v", tc.typ, tc.major, tc.minor, accessString(tc.acc), got)
		}
	}
}

func TestFakeV1DeviceWrites(t *testing.T) {
	// Plain files: each write replaces the last, so only the last write
	// of each file and the verification (which reads devices.list) show.
	// Here devices.list says what the kernel would after the writes.
	root := t.TempDir()
	fs := &FS{Mode: V1, Controllers: map[string]string{"devices": root}}
	c := fs.Load("berth/c1")
	dir := c.Dir("devices")
	must(t, os.MkdirAll(dir, 0o755))
	put(t, dir, "devices.allow", "")
	put(t, dir, "devices.deny", "")
	put(t, dir, "devices.list", "a *:* rwm\n")
	err := c.Update(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Access: "rwm"}, rule(true, "c", 1, 3, "rwm")}})
	if err == nil || !strings.Contains(err.Error(), "not the wanted rules") {
		t.Errorf("a devices.list that did not change: err = %v", err)
	}
	if got := get(t, dir, "devices.deny"); got != "a" {
		t.Errorf("devices.deny = %q", got)
	}
	if got := get(t, dir, "devices.allow"); got != "c 1:3 rwm" {
		t.Errorf("devices.allow = %q", got)
	}
	put(t, dir, "devices.list", "c 1:3 rwm\n")
	must(t, c.Update(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Access: "rwm"}, rule(true, "c", 1, 3, "rwm")}}))
	// Nil Devices: nothing is read or written.
	must(t, c.Update(&specs.LinuxResources{}))
	// A bad rule fails before any write.
	put(t, dir, "devices.allow", "untouched")
	err = c.Update(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{rule(true, "z", 1, 3, "rwm")}})
	if err == nil || !strings.Contains(err.Error(), `unknown device type "z"`) || get(t, dir, "devices.allow") != "untouched" {
		t.Errorf("bad rule: %v", err)
	}
	if err := Validate(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{rule(true, "c", 1, 3, "rwq")}}); err == nil {
		t.Error("Validate: bad access passed")
	}
	noDevices := &FS{Mode: V1, Controllers: map[string]string{"memory": root}}
	err = noDevices.Load("berth/c1").Update(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{}})
	if err == nil || !strings.Contains(err.Error(), "devices controller is not mounted") {
		t.Errorf("no devices hierarchy: %v", err)
	}
}
