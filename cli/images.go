package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"berth/engine"
)

// addImageCommands adds the image commands at the top level (images,
// rmi, ...) and under `berth image`.
func (a *app) addImageCommands(root *cobra.Command) {
	root.AddCommand(
		a.newImagesCmd("images"), a.newImportCmd(), a.newLoadCmd(), a.newSaveCmd(),
		a.newTagCmd(), a.newRmiCmd("rmi"), a.newHistoryCmd(),
	)
	parent := parentCommand(root, "image", "Manage images")
	ls := a.newImagesCmd("ls")
	ls.Aliases = []string{"list"}
	rm := a.newRmiCmd("rm")
	rm.Aliases = []string{"rmi", "remove"}
	parent.AddCommand(
		ls, rm, a.newInspectCmd("image"), a.newHistoryCmd(), a.newImportCmd(),
		a.newLoadCmd(), a.newSaveCmd(), a.newTagCmd(), a.newImagePruneCmd(),
	)
}

// ---- images ----

const (
	imagesDefaultTable        = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
	imagesDefaultTableDigests = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
	none                      = "<none>"
	notApplicable             = "N/A"
)

var imageHeaders = map[string]string{
	"Containers":   "CONTAINERS",
	"CreatedAt":    "CREATED AT",
	"CreatedSince": "CREATED",
	"Digest":       "DIGEST",
	"ID":           "IMAGE ID",
	"Repository":   "REPOSITORY",
	"SharedSize":   "SHARED SIZE",
	"Size":         "SIZE",
	"Tag":          "TAG",
	"UniqueSize":   "UNIQUE SIZE",
	"VirtualSize":  "VIRTUAL SIZE",
}

// imageRow is one line of `images`, with Docker's field names in
// alphabetical order (the order `--format json` prints them in).
type imageRow struct {
	Containers   string
	CreatedAt    string
	CreatedSince string
	Digest       string
	ID           string
	Repository   string
	SharedSize   string
	Size         string
	Tag          string
	UniqueSize   string
	VirtualSize  string
}

// splitFamiliar splits a familiar reference into its repository and its
// tag or digest: "busybox:1.36" → busybox, 1.36; "busybox@sha256:ab" →
// busybox, sha256:ab; a port in the registry host is not a tag.
func splitFamiliar(ref string) (repo, tagOrDigest string) {
	if r, d, ok := strings.Cut(ref, "@"); ok {
		return r, d
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		return ref[:i], ref[i+1:]
	}
	return ref, ""
}

// imageID is an image ID as tables show it: 12 hex digits, or in full.
func imageID(id string, trunc bool) string {
	if !trunc {
		return id
	}
	return engine.ShortID(strings.TrimPrefix(id, "sha256:"))
}

// imageRows makes the rows of one image, as Docker lists them: one per
// tag (and with digests, per tag and digest); digests of a repository
// without tags get a "<none>" tag; an image with neither is <none> <none>.
func imageRows(img *engine.Image, withDigests, trunc bool, now time.Time) []imageRow {
	base := imageRow{
		Containers: notApplicable, SharedSize: notApplicable, UniqueSize: notApplicable,
		ID:           imageID(img.ID.String(), trunc),
		Size:         humanSize(img.Size),
		VirtualSize:  humanSize(img.Size),
		CreatedAt:    createdAtString(img.Created),
		CreatedSince: notApplicable,
	}
	if !img.Created.IsZero() && img.Created.Unix() > 0 {
		base.CreatedSince = humanAgo(img.Created, now)
	}
	tags := map[string][]string{}
	digests := map[string][]string{}
	for _, t := range img.RepoTags {
		repo, tag := splitFamiliar(engine.FamiliarName(t))
		tags[repo] = append(tags[repo], tag)
	}
	for _, d := range img.RepoDigests {
		repo, dgst := splitFamiliar(engine.FamiliarName(d))
		digests[repo] = append(digests[repo], dgst)
	}
	row := func(repo, tag, digest string) imageRow {
		r := base
		r.Repository, r.Tag, r.Digest = repo, tag, digest
		return r
	}
	var rows []imageRow
	for _, repo := range sortedKeys(tags) {
		ds := digests[repo]
		delete(digests, repo)
		for _, tag := range tags[repo] {
			switch {
			case !withDigests:
				rows = append(rows, row(repo, tag, none))
			case len(ds) == 0:
				rows = append(rows, row(repo, tag, none))
			default:
				for _, d := range ds {
					rows = append(rows, row(repo, tag, d))
				}
			}
		}
	}
	for _, repo := range sortedKeys(digests) {
		if !withDigests {
			rows = append(rows, row(repo, none, none))
			continue
		}
		for _, d := range digests[repo] {
			rows = append(rows, row(repo, none, d))
		}
	}
	if len(rows) == 0 {
		rows = append(rows, row(none, none, none))
	}
	return rows
}

