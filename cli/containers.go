package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"text/template"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"berth/engine"
	"berth/errdefs"
)

// addContainerCommands adds the container commands at the top level (ps,
// stop, ...) and under `berth container`.
func (a *app) addContainerCommands(root *cobra.Command) {
	root.AddCommand(
		a.newPsCmd("ps"), a.newStopCmd(), a.newRestartCmd(), a.newKillCmd(),
		a.newRmCmd("rm"), a.newLogsCmd(), a.newWaitCmd(), a.newTopCmd(),
		a.newInspectCmd(""), a.newRenameCmd(),
	)
	parent := parentCommand(root, "container", "Manage containers")
	ls := a.newPsCmd("ls")
	ls.Aliases = []string{"list", "ps"}
	rm := a.newRmCmd("rm")
	rm.Aliases = []string{"remove"}
	parent.AddCommand(
		ls, rm, a.newStopCmd(), a.newRestartCmd(), a.newKillCmd(), a.newLogsCmd(),
		a.newWaitCmd(), a.newTopCmd(), a.newInspectCmd("container"), a.newRenameCmd(),
		a.newContainerPruneCmd(),
	)
}

// parentCommand returns root's subcommand name, adding it first if it is
// not there yet, so that several files can add children to `container`
// and `image` in any order.
func parentCommand(root *cobra.Command, name, short string) *cobra.Command {
	for _, c := range root.Commands() {
		if c.Name() == name {
			return c
		}
	}
	c := &cobra.Command{
		Use:   name,
		Short: short,
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	root.AddCommand(c)
	return c
}

// Argument checks with Docker's messages; a wrong count exits 1.
func argsExactly(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return argsError(cmd, fmt.Sprintf("exactly %d %s", n, plural(n, "argument")))
		}
		return nil
	}
}

func argsAtLeast(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return argsError(cmd, fmt.Sprintf("at least %d %s", n, plural(n, "argument")))
		}
		return nil
	}
}

func argsBetween(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < lo || len(args) > hi {
			return argsError(cmd, fmt.Sprintf("at least %d and at most %d arguments", lo, hi))
		}
		return nil
	}
}

