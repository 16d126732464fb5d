package cgroups

import (
	"bufio"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The devices cgroup decides which device nodes a container's processes
// may create (m), read (r) and write (w), whatever their capabilities and
// file modes say: with CAP_MKNOD a container could otherwise make and
// open any host device.
//
// The spec's rules (LinuxResources.Devices) are read as the cgroup v1
// kernel reads writes to devices.allow and devices.deny, one after the
// other: an "a" rule resets the cgroup to allow or deny everything; after
// a reset to deny, allow rules add exceptions and deny rules take access
// back from an exception of the same device (and the other way round
// after a reset to allow). deviceSet is that state. On v1 it is written to
// the kernel (transition, below); on v2 it is compiled into an eBPF
// program (devicefilter.go), so that both versions grant exactly the same.
//
// Before the first "a" rule everything is denied (as runc does): a rule
// list that forgets the reset still yields a closed cgroup.

// Access bits, numbered as the kernel's BPF device hook numbers them
// (BPF_DEVCG_ACC_MKNOD, _READ, _WRITE), so that the program can test them
// as they come.
const (
	accMknod uint8 = 1
	accRead  uint8 = 2
	accWrite uint8 = 4
	accAll         = accMknod | accRead | accWrite
)

// wildcard is a major or minor number that matches every device.
const wildcard = -1

// devKey names the devices an exception is about: a type ('c' or 'b') and
// a major and minor number, each of which may be the wildcard.
type devKey struct {
	typ          byte
	major, minor int64
}

// deviceSet is a devices cgroup's state: a default and the exceptions to
// it, with their access bits.
type deviceSet struct {
	allowAll bool // the default: true, exceptions deny; false, exceptions allow
	except   map[devKey]uint8
}

// newDeviceSet evaluates the spec's rules, in order, from "deny all".
func newDeviceSet(rules []specs.LinuxDeviceCgroup) (*deviceSet, error) {
	s := &deviceSet{except: map[devKey]uint8{}}
	for _, r := range rules {
		if err := s.apply(r); err != nil {
			return nil, fmt.Errorf("device rule %q: %w", ruleString(r), err)
		}
	}
	return s, nil
}

// apply evaluates one rule as the v1 kernel does.
func (s *deviceSet) apply(r specs.LinuxDeviceCgroup) error {
	k, all, err := ruleKey(r)
	if err != nil {
		return err
	}
	acc, err := parseAccess(r.Access)
	if err != nil {
		return err
	}
	if all {
		// The kernel reads nothing after the "a": numbers and access
		// are ignored.
		s.allowAll = r.Allow
		clear(s.except)
		return nil
	}
	if r.Allow != s.allowAll {
		s.except[k] |= acc
		return nil
	}
	// Taking access back: the kernel only subtracts from an exception
	// of exactly this device and silently keeps a wider (wildcard)
	// exception that covers it. Refuse that, rather than leave access
	// the rule meant to remove (runc refuses it too).
	for _, wide := range []devKey{
		{k.typ, wildcard, k.minor}, {k.typ, k.major, wildcard}, {k.typ, wildcard, wildcard},
	} {
		if wide != k && s.except[wide]&acc != 0 {
			return fmt.Errorf("it would only partly take back the wider rule %q, which the kernel cannot do",
				exceptString(wide, s.except[wide]))
		}
	}
	if left := s.except[k] &^ acc; left != 0 {
		s.except[k] = left
	} else {
		delete(s.except, k)
	}
	return nil
}

// ruleKey reads a rule's device type and numbers; all is true for type
// "a" (or none, which the runtime spec reads as "a").
func ruleKey(r specs.LinuxDeviceCgroup) (k devKey, all bool, err error) {
	switch r.Type {
	case "", "a":
		return devKey{}, true, nil
	case "c", "b":
		k.typ = r.Type[0]
	default:
		return k, false, fmt.Errorf("unknown device type %q (want a, b or c)", r.Type)
	}
	num := func(p *int64, what string) (int64, error) {
		switch {
		case p == nil || *p < 0:
			return wildcard, nil
		case *p > math.MaxUint32:
			return 0, fmt.Errorf("%s number %d out of range", what, *p)
		}
		return *p, nil
	}
	if k.major, err = num(r.Major, "major"); err != nil {
		return k, false, err
	}
	if k.minor, err = num(r.Minor, "minor"); err != nil {
		return k, false, err
	}
	return k, false, nil
}

// parseAccess reads "rwm" (any of them, in any order); none means all.
func parseAccess(s string) (uint8, error) {
	if s == "" {
		return accAll, nil
	}
	var acc uint8
	for _, c := range s {
		switch c {
		case 'r':
			acc |= accRead
		case 'w':
			acc |= accWrite
		case 'm':
			acc |= accMknod
		default:
			return 0, fmt.Errorf("unknown device access %q (want any of r, w, m)", s)
		}
	}
	return acc, nil
}

func accessString(acc uint8) string {
	var b strings.Builder
	for _, a := range []struct {
		bit uint8
		c   byte
	}{{accRead, 'r'}, {accWrite, 'w'}, {accMknod, 'm'}} {
		if acc&a.bit != 0 {
			b.WriteByte(a.c)
		}
	}
	return b.String()
}

func numString(n int64) string {
	if n == wildcard {
		return "*"
	}
	return strconv.FormatInt(n, 10)
}

// exceptString is the v1 kernel's form of an exception: "c 1:3 rwm".
func exceptString(k devKey, acc uint8) string {
	return fmt.Sprintf("%c %s:%s %s", k.typ, numString(k.major), numString(k.minor), accessString(acc))
}

// ruleString is a rule as a user would read it: "allow c 1:3 rwm".
func ruleString(r specs.LinuxDeviceCgroup) string {
	verb := "deny"
	if r.Allow {
		verb = "allow"
	}
	typ := r.Type
	if typ == "" {
		typ = "a"
	}
	num := func(p *int64) string {
		if p == nil || *p < 0 {
			return "*"
		}
		return strconv.FormatInt(*p, 10)
	}
	return fmt.Sprintf("%s %s %s:%s %s", verb, typ, num(r.Major), num(r.Minor), r.Access)
}

// keys are the exceptions' devices in a fixed order (type, major, minor),
// so that the same rules always give the same writes and program.
func (s *deviceSet) keys() []devKey {
	return slices.SortedFunc(maps.Keys(s.except), func(a, b devKey) int {
		if a.typ != b.typ {
			return int(a.typ) - int(b.typ)
		}
		if a.major != b.major {
			return cmpInt(a.major, b.major)
		}
		return cmpInt(a.minor, b.minor)
	})
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *deviceSet) equal(o *deviceSet) bool {
	return s.allowAll == o.allowAll && maps.Equal(s.except, o.except)
}

// parseDevicesList reads a v1 devices.list. The kernel lists the
// exceptions of a deny-by-default cgroup; an allow-by-default cgroup shows
// as "a *:* rwm" alone, whatever its exceptions (they cannot be read back).
func parseDevicesList(list string) (*deviceSet, error) {
	s := &deviceSet{except: map[devKey]uint8{}}
	sc := bufio.NewScanner(strings.NewReader(list))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		typ, rest, _ := strings.Cut(line, " ")
		nums, access, _ := strings.Cut(rest, " ")
		major, minor, ok := strings.Cut(nums, ":")
		if !ok || len(typ) != 1 {
			return nil, fmt.Errorf("devices.list: bad line %q", line)
		}
		if typ == "a" {
			s.allowAll = true
			clear(s.except)
			continue
		}
		k := devKey{typ: typ[0]}
		var err error
		if k.major, err = listNum(major); err != nil {
			return nil, fmt.Errorf("devices.list: bad line %q", line)
		}
		if k.minor, err = listNum(minor); err != nil {
			return nil, fmt.Errorf("devices.list: bad line %q", line)
		}
		acc, err := parseAccess(access)
		if err != nil || access == "" || (typ != "c" && typ != "b") {
			return nil, fmt.Errorf("devices.list: bad line %q", line)
		}
		s.except[k] |= acc
	}
	return s, sc.Err()
}