func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// refMatches reports whether a stored (normalised) reference matches a
// reference filter pattern, in familiar or full form, with or without
// its tag: busy*, busybox, busybox:1.*, docker.io/library/busybox.
func refMatches(pattern, ref string) bool {
	familiar := engine.FamiliarName(ref)
	repo, _ := splitFamiliar(familiar)
	fullRepo, _ := splitFamiliar(ref)
	for _, s := range []string{familiar, repo, ref, fullRepo} {
		if ok, _ := path.Match(pattern, s); ok {
			return true
		}
	}
	return false
}

// imageFilter is a compiled `images --filter`.
type imageFilter struct {
	dangling, danglingSet bool
	references            []string
	before, since         time.Time
	labels                []string
}

func newImageFilter(f *filterFlag, created func(ref string) (time.Time, error)) (*imageFilter, error) {
	if err := f.validate("dangling", "reference", "before", "since", "label"); err != nil {
		return nil, err
	}
	imf := &imageFilter{references: f.get("reference"), labels: f.get("label")}
	var err error
	if imf.dangling, imf.danglingSet, err = f.boolValue("dangling"); err != nil {
		return nil, err
	}
	for key, dst := range map[string]*time.Time{"before": &imf.before, "since": &imf.since} {
		if err := resolveOne(f, key, "image", dst, created); err != nil {
			return nil, err
		}
	}
	return imf, nil
}

// apply returns img as the filter shows it (only the references that
// match a reference filter), or nil when it does not match. labels reads
// the image's labels, only when a label filter needs them.
func (imf *imageFilter) apply(img *engine.Image, labels func() (map[string]string, error)) (*engine.Image, error) {
	if imf.danglingSet && (len(img.RepoTags) == 0) != imf.dangling {
		return nil, nil
	}
	if !imf.before.IsZero() && !img.Created.Before(imf.before) {
		return nil, nil
	}
	if !imf.since.IsZero() && !img.Created.After(imf.since) {
		return nil, nil
	}
	if len(imf.references) > 0 {
		keep := func(refs []string) []string {
			var out []string
			for _, r := range refs {
				if slices.ContainsFunc(imf.references, func(p string) bool { return refMatches(p, r) }) {
					out = append(out, r)
				}
			}
			return out
		}
		shown := *img
		shown.RepoTags, shown.RepoDigests = keep(img.RepoTags), keep(img.RepoDigests)
		if len(shown.RepoTags) == 0 && len(shown.RepoDigests) == 0 {
			return nil, nil
		}
		img = &shown
	}
	if len(imf.labels) > 0 {
		l, err := labels()
		if err != nil {
			return nil, err
		}
		if !matchLabels(imf.labels, l) {
			return nil, nil
		}
	}
	return img, nil
}

type imagesOptions struct {
	all, quiet, digests, noTrunc bool
	format                       string
	filter                       filterFlag
}

func (a *app) newImagesCmd(use string) *cobra.Command {
	var o imagesOptions
	cmd := &cobra.Command{
		Use:                   use + " [OPTIONS] [REPOSITORY[:TAG]]",
		Short:                 "List images",
		Args:                  argsBetween(0, 1),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if err := o.filter.Set("reference=" + args[0]); err != nil {
					return err
				}
			}
			return a.runImages(cmd.Context(), &o)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&o.all, "all", "a", false, "Show all images (default hides intermediate images)")
	fl.BoolVar(&o.digests, "digests", false, "Show digests")
	fl.VarP(&o.filter, "filter", "f", "Filter output based on conditions provided")
	fl.StringVar(&o.format, "format", "", "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template")
	fl.BoolVar(&o.noTrunc, "no-trunc", false, "Don't truncate output")
	fl.BoolVarP(&o.quiet, "quiet", "q", false, "Only show image IDs")
	return cmd
}