func argsError(cmd *cobra.Command, want string) error {
	return &statusError{code: 1, msg: fmt.Sprintf("%q requires %s.\nSee '%s --help'.\n\nUsage:  %s\n\n%s",
		cmd.CommandPath(), want, cmd.CommandPath(), strings.TrimSuffix(cmd.UseLine(), " [flags]"), cmd.Short)}
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// failed reports the errors of a command that works on several names:
// one error is returned as is; several are printed, one a line, and the
// command exits 1.
func (a *app) failed(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	for _, err := range errs {
		fmt.Fprintln(a.stderr, errorLine(err))
	}
	return &statusError{code: 1}
}

// confirm asks a yes/no question on stdout and reads the answer from
// stdin; anything but y or yes is no.
func (a *app) confirm(question string) (bool, error) {
	fmt.Fprintf(a.stdout, "%s [y/N] ", question)
	line, err := bufio.NewReader(a.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("read answer: %w", err)
	}
	answer := strings.ToLower(strings.TrimSpace(line))
	if line == "" || !strings.HasSuffix(line, "\n") {
		fmt.Fprintln(a.stdout)
	}
	return answer == "y" || answer == "yes", nil
}

// ---- ps ----

const psDefaultTable = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"

// psHeaders are the column titles of ps fields.
var psHeaders = map[string]string{
	"Command":      "COMMAND",
	"CreatedAt":    "CREATED AT",
	"ID":           "CONTAINER ID",
	"Image":        "IMAGE",
	"Label":        "LABEL",
	"Labels":       "LABELS",
	"LocalVolumes": "LOCAL VOLUMES",
	"Mounts":       "MOUNTS",
	"Names":        "NAMES",
	"Networks":     "NETWORKS",
	"Ports":        "PORTS",
	"RunningFor":   "CREATED",
	"Size":         "SIZE",
	"State":        "STATE",
	"Status":       "STATUS",
}

// psRow is one container as ps templates see it, with Docker's field
// names. Fields are in alphabetical order, as `--format json` prints them.
type psRow struct {
	Command      string
	CreatedAt    string
	ID           string
	Image        string
	Labels       string
	LocalVolumes string
	Mounts       string
	Names        string
	Networks     string
	Ports        string
	RunningFor   string
	Size         string
	State        string
	Status       string

	labels map[string]string
}

// Label returns the value of one label ({{.Label "com.example"}}).
func (r psRow) Label(name string) string { return r.labels[name] }

func newPsRow(c *engine.Container, trunc bool, now time.Time) psRow {
	id := c.ID
	if trunc {
		id = engine.ShortID(id)
	}
	command := strings.Join(append([]string{c.Path}, c.Args...), " ")
	if trunc {
		command = ellipsis(command, 20)
	}
	labels := make([]string, 0, len(c.Config.Labels))
	for k, v := range c.Config.Labels {
		labels = append(labels, k+"="+v)
	}
	sort.Strings(labels)
	return psRow{
		Command:      strconv.Quote(command),
		CreatedAt:    createdAtString(c.Created),
		ID:           id,
		Image:        psImage(c, trunc),
		Labels:       strings.Join(labels, ","),
		LocalVolumes: "0",
		Names:        c.Name,
		Networks:     c.HostConfig.NetworkMode,
		RunningFor:   humanAgo(c.Created, now),
		Size:         humanSize(0),
		State:        c.State.String(),
		Status:       c.State.Describe(now),
		labels:       c.Config.Labels,
	}
}

// psImage is the image column: the name the container was created from,
// without its digest, or the short image ID.
func psImage(c *engine.Container, trunc bool) string {
	name := c.Config.Image
	if name == "" {
		name = c.Image
	}
	if !trunc {
		return name
	}
	if hex, ok := strings.CutPrefix(name, "sha256:"); ok {
		return engine.ShortID(hex)
	}
	if before, _, ok := strings.Cut(name, "@"); ok {
		return engine.FamiliarName(before)
	}
	return name
}

// validStatuses are the values of the status filter.
var validStatuses = []string{"created", "restarting", "running", "removing", "paused", "exited", "dead"}

// psFilter is a compiled ps --filter.
type psFilter struct {
	status    []string
	health    []string
	names     []*regexp.Regexp
	ids       []string
	labels    []string
	ancestors []string // image IDs and normalised names
	exited    []int
	before    *engine.Container
	since     *engine.Container
}

// newPsFilter checks and compiles the filters; container and image look
// names up for before/since and ancestor.
func newPsFilter(f *filterFlag, container func(string) (*engine.Container, error), image func(string) (string, error)) (*psFilter, error) {
	if err := f.validate("status", "health", "name", "id", "label", "ancestor", "exited", "before", "since"); err != nil {
		return nil, err
	}
	pf := &psFilter{ids: f.get("id"), labels: f.get("label")}
	for _, s := range f.get("status") {
		if !slices.Contains(validStatuses, s) {
			return nil, fmt.Errorf("invalid filter 'status=%s': want one of %s", s, strings.Join(validStatuses, ", "))
		}
		pf.status = append(pf.status, s)
	}
	for _, h := range f.get("health") {
		switch h {
		case engine.HealthStarting, engine.HealthHealthy, engine.HealthUnhealthy, engine.HealthNone:
			pf.health = append(pf.health, h)
		default:
			return nil, errdefs.InvalidArgument("Unrecognised filter value for health: %s", h)
		}
	}
	for _, n := range f.get("name") {
		re, err := regexp.Compile(n)
		if err != nil {
			return nil, fmt.Errorf("invalid filter 'name=%s': %w", n, err)
		}
		pf.names = append(pf.names, re)
	}
	for _, v := range f.get("exited") {
		code, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Errorf("invalid filter 'exited=%s': want an exit code", v)
		}
		pf.exited = append(pf.exited, code)
	}
	for _, v := range f.get("ancestor") {
		if norm, err := engine.NormalizeRef(v); err == nil {
			pf.ancestors = append(pf.ancestors, norm)
		}
		id, err := image(v)
		if err != nil && !errors.Is(err, errdefs.ErrNotFound) && !errors.Is(err, errdefs.ErrInvalidArgument) {
			return nil, fmt.Errorf("filter 'ancestor=%s': %w", v, err)
		}
		if err == nil {
			pf.ancestors = append(pf.ancestors, id)
		}
	}
	for key, dst := range map[string]**engine.Container{"before": &pf.before, "since": &pf.since} {
		if err := resolveOne(f, key, "container", dst, container); err != nil {
			return nil, err
		}
	}
	return pf, nil
}

