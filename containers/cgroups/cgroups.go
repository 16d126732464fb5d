// Package cgroups places containers in cgroups and sets their limits,
// directly on the cgroup file systems (as Docker's cgroupfs driver does),
// on cgroup v1 (including "hybrid" hosts, whose controllers sit on v1
// hierarchies next to an empty cgroup2 mount) and on cgroup v2.
//
// It runs in every container's monitor, where start-up time and memory
// count: it writes cgroup files directly, with the standard library and
// x/sys/unix.
//
// Every container gets one cgroup, Path(id) = "berth/<id>": on v2 the
// directory /sys/fs/cgroup/berth/<id>, on v1 that directory under each
// controller's hierarchy berth uses (cpu, cpuacct, cpuset, memory, pids,
// blkio, freezer, devices).
//
// Device access (the spec's LinuxResources.Devices) is enforced by the
// kernel, as Docker's runc does: on v1 through the devices controller's
// devices.allow and devices.deny, on v2 by an eBPF program attached to the
// container's cgroup (devices.go, devicefilter.go). Building and loading
// that program is the one part that needs more than x/sys:
// github.com/cilium/ebpf, pure Go.
package cgroups

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Mode is the cgroup version in use.
type Mode int

const (
	// V1: the controllers are on v1 hierarchies (also "hybrid" hosts,
	// whose cgroup2 mount holds no controllers).
	V1 Mode = 1
	// V2: one unified cgroup2 hierarchy.
	V2 Mode = 2
)

func (m Mode) String() string {
	switch m {
	case V1:
		return "v1"
	case V2:
		return "v2"
	}
	return "unknown"
}

