package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"berth/engine"
)

// Build details, set with -ldflags "-X berth/cli.GitCommit=... -X
// berth/cli.BuildTime=2024-05-01T10:00:00Z". Without them the commit
// comes from the Go build info, and the build time is not shown.
var (
	GitCommit = ""
	BuildTime = ""
)

// apiVersion is what berth reports where Docker reports its API version:
// there is no daemon API to version.
const apiVersion = "berth"

func (a *app) addSystemCommands(root *cobra.Command) {
	root.AddCommand(a.newVersionCmd(), a.newInfoCmd())
	parentCommand(root, "system", "Manage berth").AddCommand(a.newInfoCmd(), a.newSystemCheckCmd(), a.newSystemBootCmd())
}

// ---- version ----

type platform struct {
	Name string `json:"Name"`
}

// clientVersion and serverVersion carry Docker's field names, so that
// --format '{{.Client.Version}}' and '{{.Server.APIVersion}}' work.
type clientVersion struct {
	Platform   platform `json:"Platform"`
	Version    string   `json:"Version"`
	APIVersion string   `json:"ApiVersion"`
	GitCommit  string   `json:"GitCommit"`
	GoVersion  string   `json:"GoVersion"`
	Os         string   `json:"Os"`
	Arch       string   `json:"Arch"`
	BuildTime  string   `json:"BuildTime,omitempty"`
}

type serverVersion struct {
	Platform      platform           `json:"Platform"`
	Components    []componentVersion `json:"Components"`
	Version       string             `json:"Version"`
	APIVersion    string             `json:"ApiVersion"`
	GitCommit     string             `json:"GitCommit"`
	GoVersion     string             `json:"GoVersion"`
	Os            string             `json:"Os"`
	Arch          string             `json:"Arch"`
	KernelVersion string             `json:"KernelVersion,omitempty"`
	BuildTime     string             `json:"BuildTime,omitempty"`
}

type componentVersion struct {
	Name    string            `json:"Name"`
	Version string            `json:"Version"`
	Details map[string]string `json:"Details,omitempty"`
}

type versionInfo struct {
	Client clientVersion  `json:"Client"`
	Server *serverVersion `json:"Server"`
}

// buildCommit returns the commit berth was built from, short as Docker
// shows it, or "" when unknown.
func buildCommit() string {
	if GitCommit != "" {
		return GitCommit
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var rev string
	var dirty bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if len(rev) > 7 {
		rev = rev[:7]
	}
	if rev != "" && dirty {
		rev += "-dirty"
	}
	return rev
}

// buildTime returns BuildTime as Docker prints it ("Thu Oct 26 09:08:01
// 2023"), or as given when it is not RFC 3339.
func buildTime() string {
	if BuildTime == "" {
		return ""
	}
	t, err := time.Parse(time.RFC3339, BuildTime)
	if err != nil {
		return BuildTime
	}
	return t.Format(time.ANSIC)
}

func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

func newVersionInfo() versionInfo {
	c := clientVersion{
		Version: Version, APIVersion: apiVersion, GitCommit: buildCommit(),
		GoVersion: runtime.Version(), Os: runtime.GOOS, Arch: runtime.GOARCH, BuildTime: buildTime(),
	}
	s := &serverVersion{
		Platform: platform{Name: "berth (daemonless)"},
		Version:  c.Version, APIVersion: c.APIVersion, GitCommit: c.GitCommit, GoVersion: c.GoVersion,
		Os: c.Os, Arch: c.Arch, KernelVersion: kernelRelease(), BuildTime: c.BuildTime,
	}
	s.Components = []componentVersion{{Name: "Engine", Version: s.Version, Details: map[string]string{
		"ApiVersion": s.APIVersion, "GitCommit": s.GitCommit, "GoVersion": s.GoVersion,
		"Os": s.Os, "Arch": s.Arch, "KernelVersion": s.KernelVersion, "BuildTime": s.BuildTime,
	}}}
	return versionInfo{Client: c, Server: s}
}

// writeVersion prints v as `docker version` does, values aligned.
func writeVersion(w io.Writer, v versionInfo) error {
	tw := tabwriter.NewWriter(w, 20, 1, 1, ' ', 0)
	line := func(indent, label, value string) {
		if value != "" {
			fmt.Fprintf(tw, "%s%s:\t%s\n", indent, label, value)
		}
	}
	c := v.Client
	fmt.Fprintln(tw, "Client:")
	line(" ", "Version", c.Version)
	line(" ", "API version", c.APIVersion)
	line(" ", "Go version", c.GoVersion)
	line(" ", "Git commit", c.GitCommit)
	line(" ", "Built", c.BuildTime)
	line(" ", "OS/Arch", c.Os+"/"+c.Arch)
	if s := v.Server; s != nil {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "Server: "+s.Platform.Name)
		fmt.Fprintln(tw, " Engine:")
		line("  ", "Version", s.Version)
		line("  ", "API version", s.APIVersion)
		line("  ", "Go version", s.GoVersion)
		line("  ", "Git commit", s.GitCommit)
		line("  ", "Built", s.BuildTime)
		line("  ", "OS/Arch", s.Os+"/"+s.Arch)
	}
	return tw.Flush()
}