func (a *app) runImages(ctx context.Context, o *imagesOptions) error {
	e, err := a.engine()
	if err != nil {
		return err
	}
	imf, err := newImageFilter(&o.filter, func(ref string) (time.Time, error) {
		img, err := e.ResolveImage(ctx, ref)
		if err != nil {
			return time.Time{}, err
		}
		return img.Created, nil
	})
	if err != nil {
		return err
	}
	list, err := e.ListImages(ctx, engine.ListImagesOptions{All: o.all})
	if err != nil {
		return fmt.Errorf("list images: %w", err)
	}
	now := time.Now()
	var rows []any
	for _, img := range list {
		shown, err := imf.apply(img, func() (map[string]string, error) {
			full, err := e.ResolveImage(ctx, img.ID.String())
			if err != nil {
				return nil, err
			}
			return full.Config.Config.Labels, nil
		})
		if err != nil {
			return fmt.Errorf("filter image %s: %w", engine.ShortID(img.ID.Hex), err)
		}
		if shown == nil {
			continue
		}
		for _, r := range imageRows(shown, o.digests, !o.noTrunc, now) {
			rows = append(rows, r)
		}
	}
	format, def := o.format, imagesDefaultTable
	if o.digests {
		def = imagesDefaultTableDigests
	}
	if o.quiet {
		if format != "" {
			fmt.Fprintln(a.stderr, "WARNING: Ignoring custom format, because both --format and --quiet are set.")
		}
		format = "{{.ID}}"
	}
	lf, err := parseListFormat(format, def)
	if err != nil {
		return err
	}
	return lf.write(a.stdout, imageHeaders, rows)
}

// ---- import, load, save, tag ----

func (a *app) newImportCmd() *cobra.Command {
	var opts engine.ImportOptions
	cmd := &cobra.Command{
		Use:                   "import [OPTIONS] file|- [REPOSITORY[:TAG]]",
		Short:                 "Import the contents from a tarball to create a filesystem image",
		Args:                  argsBetween(1, 2),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			src := args[0]
			if len(args) == 2 {
				opts.Ref = args[1]
			}
			var r io.Reader = a.stdin
			if src != "-" {
				if strings.Contains(src, "://") {
					return fmt.Errorf("import %s: importing from a URL is not supported: download the file and import it", src)
				}
				f, err := os.Open(src)
				if err != nil {
					return fmt.Errorf("import: %w", err)
				}
				defer f.Close()
				r = f
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			img, err := e.Import(cmd.Context(), r, opts)
			if err != nil {
				return fmt.Errorf("import %s: %w", src, err)
			}
			fmt.Fprintln(a.stdout, img.ID.String())
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&opts.Changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	cmd.Flags().StringVarP(&opts.Message, "message", "m", "", "Set commit message for imported image")
	return cmd
}

// isTerminal reports whether f is a terminal.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && term.IsTerminal(int(file.Fd()))
}

func (a *app) newLoadCmd() *cobra.Command {
	var input string
	var quiet bool
	cmd := &cobra.Command{
		Use:                   "load [OPTIONS]",
		Short:                 "Load an image from a tar archive or STDIN",
		Args:                  argsExactly(0),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			r := a.stdin
			if input == "" {
				if isTerminal(a.stdin) {
					return errors.New("requested load from stdin, but stdin is empty")
				}
			} else {
				f, err := os.Open(input)
				if err != nil {
					return fmt.Errorf("load: %w", err)
				}
				defer f.Close()
				r = f
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			loaded, err := e.Load(cmd.Context(), r)
			for _, img := range loaded {
				if len(img.RepoTags) == 0 {
					fmt.Fprintln(a.stdout, "Loaded image ID:", img.ID.String())
				}
				for _, t := range img.RepoTags {
					fmt.Fprintln(a.stdout, "Loaded image:", engine.FamiliarName(t))
				}
			}
			return err // the images package names the operation
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "Read from tar archive file, instead of STDIN")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Suppress the load output")
	return cmd
}

func (a *app) newSaveCmd() *cobra.Command {
	var output, format string
	cmd := &cobra.Command{
		Use:                   "save [OPTIONS] IMAGE [IMAGE...]",
		Short:                 "Save one or more images to a tar archive (streamed to STDOUT by default)",
		Args:                  argsAtLeast(1),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			sf := engine.SaveFormat(format)
			if sf != engine.FormatDockerArchive && sf != engine.FormatOCIArchive {
				return fmt.Errorf("invalid --format %q: want %s or %s", format, engine.FormatDockerArchive, engine.FormatOCIArchive)
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			return a.writeArchive(output, func(w io.Writer) error { return e.Save(cmd.Context(), w, args, sf) })
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	cmd.Flags().StringVar(&format, "format", string(engine.FormatDockerArchive), "Archive format: docker-archive or oci-archive")
	return cmd
}

// writeArchive sends a tar archive to the file output, or to stdout when
// that is not a terminal (save, export).
func (a *app) writeArchive(output string, write func(io.Writer) error) error {
	if output != "" {
		return writeFileAtomic(output, write)
	}
	if isTerminal(a.stdout) {
		return errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")
	}
	return write(a.stdout)
}

// writeFileAtomic writes name through a temporary file next to it, so
// that a failed save leaves no partial archive behind.
func writeFileAtomic(name string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp-")
	if err != nil {
		return fmt.Errorf("save to %s: %w", name, err)
	}
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), name)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("save to %s: %w", name, err)
	}
	return nil
}

func (a *app) newTagCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		Args:  argsExactly(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			return e.Tag(cmd.Context(), args[0], args[1])
		},
	}
}

