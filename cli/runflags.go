package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"berth/engine"
	"berth/errdefs"
)

// hostFlags are the flags of run and create that choose namespaces, the
// process's groups and the file the ID goes to, as Docker's.
type hostFlags struct {
	shmSize                         memBytes
	groupAdd, expose, labelFiles    []string
	oomScoreAdj                     int
	cidfile, platform               string
	pid, ipc, uts, userns, cgroupns string
}

func (f *hostFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.Var(&f.shmSize, "shm-size", "Size of /dev/shm")
	fl.StringArrayVar(&f.groupAdd, "group-add", nil, "Add additional groups to join")
	fl.IntVar(&f.oomScoreAdj, "oom-score-adj", 0, "Tune host's OOM preferences (-1000 to 1000)")
	fl.StringVar(&f.cidfile, "cidfile", "", "Write the container ID to the file")
	fl.StringArrayVar(&f.expose, "expose", nil, "Expose a port or a range of ports")
	fl.StringVar(&f.pid, "pid", "", "PID namespace to use (host, container:NAME)")
	fl.StringVar(&f.ipc, "ipc", "", "IPC mode to use (private, shareable, none, host, container:NAME)")
	fl.StringVar(&f.uts, "uts", "", "UTS namespace to use (host)")
	fl.StringVar(&f.userns, "userns", "", "User namespace to use (host: berth remaps no users)")
	fl.StringVar(&f.cgroupns, "cgroupns", "", "Cgroup namespace to use (host|private)")
	fl.StringVar(&f.platform, "platform", "", "Set platform if server is multi-platform capable (the image's: no emulation)")
	fl.StringArrayVar(&f.labelFiles, "label-file", nil, "Read in a line delimited file of labels")
}

// apply puts the flags into opts, whose labels (from --label) win over
// those of --label-file.
func (f *hostFlags) apply(opts *engine.CreateOptions) error {
	hc := &opts.HostConfig
	hc.ShmSize = int64(f.shmSize)
	hc.GroupAdd = f.groupAdd
	hc.OomScoreAdj = f.oomScoreAdj
	hc.ContainerIDFile = f.cidfile
	hc.PidMode, hc.IpcMode, hc.UTSMode, hc.UsernsMode, hc.CgroupnsMode = f.pid, f.ipc, f.uts, f.userns, f.cgroupns
	opts.Platform = f.platform
	ports, err := parseExpose(f.expose)
	if err != nil {
		return err
	}
	opts.Config.ExposedPorts = ports
	if len(f.labelFiles) > 0 {
		labels := map[string]string{}
		for _, name := range f.labelFiles {
			kvs, err := readKVFile(name)
			if err != nil {
				return err
			}
			for _, kv := range kvs {
				k, v, _ := strings.Cut(kv, "=")
				labels[k] = v
			}
		}
		for k, v := range opts.Config.Labels {
			labels[k] = v
		}
		opts.Config.Labels = labels
	}
	return nil
}

// memBytes is a size flag as Docker's (512m, 1g, bytes).
type memBytes int64

func (m *memBytes) Set(v string) error {
	n, err := units.RAMInBytes(v)
	if err != nil {
		return err
	}
	*m = memBytes(n)
	return nil
}

func (m *memBytes) String() string {
	if *m == 0 {
		return ""
	}
	return units.BytesSize(float64(*m))
}

func (m *memBytes) Type() string { return "bytes" }

// parseExpose reads --expose PORT[-END][/PROTO] into "PORT/PROTO" keys
// (tcp unless named), with Docker's messages.
func parseExpose(values []string) (map[string]struct{}, error) {
	if len(values) == 0 {
		return nil, nil
	}
	out := map[string]struct{}{}
	for _, e := range values {
		if strings.Contains(e, ":") {
			return nil, errdefs.InvalidArgument("invalid port format for --expose: %s", e)
		}
		port, proto, _ := strings.Cut(e, "/")
		if proto == "" {
			proto = "tcp"
		}
		if rest, _, ok := strings.Cut(proto, "/"); ok {
			proto = rest
		}
		start, end, err := parsePortRange(port)
		if err != nil {
			return nil, errdefs.InvalidArgument("invalid range format for --expose: %s, error: %v", e, err)
		}
		for p := start; p <= end; p++ {
			out[strconv.FormatUint(p, 10)+"/"+proto] = struct{}{}
		}
	}
	return out, nil
}

// parsePortRange reads PORT or START-END (go-connections' rules).
func parsePortRange(s string) (start, end uint64, err error) {
	if s == "" {
		return 0, 0, errors.New("empty string specified for ports")
	}
	a, b, isRange := strings.Cut(s, "-")
	if start, err = strconv.ParseUint(a, 10, 16); err != nil {
		return 0, 0, err
	}
	if !isRange {
		return start, start, nil
	}
	b, _, _ = strings.Cut(b, "-")
	if end, err = strconv.ParseUint(b, 10, 16); err != nil {
		return 0, 0, err
	}
	if end < start {
		return 0, 0, fmt.Errorf("invalid range specified for port: %s", s)
	}
	return start, end, nil
}

// readKVFile reads a --label-file as Docker reads one: a KEY=VALUE per
// line, blank lines and lines starting with # skipped, leading white space
// dropped, a line with no "=" left out; the value is kept as written.
func readKVFile(name string) ([]string, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, errdefs.InvalidArgument("%v", err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		raw := sc.Bytes()
		bad := func(format string, a ...any) error {
			return errdefs.InvalidArgument("invalid env file (%s): %s", name, fmt.Sprintf(format, a...))
		}
		if !utf8.Valid(raw) {
			return nil, bad("invalid utf8 bytes at line %d: %v", n, raw)
		}
		if n == 1 {
			raw = bytes.TrimPrefix(raw, []byte{0xEF, 0xBB, 0xBF})
		}
		line := strings.TrimLeftFunc(string(raw), unicode.IsSpace)
		if line == "" || line[0] == '#' {
			continue
		}
		k, _, hasValue := strings.Cut(line, "=")
		if k == "" {
			return nil, bad("no variable name on line '%s'", line)
		}
		if strings.ContainsAny(k, " \t") {
			return nil, bad("variable '%s' contains whitespaces", k)
		}
		if hasValue {
			out = append(out, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, errdefs.InvalidArgument("invalid env file (%s): %v", name, err)
	}
	return out, nil
}

// cidFile is --cidfile: made before the container, refused if it exists
// (another container's may be running), given the ID once the container
// is made, and removed if it never is, as Docker's CLI does.
type cidFile struct {
	path    string
	f       *os.File
	written bool
}

func newCIDFile(path string) (*cidFile, error) {
	if path == "" {
		return &cidFile{}, nil
	}
	if _, err := os.Stat(path); err == nil {
		return nil, errdefs.InvalidArgument("container ID file found, make sure the other container isn't running or delete %s", path)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return nil, fmt.Errorf("failed to create the container ID file: %w", err)
	}
	return &cidFile{path: path, f: f}, nil
}

func (c *cidFile) write(id string) error {
	if c.f == nil {
		return nil
	}
	if _, err := c.f.WriteString(id); err != nil {
		return fmt.Errorf("failed to write the container ID (%s) to file: %w", id, err)
	}
	c.written = true
	return nil
}

// close closes the file, and removes it unless it got an ID.
func (c *cidFile) close() {
	if c.f == nil {
		return
	}
	c.f.Close()
	if !c.written {
		_ = os.Remove(c.path)
	}
}