// writeTemplate prints v through a --format template ("json" is {{json .}}).
func writeTemplate(w io.Writer, format string, v any) error {
	if format == formatJSON {
		format = "{{json .}}"
	}
	tmpl, err := parseTemplate(format)
	if err != nil {
		return err
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, v); err != nil {
		return err // it says "template: ..." and where
	}
	b.WriteByte('\n')
	_, err = io.WriteString(w, b.String())
	return err
}

func (a *app) newVersionCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:                   "version [OPTIONS]",
		Short:                 "Show the berth version information",
		Args:                  argsExactly(0),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := newVersionInfo()
			if format != "" {
				return writeTemplate(a.stdout, format, v)
			}
			return writeVersion(a.stdout, v)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template")
	return cmd
}

// ---- info ----

// systemInfo is what `info` shows, with the field names of `docker info
// --format`.
type systemInfo struct {
	ClientInfo        struct{ Version string } `json:"ClientInfo"`
	Containers        int                      `json:"Containers"`
	ContainersRunning int                      `json:"ContainersRunning"`
	ContainersPaused  int                      `json:"ContainersPaused"`
	ContainersStopped int                      `json:"ContainersStopped"`
	Images            int                      `json:"Images"`
	ServerVersion     string                   `json:"ServerVersion"`
	Driver            string                   `json:"Driver"`
	LoggingDriver     string                   `json:"LoggingDriver"`
	CgroupDriver      string                   `json:"CgroupDriver"`
	CgroupVersion     string                   `json:"CgroupVersion"`
	SecurityOptions   []string                 `json:"SecurityOptions"`
	KernelVersion     string                   `json:"KernelVersion"`
	OperatingSystem   string                   `json:"OperatingSystem"`
	OSType            string                   `json:"OSType"`
	Architecture      string                   `json:"Architecture"`
	NCPU              int                      `json:"NCPU"`
	MemTotal          int64                    `json:"MemTotal"`
	Name              string                   `json:"Name"`
	DockerRootDir     string                   `json:"DockerRootDir"`
}

// cgroupVersion is "2" on a unified cgroup hierarchy, else "1".
func cgroupVersion(root string) string {
	if _, err := os.Stat(root + "/cgroup.controllers"); err == nil {
		return "2"
	}
	return "1"
}

// osPrettyName reads PRETTY_NAME from an os-release file.
func osPrettyName(r io.Reader) string {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "PRETTY_NAME=")
		if !ok {
			continue
		}
		if u, err := strconv.Unquote(v); err == nil {
			return u
		}
		return strings.Trim(v, `"'`)
	}
	return ""
}

func operatingSystem() string {
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		name := osPrettyName(f)
		f.Close()
		if name != "" {
			return name
		}
	}
	return "<unknown>"
}

func (a *app) systemInfo(ctx context.Context) (systemInfo, error) {
	info := systemInfo{
		ServerVersion: Version, Driver: "overlay", LoggingDriver: "json-file",
		CgroupDriver: "cgroupfs", CgroupVersion: cgroupVersion("/sys/fs/cgroup"),
		KernelVersion: kernelRelease(), OperatingSystem: operatingSystem(),
		OSType: runtime.GOOS, NCPU: runtime.NumCPU(),
	}
	info.ClientInfo.Version = Version
	// What every container gets unless told otherwise, in Docker's words.
	info.SecurityOptions = []string{"name=seccomp,profile=" + engine.SeccompBuiltin}
	if info.CgroupVersion == "2" {
		info.SecurityOptions = append(info.SecurityOptions, "name=cgroupns")
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err == nil {
		info.Architecture = unix.ByteSliceToString(u.Machine[:])
	}
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err == nil {
		info.MemTotal = int64(si.Totalram) * int64(si.Unit)
	}
	info.Name, _ = os.Hostname()
	e, err := a.engine()
	if err != nil {
		return info, err
	}
	info.DockerRootDir = e.Root()
	all, err := e.List(ctx)
	if err != nil {
		return info, fmt.Errorf("list containers: %w", err)
	}
	for _, c := range all {
		switch {
		case c.State.Paused:
			info.ContainersPaused++
		case c.State.Running:
			info.ContainersRunning++
		default:
			info.ContainersStopped++
		}
	}
	info.Containers = len(all)
	imgs, err := e.ListImages(ctx, engine.ListImagesOptions{})
	if err != nil {
		return info, fmt.Errorf("list images: %w", err)
	}
	info.Images = len(imgs)
	return info, nil
}

// writeInfo prints info as `docker info` does.
func writeInfo(w io.Writer, info systemInfo) error {
	b := bufio.NewWriter(w)
	fmt.Fprintf(b, "Client:\n Version:    %s\n\n", info.ClientInfo.Version)
	fmt.Fprintln(b, "Server:")
	fmt.Fprintf(b, " Containers: %d\n  Running: %d\n  Paused: %d\n  Stopped: %d\n",
		info.Containers, info.ContainersRunning, info.ContainersPaused, info.ContainersStopped)
	fmt.Fprintf(b, " Images: %d\n", info.Images)
	for _, kv := range [][2]string{
		{"Server Version", info.ServerVersion},
		{"Storage Driver", info.Driver},
		{"Logging Driver", info.LoggingDriver},
		{"Cgroup Driver", info.CgroupDriver},
		{"Cgroup Version", info.CgroupVersion},
	} {
		fmt.Fprintf(b, " %s: %s\n", kv[0], kv[1])
	}
	fmt.Fprintln(b, " Security Options:")
	for _, o := range info.SecurityOptions {
		for i, kv := range strings.Split(o, ",") {
			k, v, _ := strings.Cut(kv, "=")
			if i == 0 {
				fmt.Fprintf(b, "  %s\n", v)
			} else {
				fmt.Fprintf(b, "   %s%s: %s\n", strings.ToUpper(k[:1]), k[1:], v)
			}
		}
	}
	for _, kv := range [][2]string{
		{"Kernel Version", info.KernelVersion},
		{"Operating System", info.OperatingSystem},
		{"OSType", info.OSType},
		{"Architecture", info.Architecture},
		{"CPUs", strconv.Itoa(info.NCPU)},
		{"Total Memory", units.BytesSize(float64(info.MemTotal))},
		{"Name", info.Name},
		{"Berth Root Dir", info.DockerRootDir},
	} {
		fmt.Fprintf(b, " %s: %s\n", kv[0], kv[1])
	}
	return b.Flush()
}

func (a *app) newInfoCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:                   "info [OPTIONS]",
		Short:                 "Display system-wide information",
		Args:                  argsExactly(0),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			info, err := a.systemInfo(cmd.Context())
			if err != nil {
				return err
			}
			if format != "" {
				return writeTemplate(a.stdout, format, info)
			}
			return writeInfo(a.stdout, info)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template")
	return cmd
}