// showsStopped reports whether the filter implies -a.
func (pf *psFilter) showsStopped() bool {
	return len(pf.status) > 0 || pf.before != nil || pf.since != nil
}

func (pf *psFilter) match(c *engine.Container) bool {
	if len(pf.status) > 0 && !slices.Contains(pf.status, c.State.String()) {
		return false
	}
	if len(pf.health) > 0 && !slices.Contains(pf.health, c.State.HealthStatus()) {
		return false
	}
	if len(pf.names) > 0 && !slices.ContainsFunc(pf.names, func(re *regexp.Regexp) bool {
		return re.MatchString(c.Name) || re.MatchString("/"+c.Name)
	}) {
		return false
	}
	if len(pf.ids) > 0 && !slices.ContainsFunc(pf.ids, func(p string) bool { return strings.HasPrefix(c.ID, p) }) {
		return false
	}
	if !matchLabels(pf.labels, c.Config.Labels) {
		return false
	}
	if len(pf.ancestors) > 0 {
		norm, _ := engine.NormalizeRef(c.Config.Image)
		if !slices.Contains(pf.ancestors, c.Image) && (norm == "" || !slices.Contains(pf.ancestors, norm)) {
			return false
		}
	}
	if len(pf.exited) > 0 && (c.State.Running || c.State.StartedAt.IsZero() || !slices.Contains(pf.exited, c.State.ExitCode)) {
		return false
	}
	if pf.before != nil && !c.Created.Before(pf.before.Created) {
		return false
	}
	if pf.since != nil && !c.Created.After(pf.since.Created) {
		return false
	}
	return true
}

type psOptions struct {
	all, quiet, latest, noTrunc bool
	last                        int
	format                      string
	filter                      filterFlag
}

func (a *app) newPsCmd(use string) *cobra.Command {
	var o psOptions
	cmd := &cobra.Command{
		Use:                   use + " [OPTIONS]",
		Short:                 "List containers",
		Args:                  argsExactly(0),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runPs(cmd.Context(), &o)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&o.all, "all", "a", false, "Show all containers (default shows just running)")
	fl.BoolVarP(&o.quiet, "quiet", "q", false, "Only display container IDs")
	fl.BoolVarP(&o.latest, "latest", "l", false, "Show the latest created container (includes all states)")
	fl.IntVarP(&o.last, "last", "n", -1, "Show n last created containers (includes all states)")
	fl.BoolVar(&o.noTrunc, "no-trunc", false, "Don't truncate output")
	fl.StringVar(&o.format, "format", "", "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template")
	fl.VarP(&o.filter, "filter", "f", "Filter output based on conditions provided")
	return cmd
}

func (a *app) runPs(ctx context.Context, o *psOptions) error {
	e, err := a.engine()
	if err != nil {
		return err
	}
	pf, err := newPsFilter(&o.filter,
		func(ref string) (*engine.Container, error) { return e.Get(ctx, ref) },
		func(ref string) (string, error) {
			img, err := e.ResolveImage(ctx, ref)
			if err != nil {
				return "", err
			}
			return img.ID.String(), nil
		})
	if err != nil {
		return err
	}
	all, err := e.List(ctx)
	if err != nil {
		return fmt.Errorf("list containers: %w", err)
	}
	all = slices.DeleteFunc(all, engine.IsBuildStep)
	limit := o.last
	if o.latest {
		limit = 1
	}
	showAll := o.all || limit > 0 || pf.showsStopped()
	now := time.Now()
	var rows []any
	for _, c := range all {
		if limit > 0 && len(rows) == limit {
			break
		}
		if (!showAll && !c.State.Running) || !pf.match(c) {
			continue
		}
		rows = append(rows, newPsRow(c, !o.noTrunc, now))
	}
	format := o.format
	if o.quiet {
		if format != "" {
			fmt.Fprintln(a.stderr, "WARNING: Ignoring custom format, because both --format and --quiet are set.")
		}
		format = "{{.ID}}"
	}
	lf, err := parseListFormat(format, psDefaultTable)
	if err != nil {
		return err
	}
	return lf.write(a.stdout, psHeaders, rows)
}

// ---- stop, restart, kill, rm, wait ----

// stopFlags are the flags of stop and restart.
type stopFlags struct {
	timeout int
	signal  string
}