func listNum(s string) (int64, error) {
	if s == "*" {
		return wildcard, nil
	}
	return strconv.ParseInt(s, 10, 64)
}

// A devWrite is one write to devices.allow or devices.deny.
type devWrite struct{ file, line string }

// transition lists the writes that take a v1 devices cgroup from cur to
// want, disturbing running processes as little as possible: the reset
// ("a") only when the default changes or cur allows by default (its deny
// exceptions are unknown); then the access to take back, then the access
// to grant. Taking back first means the cgroup never grants more than
// both the old and the new rules.
func transition(cur, want *deviceSet) []devWrite {
	grant, revoke := "devices.allow", "devices.deny"
	if want.allowAll {
		grant, revoke = revoke, grant // exceptions deny
	}
	var ws []devWrite
	have := cur.except
	if cur.allowAll || cur.allowAll != want.allowAll {
		reset := "devices.deny"
		if want.allowAll {
			reset = "devices.allow"
		}
		ws = append(ws, devWrite{reset, "a"})
		have = nil
	}
	cs := &deviceSet{except: have}
	for _, k := range cs.keys() {
		if drop := have[k] &^ want.except[k]; drop != 0 {
			ws = append(ws, devWrite{revoke, exceptString(k, drop)})
		}
	}
	for _, k := range want.keys() {
		if add := want.except[k] &^ have[k]; add != 0 {
			ws = append(ws, devWrite{grant, exceptString(k, add)})
		}
	}
	return ws
}

// setDevices applies device rules on the cgroup's version.
func (c *Cgroup) setDevices(want *deviceSet) error {
	if c.fs.Mode == V2 {
		return setDevicesV2(c.dirs[""], want)
	}
	return c.setDevicesV1(want)
}

// setDevicesV1 brings the cgroup's v1 devices controller to want, then
// reads devices.list back: a rule the parent cgroup does not grant fails
// its write, and any other difference is an error too.
func (c *Cgroup) setDevicesV1(want *deviceSet) error {
	dir := c.Dir("devices")
	if dir == "" {
		return errors.New("set device rules: the devices controller is not mounted")
	}
	list, err := readString(dir, "devices.list")
	if err != nil {
		return fmt.Errorf("set device rules: %w", err)
	}
	cur, err := parseDevicesList(list)
	if err != nil {
		return fmt.Errorf("set device rules: %w", err)
	}
	for _, w := range transition(cur, want) {
		if err := writeFile(dir, w.file, w.line); err != nil {
			return fmt.Errorf("set device rule %q: %w", w.line, err)
		}
	}
	list, err = readString(dir, "devices.list")
	if err != nil {
		return fmt.Errorf("set device rules: %w", err)
	}
	got, err := parseDevicesList(list)
	if err != nil {
		return fmt.Errorf("set device rules: %w", err)
	}
	// An allow-by-default cgroup lists no exceptions: compare the mode.
	if got.allowAll != want.allowAll || !want.allowAll && !got.equal(want) {
		return fmt.Errorf("set device rules: %s/devices.list reads %q after the writes, not the wanted rules",
			dir, strings.ReplaceAll(list, "\n", ", "))
	}
	return nil
}