// ---- system check ----

// Exit codes of `system check`.
const (
	checkClean    = 0 // no problem (harmless leftovers may be listed)
	checkProblems = 1 // problems found (and, with --repair, not all fixed)
	checkFailed   = 2 // the check itself could not run
)

func (a *app) newSystemCheckCmd() *cobra.Command {
	var repair bool
	cmd := &cobra.Command{
		Use:   "check [OPTIONS]",
		Short: "Verify the state root (blobs, images, snapshots, containers), and repair it",
		Long: `Verify the state root: every blob against its digest, every image's blobs
and snapshots, every container's record, state, directories, image and
cgroup, and what interrupted operations left. One line per finding, then a
summary.

A "problem" is damage or a broken reference. A "harmless" finding is what
an interrupted operation may leave (a half-written blob, garbage, a dead
build's temporary dir, a container whose monitor died): it costs disk
space, never correctness, and --repair removes it. --repair fixes what it safely can, taking
the same locks as the other commands, so it is safe while berth runs.

Exit status: 0 no problem, 1 problems found (with --repair: left), 2 the
check could not run.`,
		Args: argsExactly(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			// Not a.engine(): opening the stores cleans up, and the check
			// is to see what was there.
			e, err := engine.New(a.root, engine.Options{KeepLeftovers: true})
			if err != nil {
				return &statusError{code: checkFailed, msg: err.Error()}
			}
			rep, err := e.Check(cmd.Context(), engine.CheckOptions{Repair: repair})
			if err != nil {
				return &statusError{code: checkFailed, msg: "system check: " + err.Error()}
			}
			if err := writeCheckReport(a.stdout, rep); err != nil {
				return err
			}
			if !rep.Clean() {
				return &statusError{code: checkProblems}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&repair, "repair", false, "Fix what can be fixed safely")
	return cmd
}

// writeCheckReport prints one line per finding and a summary.
func writeCheckReport(w io.Writer, rep *engine.CheckReport) error {
	b := bufio.NewWriter(w)
	var problems, harmless, fixed int
	for _, f := range rep.Findings {
		fmt.Fprintf(b, "%-8s  %s: %s", f.Severity, f.Object, f.Problem)
		if f.Repaired != "" {
			fixed++
			fmt.Fprintf(b, " [repaired: %s]", f.Repaired)
		}
		b.WriteByte('\n')
		if f.Severity == engine.Problem {
			problems++
		} else {
			harmless++
		}
	}
	var checked []string
	for _, c := range rep.Checked {
		checked = append(checked, count(c.N, c.Kind))
	}
	fmt.Fprintf(b, "Checked %s: %s, %s", strings.Join(checked, ", "), count(problems, "problem"), count(harmless, "harmless finding"))
	if fixed > 0 {
		fmt.Fprintf(b, ", %d repaired", fixed)
	}
	if left := rep.Problems(); left > 0 {
		fmt.Fprintf(b, ": the state root is not consistent (%s left)\n", count(left, "problem"))
	} else {
		fmt.Fprintln(b, ": consistent")
	}
	return b.Flush()
}

// count is "1 problem", "2 problems".
func count(n int, what string) string { return fmt.Sprintf("%d %s", n, plural(n, what)) }