func (s *stopFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVarP(&s.signal, "signal", "s", "", "Signal to send to the container")
	fl.IntVarP(&s.timeout, "timeout", "t", 0, "Seconds to wait before killing the container")
	fl.IntVar(&s.timeout, "time", 0, "Seconds to wait before killing the container")
	_ = fl.MarkDeprecated("time", "use --timeout instead")
}

// wait returns the timeout given, or -1 (the container's default) when
// neither --timeout nor --time was given.
func (s *stopFlags) wait(cmd *cobra.Command) time.Duration {
	if !cmd.Flags().Changed("timeout") && !cmd.Flags().Changed("time") {
		return -1
	}
	return time.Duration(s.timeout) * time.Second
}

// parsedSignal returns the --signal given, or 0 for the container's own.
func (s *stopFlags) parsedSignal() (syscall.Signal, error) {
	if s.signal == "" {
		return 0, nil
	}
	return engine.ParseSignal(s.signal)
}

func (a *app) newStopCmd() *cobra.Command {
	return a.stopLikeCmd("stop", "Stop one or more running containers", (*engine.Engine).Stop)
}

func (a *app) newRestartCmd() *cobra.Command {
	return a.stopLikeCmd("restart", "Restart one or more containers", (*engine.Engine).Restart)
}

// stopLikeCmd builds stop and restart: the same flags, one engine call.
func (a *app) stopLikeCmd(name, short string, op func(*engine.Engine, context.Context, string, engine.StopOptions) error) *cobra.Command {
	var s stopFlags
	cmd := &cobra.Command{
		Use:                   name + " [OPTIONS] CONTAINER [CONTAINER...]",
		Short:                 short,
		Args:                  argsAtLeast(1),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			sig, err := s.parsedSignal()
			if err != nil {
				return err
			}
			opts := engine.StopOptions{Timeout: s.wait(cmd), Signal: sig}
			return eachName(a, args, func(ref string) error {
				return op(e, cmd.Context(), ref, opts)
			})
		},
	}
	s.add(cmd)
	return cmd
}

func (a *app) newKillCmd() *cobra.Command {
	var signal string
	cmd := &cobra.Command{
		Use:                   "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short:                 "Kill one or more running containers",
		Args:                  argsAtLeast(1),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			sig, err := engine.ParseSignal(signal)
			if err != nil {
				return err
			}
			return eachName(a, args, func(name string) error {
				return cannot("kill", name, e.Kill(cmd.Context(), name, sig))
			})
		},
	}
	cmd.Flags().StringVarP(&signal, "signal", "s", "KILL", "Signal to send to the container")
	return cmd
}

func (a *app) newRmCmd(use string) *cobra.Command {
	var force, volumes bool
	cmd := &cobra.Command{
		Use:                   use + " [OPTIONS] CONTAINER [CONTAINER...]",
		Short:                 "Remove one or more containers",
		Args:                  argsAtLeast(1),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			var errs []error
			for _, name := range args {
				err := e.Remove(cmd.Context(), name, force)
				switch {
				case err == nil:
					fmt.Fprintln(a.stdout, name)
				case force && errors.Is(err, errdefs.ErrNotFound):
					// rm -f, like rm -f, does not fail on what is not there.
					fmt.Fprintln(a.stderr, errorLine(err))
				default:
					errs = append(errs, err)
				}
			}
			return a.failed(errs)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the removal of a running container (uses SIGKILL)")
	cmd.Flags().BoolVarP(&volumes, "volumes", "v", false, "Remove anonymous volumes associated with the container (berth has none)")
	return cmd
}

func (a *app) newWaitCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Block until one or more containers stop, then print their exit codes",
		Args:  argsAtLeast(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			var errs []error
			for _, name := range args {
				code, err := e.Wait(cmd.Context(), name)
				if err != nil {
					if ctxErr := cmd.Context().Err(); ctxErr != nil {
						return ctxErr
					}
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(a.stdout, code)
			}
			return a.failed(errs)
		},
	}
}

// ---- logs ----

type logsOptions struct {
	follow, timestamps, details bool
	tail, since, until          string
}