// v1Controllers are the v1 controllers berth uses, in the order they are
// created and written. A new devices cgroup starts with its parent's
// rules; berth's parent ("berth", made by berth under the root) allows
// all, so a container's own rules are the ones that count.
var v1Controllers = []string{"cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "freezer", "devices"}

// v2Controllers are enabled in each ancestor's cgroup.subtree_control.
var v2Controllers = []string{"cpu", "cpuset", "memory", "pids", "io"}

// FS says where the cgroup file systems are. Host() finds the machine's;
// tests build one over a tree of plain files.
type FS struct {
	Mode Mode
	// Unified is the cgroup2 mount point (V2).
	Unified string
	// Controllers maps each v1 controller to its hierarchy's mount point
	// (V1). Co-mounted controllers ("cpu,cpuacct") share a directory. A
	// controller missing here is not used.
	Controllers map[string]string
}

const defaultRoot = "/sys/fs/cgroup"

var (
	hostOnce sync.Once
	hostFS   *FS
	hostErr  error
)

// Host returns the machine's cgroup file systems, read once from
// /proc/self/mountinfo.
func Host() (*FS, error) {
	hostOnce.Do(func() {
		f, err := os.Open("/proc/self/mountinfo")
		if err != nil {
			hostErr = fmt.Errorf("cgroups: %w", err)
			return
		}
		defer f.Close()
		hostFS, hostErr = parseMountinfo(f)
	})
	return hostFS, hostErr
}

// Detect tells whether the host uses cgroup v1 (or hybrid) or v2.
func Detect() Mode {
	if fs, err := Host(); err == nil {
		return fs.Mode
	}
	var st unix.Statfs_t
	if unix.Statfs(defaultRoot, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return V2
	}
	return V1
}

// Unified tells with one statfs, without reading the mount table, whether
// /sys/fs/cgroup is a cgroup v2 hierarchy: a pure v2 host. (A hybrid host
// has a tmpfs there.) For the CLI, which needs no more than that.
func Unified() bool {
	var st unix.Statfs_t
	return unix.Statfs(defaultRoot, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// parseMountinfo finds the cgroup mounts in a /proc/<pid>/mountinfo. The
// host is V1 when any controller berth uses is on a v1 hierarchy, V2 when
// it is not and a cgroup2 file system is mounted.
func parseMountinfo(r io.Reader) (*FS, error) {
	fs := &FS{Controllers: map[string]string{}}
	wanted := map[string]bool{}
	for _, c := range v1Controllers {
		wanted[c] = true
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		// 41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
		left, right, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		lf, rf := strings.Fields(left), strings.Fields(right)
		if len(lf) < 5 || len(rf) < 3 {
			continue
		}
		mnt := unescapeMount(lf[4])
		switch rf[0] {
		case "cgroup2":
			if fs.Unified == "" || mnt == defaultRoot {
				fs.Unified = mnt
			}
		case "cgroup":
			for _, opt := range strings.Split(rf[2], ",") {
				if wanted[opt] {
					if _, dup := fs.Controllers[opt]; !dup {
						fs.Controllers[opt] = mnt
					}
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("cgroups: read mountinfo: %w", err)
	}
	switch {
	case len(fs.Controllers) > 0:
		fs.Mode = V1
	case fs.Unified != "":
		fs.Mode = V2
	default:
		return nil, errors.New("cgroups: no cgroup file system is mounted")
	}
	return fs, nil
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			o := s[i+1 : i+4]
			if o[0] >= '0' && o[0] <= '3' && o[1] >= '0' && o[1] <= '7' && o[2] >= '0' && o[2] <= '7' {
				b.WriteByte((o[0]-'0')<<6 | (o[1]-'0')<<3 | (o[2] - '0'))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Path is the cgroup path of the container with this id.
func Path(id string) string { return "berth/" + id }

// Cgroup is one container's cgroup.
type Cgroup struct {
	fs   *FS
	path string
	// dirs: on v2 one entry, key ""; on v1 controller → directory.
	dirs map[string]string
	err  error // set by Load when there is nothing to load
}

// New creates the cgroup at path (relative to the cgroup root, e.g.
// Path(id)) with its parents and applies r (which may be nil). On v2 it
// enables cpu, cpuset, memory, pids and io in each parent's
// cgroup.subtree_control; on v1 it fills in cpuset.cpus and cpuset.mems
// from the parent on the way down, as no task can join an empty cpuset. If
// applying r fails the new cgroup is removed again.
func New(path string, r *specs.LinuxResources) (*Cgroup, error) {
	fs, err := Host()
	if err != nil {
		return nil, err
	}
	return fs.New(path, r)
}

// Load returns the existing cgroup at path.
func Load(path string) *Cgroup {
	fs, err := Host()
	if err != nil {
		return &Cgroup{path: path, err: err}
	}
	return fs.Load(path)
}

// Load returns the cgroup at path under fs, without looking at it.
func (fs *FS) Load(path string) *Cgroup {
	c := &Cgroup{fs: fs, path: path, dirs: map[string]string{}}
	rel, err := cleanPath(path)
	if err != nil {
		c.err = err
		return c
	}
	c.path = rel
	switch fs.Mode {
	case V2:
		c.dirs[""] = filepath.Join(fs.Unified, rel)
	case V1:
		for ctrl, mnt := range fs.Controllers {
			c.dirs[ctrl] = filepath.Join(mnt, rel)
		}
	default:
		c.err = fmt.Errorf("cgroups: unknown mode %d", fs.Mode)
	}
	return c
}

func cleanPath(p string) (string, error) {
	rel := filepath.Clean("/" + p)[1:]
	if rel == "" || p != rel && p != "/"+rel {
		return "", fmt.Errorf("cgroups: bad cgroup path %q", p)
	}
	return rel, nil
}

// New creates the cgroup at path under fs; see the package-level New.
func (fs *FS) New(path string, r *specs.LinuxResources) (*Cgroup, error) {
	c := fs.Load(path)
	if c.err != nil {
		return nil, c.err
	}
	// A concurrent Delete of another container may remove an empty
	// parent between our mkdirs (then its files read ENODEV, or are gone):
	// start again from the top. Once our leaf exists, the parent stays.
	var err error
	for try := 0; try < 20; try++ {
		if fs.Mode == V2 {
			err = c.createV2()
		} else {
			err = c.createV1()
		}
		if !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENODEV) {
			break
		}
	}
	if err != nil {
		_ = c.Delete() // what of it was made
		return nil, fmt.Errorf("create cgroup %s: %w", c.path, err)
	}
	if err := c.Update(r); err != nil {
		_ = c.Delete()
		return nil, err
	}
	return c, nil
}

func mkdir(dir string) error {
	if err := unix.Mkdir(dir, 0o755); err != nil && err != unix.EEXIST {
		return fmt.Errorf("mkdir %s: %w", dir, err)
	}
	return nil
}

func (c *Cgroup) createV2() error {
	dir := c.fs.Unified
	for _, elem := range strings.Split(c.path, "/") {
		if err := enableControllers(dir); err != nil {
			return err
		}
		dir = filepath.Join(dir, elem)
		if err := mkdir(dir); err != nil {
			return err
		}
	}
	return nil
}

// enableControllers turns on, in dir's cgroup.subtree_control, those of
// berth's controllers that dir offers and has not enabled yet. A
// controller that cannot be enabled is left out (a write to its files then
// fails and names it).
func enableControllers(dir string) error {
	avail, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return err
	}
	on, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, f := range strings.Fields(string(avail)) {
		have[f] = true
	}
	for _, f := range strings.Fields(string(on)) {
		delete(have, f)
	}
	var add []string
	for _, ctrl := range v2Controllers {
		if have[ctrl] {
			add = append(add, "+"+ctrl)
		}
	}
	if len(add) == 0 {
		return nil
	}
	// One write enables all or nothing; when it fails, try one by one.
	if writeFile(dir, "cgroup.subtree_control", strings.Join(add, " ")) == nil {
		return nil
	}
	for _, a := range add {
		_ = writeFile(dir, "cgroup.subtree_control", a)
	}
	return nil
}

func (c *Cgroup) createV1() error {
	for _, ctrl := range v1Controllers {
		mnt, ok := c.fs.Controllers[ctrl]
		if !ok {
			continue
		}
		dir := mnt
		for _, elem := range strings.Split(c.path, "/") {
			parent := dir
			dir = filepath.Join(dir, elem)
			if err := mkdir(dir); err != nil {
				return err
			}
			if ctrl == "cpuset" {
				if err := copyCpuset(parent, dir); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// copyCpuset fills in an empty cpuset.cpus and cpuset.mems from the parent.
func copyCpuset(parent, dir string) error {
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		cur, err := readString(dir, f)
		if err != nil {
			return err
		}
		if cur != "" {
			continue
		}
		val, err := readString(parent, f)
		if err != nil {
			return err
		}
		if err := writeFile(dir, f, val); err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
	}
	return nil
}

// Path is the cgroup's path relative to the root(s).
func (c *Cgroup) Path() string { return c.path }

// Mode is the cgroup version this cgroup lives on.
func (c *Cgroup) Mode() Mode {
	if c.fs == nil {
		return 0
	}
	return c.fs.Mode
}

// Dir is the cgroup's directory: on v2 the one; on v1 that of the given
// controller ("" if berth does not use it or it is not mounted).
func (c *Cgroup) Dir(controller string) string {
	if c.fs != nil && c.fs.Mode == V2 {
		return c.dirs[""]
	}
	return c.dirs[controller]
}

// uniqueDirs are the cgroup's directories, each once (co-mounted
// controllers share one), in a fixed order.
func (c *Cgroup) uniqueDirs() []string {
	if c.fs.Mode == V2 {
		return []string{c.dirs[""]}
	}
	var out []string
	seen := map[string]bool{}
	for _, ctrl := range v1Controllers {
		if d, ok := c.dirs[ctrl]; ok && !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// Add moves the process pid (all its threads) into the cgroup.
func (c *Cgroup) Add(pid int) error {
	if c.err != nil {
		return c.err
	}
	for _, d := range c.uniqueDirs() {
		if err := writeFile(d, "cgroup.procs", fmt.Sprint(pid)); err != nil {
			return fmt.Errorf("add %d to cgroup %s: %w", pid, d, err)
		}
	}
	return nil
}

// JoinThread moves the calling thread into the cgroup, so that the
// processes it forks start inside. v1 only: v2 places whole processes (use
// OpenDir and clone3's CLONE_INTO_CGROUP instead).
//
// A thread that moves itself writes "0" to each tasks file: the kernel then
// skips the lock over every thread group (cgroup_threadgroup_rwsem) that
// any other move takes, and whose taking, after a quiet moment, waits out
// an RCU grace period (5 to 20 ms measured here) while holding the lock
// every cgroup's creation needs. Moving a process by its pid always takes
// it.
func (c *Cgroup) JoinThread() error {
	files, err := c.ThreadFiles()
	if err != nil {
		return err
	}
	return JoinThreadFiles(files)
}

// ThreadFiles opens the cgroup's tasks files, one per hierarchy, for a
// thread to join it later with JoinThreadFiles, perhaps in another process
// to which they are passed: the container's init stage joins so, where
// only its descriptors reach the host's cgroup file system. v1 only.
func (c *Cgroup) ThreadFiles() ([]*os.File, error) {
	if c.err != nil {
		return nil, c.err
	}
	if c.fs.Mode != V1 {
		return nil, errors.New("cgroups: threads join cgroups on v1 only (use OpenDir with CLONE_INTO_CGROUP on v2)")
	}
	var files []*os.File
	for _, d := range c.uniqueDirs() {
		f, err := os.OpenFile(filepath.Join(d, "tasks"), os.O_WRONLY, 0)
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			return nil, fmt.Errorf("cgroup %s: %w", d, err)
		}
		files = append(files, f)
	}
	return files, nil
}

// JoinThreadFiles moves the calling thread into the cgroups whose tasks
// files (ThreadFiles) it is given, and closes them.
func JoinThreadFiles(files []*os.File) error {
	var first error
	for _, f := range files {
		if _, err := f.Write([]byte("0")); err != nil && first == nil {
			first = fmt.Errorf("join cgroup (%s): %w", f.Name(), err)
		}
		f.Close()
	}
	return first
}

// StartInside runs start so that the process it starts begins life inside
// the cgroup. On v2 start gets the cgroup directory's fd, to pass to
// clone3 (syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}). On v1 it
// gets -1 and runs on a locked OS thread that JoinThread has moved into the
// cgroup, and that is moved back as soon as start returns (if that fails,
// the thread is discarded). Processes the caller's other threads start
// meanwhile are not affected.
func (c *Cgroup) StartInside(start func(cgroupFD int) error) error {
	if c.err != nil {
		return c.err
	}
	if c.fs.Mode == V2 {
		d, err := c.OpenDir()
		if err != nil {
			return err
		}
		defer d.Close()
		return start(int(d.Fd()))
	}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		tid := unix.Gettid()
		home, err := threadCgroups(tid)
		if err != nil {
			runtime.UnlockOSThread()
			done <- err
			return
		}
		if err := c.JoinThread(); err != nil {
			// Partly moved perhaps: do not reuse this thread.
			done <- err
			return
		}
		err = start(-1)
		if c.fs.rejoin(home) != nil {
			done <- err // the thread stays locked and exits with us
			return
		}
		runtime.UnlockOSThread()
		done <- err
	}()
	return <-done
}

// rejoin moves the calling thread back into the cgroups home names (as
// threadCgroups read them), itself, as JoinThread does.
func (fs *FS) rejoin(home map[string]string) error {
	for ctrl, rel := range home {
		if mnt, ok := fs.Controllers[ctrl]; ok {
			if err := writeFile(filepath.Join(mnt, rel), "tasks", "0"); err != nil {
				return err
			}
		}
	}
	return nil
}

// threadCgroups reads which v1 cgroup of each of berth's controllers a
// thread is in, from /proc/<tid>/cgroup ("4:memory:/some/path").
func threadCgroups(tid int) (map[string]string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/cgroup", tid))
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, ctrl := range strings.Split(parts[1], ",") {
			if slices.Contains(v1Controllers, ctrl) {
				out[ctrl] = parts[2]
			}
		}
	}
	return out, nil
}

// OpenDir opens the cgroup's directory, for clone3's CLONE_INTO_CGROUP
// (syscall.SysProcAttr.UseCgroupFD and CgroupFD). v2 only.
func (c *Cgroup) OpenDir() (*os.File, error) {
	if c.err != nil {
		return nil, c.err
	}
	if c.fs.Mode != V2 {
		return nil, errors.New("cgroups: OpenDir is for cgroup v2 only (CLONE_INTO_CGROUP needs the unified hierarchy)")
	}
	d := c.dirs[""]
	fd, err := unix.Open(d, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: d, Err: err}
	}
	return os.NewFile(uintptr(fd), d), nil
}

// Procs lists the processes in the cgroup (on v1, as the first of berth's
// hierarchies sees them).
func (c *Cgroup) Procs() ([]int, error) {
	if c.err != nil {
		return nil, c.err
	}
	dirs := c.uniqueDirs()
	if len(dirs) == 0 {
		return nil, errors.New("cgroups: no cgroup controller is mounted")
	}
	data, err := os.ReadFile(filepath.Join(dirs[0], "cgroup.procs"))
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		var pid int
		if _, err := fmt.Sscan(f, &pid); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// Delete removes the cgroup (and any cgroups the container made below it)
// from every hierarchy. Processes must have left: rmdir is retried for a
// short while as long as the kernel says EBUSY, while dying tasks exit.
// Then it tries to remove the parent (the shared "berth" cgroup), which
// stays when other containers still use it. A cgroup that is gone already
// is no error.
func (c *Cgroup) Delete() error {
	if c.err != nil {
		return c.err
	}
	var errs []error
	deadline := time.Now().Add(2 * time.Second)
	for _, d := range c.uniqueDirs() {
		if err := removeTree(d, deadline); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if filepath.Dir(c.path) != "." {
		for _, d := range c.uniqueDirs() {
			_ = unix.Rmdir(filepath.Dir(d)) // EBUSY, ENOTEMPTY: in use
		}
	}
	return nil
}

// removeTree removes a cgroup directory, deepest children first, retrying
// while it is busy until the deadline.
func removeTree(dir string, deadline time.Time) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.IsDir() {
			if err := removeTree(filepath.Join(dir, e.Name()), deadline); err != nil {
				return err
			}
		}
	}
	delay := time.Millisecond
	for {
		err := unix.Rmdir(dir)
		if err == nil || err == unix.ENOENT {
			return nil
		}
		if err != unix.EBUSY || time.Now().After(deadline) {
			return &os.PathError{Op: "rmdir", Path: dir, Err: err}
		}
		time.Sleep(delay)
		delay = min(2*delay, 50*time.Millisecond)
	}
}

// writeFile writes data to an existing cgroup file in one write. Its error
// names the file (not the whole path) and wraps the errno: a missing file
// is errors.Is(err, os.ErrNotExist).
func writeFile(dir, name, data string) error {
	p := filepath.Join(dir, name)
	var fd int
	var err error
	for {
		fd, err = unix.Open(p, unix.O_WRONLY|unix.O_TRUNC|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", name, err)
	}
	defer unix.Close(fd)
	for {
		_, err = unix.Write(fd, []byte(data))
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

func readString(dir, name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	return strings.TrimSpace(string(b)), err
}