// ---- rmi, prune ----

func (a *app) newRmiCmd(use string) *cobra.Command {
	var force, noPrune bool
	cmd := &cobra.Command{
		Use:                   use + " [OPTIONS] IMAGE [IMAGE...]",
		Short:                 "Remove one or more images",
		Args:                  argsAtLeast(1),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			var errs []error
			for _, name := range args {
				deleted, err := e.RemoveImage(cmd.Context(), name, force)
				writeDeleted(a.stdout, deleted, "Untagged: ", "Deleted: ")
				if err != nil {
					errs = append(errs, err)
				}
			}
			return a.failed(errs)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force removal of the image")
	cmd.Flags().BoolVar(&noPrune, "no-prune", false, "Do not delete untagged parents (berth images have none)")
	return cmd
}

func writeDeleted(w io.Writer, deleted []engine.ImageDeleted, untagged, removed string) {
	for _, d := range deleted {
		if d.Untagged != "" {
			fmt.Fprintln(w, untagged+engine.FamiliarName(d.Untagged))
		}
		if d.Deleted != "" {
			fmt.Fprintln(w, removed+d.Deleted)
		}
	}
}

func (a *app) newImagePruneCmd() *cobra.Command {
	var all, force bool
	cmd := &cobra.Command{
		Use:                   "prune [OPTIONS]",
		Short:                 "Remove unused images",
		Args:                  argsExactly(0),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force {
				warning := "WARNING! This will remove all dangling images."
				if all {
					warning = "WARNING! This will remove all images without at least one container associated to them."
				}
				ok, err := a.confirm(warning + "\nAre you sure you want to continue?")
				if err != nil || !ok {
					return err
				}
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			deleted, reclaimed, err := e.PruneImages(cmd.Context(), all)
			if len(deleted) > 0 {
				fmt.Fprintln(a.stdout, "Deleted Images:")
				writeDeleted(a.stdout, deleted, "untagged: ", "deleted: ")
				fmt.Fprintln(a.stdout)
			}
			fmt.Fprintln(a.stdout, "Total reclaimed space:", units.HumanSize(float64(reclaimed)))
			if err != nil {
				return fmt.Errorf("prune images: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused images, not just dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	return cmd
}

// ---- history ----

const historyDefaultTable = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"

var historyHeaders = map[string]string{
	"Comment":      "COMMENT",
	"CreatedAt":    "CREATED AT",
	"CreatedBy":    "CREATED BY",
	"CreatedSince": "CREATED",
	"ID":           "IMAGE",
	"Size":         "SIZE",
}

// historyRow is one line of `history`, fields in alphabetical order.
type historyRow struct {
	Comment      string
	CreatedAt    string
	CreatedBy    string
	CreatedSince string
	ID           string
	Size         string
}

func newHistoryRow(h engine.HistoryEntry, human, trunc bool, now time.Time) historyRow {
	r := historyRow{Comment: h.Comment, ID: h.ID}
	if trunc && h.ID != "<missing>" {
		r.ID = imageID(h.ID, true)
	}
	if !h.Created.IsZero() {
		r.CreatedAt = time.Unix(h.Created.Unix(), 0).Format(time.RFC3339)
	}
	switch {
	case h.Created.IsZero():
		r.CreatedSince = notApplicable
	case human:
		r.CreatedSince = humanAgo(h.Created, now)
	default:
		r.CreatedSince = r.CreatedAt
	}
	r.CreatedBy = strings.ReplaceAll(h.CreatedBy, "\t", " ")
	if trunc {
		r.CreatedBy = ellipsis(r.CreatedBy, 45)
	}
	if human {
		r.Size = humanSize(h.Size)
	} else {
		r.Size = strconv.FormatInt(h.Size, 10)
	}
	return r
}

func (a *app) newHistoryCmd() *cobra.Command {
	var human, noTrunc, quiet bool
	var format string
	cmd := &cobra.Command{
		Use:                   "history [OPTIONS] IMAGE",
		Short:                 "Show the history of an image",
		Args:                  argsExactly(1),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			hist, err := e.ImageHistory(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			now := time.Now()
			rows := make([]any, len(hist))
			for i, h := range hist {
				rows[i] = newHistoryRow(h, human, !noTrunc, now)
			}
			if quiet {
				format = "{{.ID}}"
			}
			lf, err := parseListFormat(format, historyDefaultTable)
			if err != nil {
				return err
			}
			return lf.write(a.stdout, historyHeaders, rows)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&format, "format", "", "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template")
	fl.BoolVarP(&human, "human", "H", true, "Print sizes and dates in human readable format")
	fl.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	fl.BoolVarP(&quiet, "quiet", "q", false, "Only show image IDs")
	return cmd
}

// ---- inspect ----

// imageView is an image as `docker inspect` shows it.
type imageView struct {
	ID            string      `json:"Id"`
	RepoTags      []string    `json:"RepoTags"`
	RepoDigests   []string    `json:"RepoDigests"`
	Parent        string      `json:"Parent"`
	Comment       string      `json:"Comment"`
	Created       time.Time   `json:"Created"`
	DockerVersion string      `json:"DockerVersion"`
	Author        string      `json:"Author"`
	Config        *v1.Config  `json:"Config"`
	Architecture  string      `json:"Architecture"`
	Variant       string      `json:"Variant,omitempty"`
	Os            string      `json:"Os"`
	Size          int64       `json:"Size"`
	GraphDriver   graphDriver `json:"GraphDriver"`
	RootFS        rootFSView  `json:"RootFS"`
	Metadata      struct {
		LastTagTime time.Time `json:"LastTagTime"`
	} `json:"Metadata"`
}

type rootFSView struct {
	Type   string   `json:"Type"`
	Layers []string `json:"Layers"`
}

func newImageView(img *engine.Image) imageView {
	v := imageView{
		ID:          img.ID.String(),
		RepoTags:    familiarAll(img.RepoTags),
		RepoDigests: familiarAll(img.RepoDigests),
		Created:     img.Created,
		Size:        img.Size,
		GraphDriver: graphDriver{Name: "overlay", Data: map[string]string{}},
		RootFS:      rootFSView{Type: "layers", Layers: []string{}},
	}
	for _, d := range img.DiffIDs {
		v.RootFS.Layers = append(v.RootFS.Layers, d.String())
	}
	if cf := img.Config; cf != nil {
		cfg := cf.Config
		v.Config = &cfg
		v.Architecture, v.Variant, v.Os = cf.Architecture, cf.Variant, cf.OS
		v.Author, v.DockerVersion = cf.Author, cf.DockerVersion
		if n := len(cf.History); n > 0 {
			v.Comment = cf.History[n-1].Comment
		}
	}
	return v
}

func familiarAll(refs []string) []string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = engine.FamiliarName(r)
	}
	return out
}