func (a *app) newLogsCmd() *cobra.Command {
	var o logsOptions
	cmd := &cobra.Command{
		Use:                   "logs [OPTIONS] CONTAINER",
		Short:                 "Fetch the logs of a container",
		Args:                  argsExactly(1),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runLogs(cmd.Context(), args[0], &o)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&o.details, "details", false, "Show extra details provided to logs")
	fl.BoolVarP(&o.follow, "follow", "f", false, "Follow log output")
	fl.StringVar(&o.since, "since", "", "Show logs since timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes)")
	fl.StringVarP(&o.tail, "tail", "n", "all", "Number of lines to show from the end of the logs")
	fl.BoolVarP(&o.timestamps, "timestamps", "t", false, "Show timestamps")
	fl.StringVar(&o.until, "until", "", "Show logs before a timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes)")
	return cmd
}

// parseTail reads --tail: "all" (or a negative number) is every line.
func parseTail(s string) (int, error) {
	if s == "" || s == "all" {
		return -1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("invalid value for --tail: %q: want a number of lines or \"all\"", s)
	}
	return max(n, -1), nil
}

func (a *app) runLogs(ctx context.Context, ref string, o *logsOptions) error {
	now := time.Now()
	since, err := parseTimeArg(o.since, now)
	if err != nil {
		return fmt.Errorf("invalid value for --since: %w", err)
	}
	until, err := parseTimeArg(o.until, now)
	if err != nil {
		return fmt.Errorf("invalid value for --until: %w", err)
	}
	tail, err := parseTail(o.tail)
	if err != nil {
		return err
	}
	e, err := a.engine()
	if err != nil {
		return err
	}
	c, err := e.Get(ctx, ref)
	if err != nil {
		return err
	}
	lw := newLogWriter(a.stdout, a.stderr, o.timestamps, o.follow)
	err = e.Logs(ctx, c.ID, engine.LogsOptions{Follow: o.follow, Tail: tail, Since: since, Until: until}, lw.write)
	if ferr := lw.flush(); err == nil {
		err = ferr
	}
	switch {
	case err == nil, errors.Is(err, fs.ErrNotExist):
		// A container that never ran has no log yet.
		return nil
	case ctx.Err() != nil:
		return nil
	}
	return fmt.Errorf("read logs of %s: %w", ref, err)
}

// logWriter writes log entries to stdout or stderr by their stream,
// buffered; it flushes on every entry when following, and on a change of
// stream so that the two keep their order on a terminal.
type logWriter struct {
	out, errOut *bufio.Writer
	last        *bufio.Writer
	timestamps  bool
	eager       bool
	midLine     map[string]bool // a stream's last entry did not end its line
}

func newLogWriter(stdout, stderr io.Writer, timestamps, eager bool) *logWriter {
	return &logWriter{
		out: bufio.NewWriter(stdout), errOut: bufio.NewWriter(stderr),
		timestamps: timestamps, eager: eager, midLine: map[string]bool{},
	}
}

// logTimeFormat is RFC 3339 with nine fraction digits, so lines align.
const logTimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

func (w *logWriter) write(ent engine.LogEntry) error {
	if ent.Lost != 0 {
		return w.lost(ent.Lost)
	}
	dst := w.out
	if ent.Stream == "stderr" {
		dst = w.errOut
	}
	if w.last != nil && w.last != dst {
		if err := w.last.Flush(); err != nil {
			return err
		}
	}
	w.last = dst
	if w.timestamps && !w.midLine[ent.Stream] {
		dst.WriteString(ent.Time.UTC().Format(logTimeFormat))
		dst.WriteByte(' ')
	}
	dst.Write(ent.Line)
	w.midLine[ent.Stream] = len(ent.Line) > 0 && ent.Line[len(ent.Line)-1] != '\n'
	if w.eager {
		return dst.Flush()
	}
	return nil
}

// lost says on stderr, in its place among the lines, that lines were
// rotated away before they could be read; it is never silent.
func (w *logWriter) lost(n int64) error {
	if err := w.out.Flush(); err != nil {
		return err
	}
	if w.last != nil && w.midLine[streamOf(w, w.last)] {
		w.errOut.WriteByte('\n')
	}
	clear(w.midLine)
	w.last = w.errOut
	w.errOut.WriteString(engine.LostText(n))
	w.errOut.WriteByte('\n')
	return w.errOut.Flush()
}

func streamOf(w *logWriter, b *bufio.Writer) string {
	if b == w.errOut {
		return "stderr"
	}
	return "stdout"
}

func (w *logWriter) flush() error {
	return errors.Join(w.out.Flush(), w.errOut.Flush())
}

// ---- top, rename ----

func (a *app) newTopCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "top CONTAINER",
		Short: "Display the running processes of a container",
		Args:  argsAtLeast(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return fmt.Errorf("berth top does not take ps options (%s): it always shows the columns of ps -ef", strings.Join(args[1:], " "))
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			procs, err := e.Top(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return writeTop(a.stdout, procs)
		},
	}
}

func writeTop(w io.Writer, procs []engine.Process) error {
	tw := tabwriter.NewWriter(w, 20, 1, 3, ' ', 0)
	fmt.Fprintln(tw, "UID\tPID\tPPID\tC\tSTIME\tTTY\tTIME\tCMD")
	for _, p := range procs {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\n", p.UID, p.PID, p.PPID, p.C, p.STIME, p.TTY, p.TIME, p.CMD)
	}
	return tw.Flush()
}

func (a *app) newRenameCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "Rename a container",
		Args:  argsExactly(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			if err := e.Rename(cmd.Context(), args[0], args[1]); err != nil {
				return fmt.Errorf("rename %s to %s: %w", args[0], args[1], err)
			}
			return nil
		},
	}
}

// ---- prune ----

func (a *app) newContainerPruneCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:                   "prune [OPTIONS]",
		Short:                 "Remove all stopped containers",
		Args:                  argsExactly(0),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force {
				ok, err := a.confirm("WARNING! This will remove all stopped containers.\nAre you sure you want to continue?")
				if err != nil || !ok {
					return err
				}
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			gone, reclaimed, err := e.PruneContainers(cmd.Context())
			if len(gone) > 0 {
				fmt.Fprintln(a.stdout, "Deleted Containers:")
				for _, id := range gone {
					fmt.Fprintln(a.stdout, id)
				}
				fmt.Fprintln(a.stdout)
			}
			fmt.Fprintln(a.stdout, "Total reclaimed space:", units.HumanSize(float64(reclaimed)))
			if err != nil {
				return fmt.Errorf("prune containers: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	return cmd
}

// ---- inspect ----

func (a *app) newInspectCmd(kind string) *cobra.Command {
	var format, typ string
	use, short := "inspect [OPTIONS] NAME|ID [NAME|ID...]", "Return low-level information on containers or images"
	switch kind {
	case "container":
		use, short = "inspect [OPTIONS] CONTAINER [CONTAINER...]", "Display detailed information on one or more containers"
	case "image":
		use, short = "inspect [OPTIONS] IMAGE [IMAGE...]", "Display detailed information on one or more images"
	}
	cmd := &cobra.Command{
		Use:                   use,
		Short:                 short,
		Args:                  argsAtLeast(1),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			k := kind
			if k == "" {
				switch typ {
				case "", "container", "image":
					k = typ
				default:
					return fmt.Errorf("%q is not a valid value for --type: want container or image", typ)
				}
			}
			return a.runInspect(cmd.Context(), k, format, args)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template")
	if kind == "" {
		cmd.Flags().StringVar(&typ, "type", "", "Only inspect objects of the given type (container or image)")
	}
	return cmd
}

// runInspect prints the objects names name, of kind "container", "image"
// or "" (a container if there is one by that name, else an image).
func (a *app) runInspect(ctx context.Context, kind, format string, names []string) error {
	e, err := a.engine()
	if err != nil {
		return err
	}
	var found []any
	var errs []error
	for _, name := range names {
		v, err := inspectObject(ctx, e, kind, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		found = append(found, v)
	}
	if err := a.writeInspect(format, found); err != nil {
		return err
	}
	return a.failed(errs)
}

func inspectObject(ctx context.Context, e *engine.Engine, kind, name string) (any, error) {
	if kind != "image" {
		c, err := e.InspectContainer(ctx, name)
		if err == nil {
			return newContainerView(c), nil
		}
		if kind == "container" || !errors.Is(err, errdefs.ErrNotFound) {
			return nil, err
		}
	}
	img, err := e.ResolveImage(ctx, name)
	if err == nil {
		return newImageView(img), nil
	}
	if kind == "" && (errors.Is(err, errdefs.ErrNotFound) || errors.Is(err, errdefs.ErrInvalidArgument)) {
		return nil, errdefs.NotFound("No such object: %s", name)
	}
	return nil, err
}

// writeInspect prints objects as an indented JSON array, or each through
// a template.
func (a *app) writeInspect(format string, objs []any) error {
	if format == "" {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "    ")
		if objs == nil {
			objs = []any{}
		}
		if err := enc.Encode(objs); err != nil {
			return err
		}
		_, err := io.WriteString(a.stdout, b.String())
		return err
	}
	if format == formatJSON {
		format = "{{json .}}"
	}
	tmpl, err := parseTemplate(format)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, o := range objs {
		if err := executeInspect(&b, tmpl, o); err != nil {
			return err
		}
		b.WriteByte('\n')
	}
	_, err = io.WriteString(a.stdout, b.String())
	return err
}

// executeInspect runs tmpl on obj; when that fails (a field the object
// does not have), it runs it again on obj's JSON form as a map, where a
// missing field prints "<no value>", as docker inspect does.
func executeInspect(w io.Writer, tmpl *template.Template, obj any) error {
	var b bytes.Buffer
	err := tmpl.Execute(&b, obj)
	if err == nil {
		_, err = b.WriteTo(w)
		return err
	}
	raw, merr := json.Marshal(obj)
	if merr != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) != nil {
		return err
	}
	b.Reset()
	if err := tmpl.Execute(&b, m); err != nil {
		return err
	}
	_, err = b.WriteTo(w)
	return err
}

// containerView is a container as `docker inspect` shows it.
type containerView struct {
	ID              string                 `json:"Id"`
	Created         time.Time              `json:"Created"`
	Path            string                 `json:"Path"`
	Args            []string               `json:"Args"`
	State           engine.State           `json:"State"`
	Image           string                 `json:"Image"`
	ResolvConfPath  string                 `json:"ResolvConfPath"`
	HostnamePath    string                 `json:"HostnamePath"`
	HostsPath       string                 `json:"HostsPath"`
	LogPath         string                 `json:"LogPath"`
	Name            string                 `json:"Name"`
	RestartCount    int                    `json:"RestartCount"`
	Driver          string                 `json:"Driver"`
	Platform        string                 `json:"Platform"`
	HostConfig      engine.HostConfig      `json:"HostConfig"`
	SeccompProfile  string                 `json:"SeccompProfile"` // builtin, unconfined or a profile's path
	GraphDriver     graphDriver            `json:"GraphDriver"`
	Mounts          []any                  `json:"Mounts"`
	Config          engine.ContainerConfig `json:"Config"`
	NetworkSettings map[string]any         `json:"NetworkSettings"`
}

// graphDriver names the storage driver and its directories.
type graphDriver struct {
	Name string            `json:"Name"`
	Data map[string]string `json:"Data"`
}

func newContainerView(c *engine.ContainerInspect) containerView {
	args := c.Args
	if args == nil {
		args = []string{}
	}
	st := c.State
	if st.Status == "" {
		st.Status = engine.Status(st.String())
	}
	hc := c.HostConfig
	if hc.RestartPolicy.Name == "" {
		hc.RestartPolicy.Name = "no" // a record from before berth wrote it
	}
	return containerView{
		ID: c.ID, Created: c.Created, Path: c.Path, Args: args, State: st, Image: c.Image,
		ResolvConfPath: c.ResolvConfPath,
		HostnamePath:   c.HostnamePath,
		HostsPath:      c.HostsPath,
		LogPath:        c.LogPath,
		Name:           "/" + c.Name,
		Driver:         "overlay",
		Platform:       "linux",
		HostConfig:     hc,
		SeccompProfile: c.SeccompProfile,
		RestartCount:   c.State.RestartCount,
		GraphDriver: graphDriver{Name: "overlay", Data: map[string]string{
			"LowerDir":  strings.Join(reversed(c.LowerDirs), ":"),
			"UpperDir":  c.UpperDir,
			"WorkDir":   c.WorkDir,
			"MergedDir": c.MergedDir,
		}},
		Mounts: []any{},
		Config: c.Config,
		NetworkSettings: map[string]any{
			"Bridge": "", "SandboxID": "", "Ports": map[string]any{},
			"IPAddress": "", "Gateway": "", "MacAddress": "",
			"Networks": map[string]any{},
		},
	}
}

// reversed returns s in reverse order: overlay lists its top layer first.
func reversed(s []string) []string {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}
