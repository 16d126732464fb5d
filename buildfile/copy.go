package buildfile

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"berth/buildfile/buildctx"
	"berth/containers"
	"berth/images"
)

// copySpec is a COPY or ADD, flags included.
type copySpec struct {
	instructions.SourcesAndDest
	name     string // COPY or ADD
	add      bool
	from     string
	chown    string
	chmod    string
	excludes []string
	parents  bool
	link     bool
	checksum string // ADD --checksum
	unpack   *bool  // ADD --unpack
	keepGit  bool
}

// copyGroup is sources read from one place: the build context, another
// stage's or image's root, or a directory of downloads or inline files.
type copyGroup struct {
	srcs []string
	opts buildctx.CopyOptions
	key  string
	// with runs fn on the place, mounted or opened as needed.
	with func(ctx context.Context, fn func(*buildctx.Context) error) error
}

// copy prepares a COPY or ADD. Its cache key holds the checksum of what it
// copies from the context (content and metadata, not times) or, from a
// stage or image, that image's ID: the cached path reads no image.
func (r *stageRun) copy(ctx context.Context, c copySpec) (step, error) {
	switch {
	case len(c.excludes) > 0:
		return step{}, fmt.Errorf("%s --exclude is not supported by berth build", c.name)
	case c.parents:
		return step{}, fmt.Errorf("%s --parents is not supported by berth build", c.name)
	}
	wd := r.cfg.WorkingDir
	if wd == "" {
		wd = "/"
	}
	opts := buildctx.CopyOptions{Workdir: wd, Add: c.add && (c.unpack == nil || *c.unpack), Link: c.link}
	if c.chown != "" {
		o, err := r.chownIDs(ctx, c.chown)
		if err != nil {
			return step{}, err
		}
		opts.Chown = &o
	}
	if c.chmod != "" {
		m, err := parseChmod(c.chmod)
		if err != nil {
			return step{}, err
		}
		opts.Chmod = &m
	}
	createdBy := c.name
	if c.chown != "" {
		createdBy += " --chown=" + c.chown
	}
	if c.chmod != "" {
		createdBy += " --chmod=" + c.chmod
	}
	dest := c.DestPath
	if len(c.SourcePaths)+len(c.SourceContents) > 1 && !strings.HasSuffix(dest, "/") {
		dest += "/" // several sources go into a directory
	}

	var groups []copyGroup
	var cleanups []func()
	cleanup := func() {
		for _, f := range cleanups {
			f()
		}
	}
	fail := func(err error) (step, error) {
		cleanup()
		return step{}, err
	}
	var local []string
	for _, src := range c.SourcePaths {
		createdBy += " " + src
		if isGitSource(src) {
			return fail(fmt.Errorf("%s from a git repository (%s) is not supported by berth build", c.name, src))
		}
		if isURL(src) {
			if !c.add {
				return fail(errors.New("source can't be a URL for COPY"))
			}
			g, done, err := r.download(ctx, src, c, opts)
			if done != nil {
				cleanups = append(cleanups, done)
			}
			if err != nil {
				return fail(err)
			}
			groups = append(groups, g)
			continue
		}
		local = append(local, src)
	}
	if c.checksum != "" && (len(c.SourcePaths) != 1 || len(local) > 0) {
		return fail(errors.New("checksum requires a single HTTP(S) source"))
	}
	if len(local) > 0 {
		g, err := r.localGroup(ctx, c.from, local, opts)
		if err != nil {
			return fail(err)
		}
		groups = append(groups, g)
	}
	if len(c.SourceContents) > 0 {
		g, done, err := r.inlineGroup(c.SourceContents, opts)
		if done != nil {
			cleanups = append(cleanups, done)
		}
		if err != nil {
			return fail(err)
		}
		groups = append(groups, g)
		for _, sc := range c.SourceContents {
			createdBy += " <<" + sc.Path
		}
	}
	createdBy += " " + c.DestPath + " # buildkit"

	var keys []string
	for _, g := range groups {
		keys = append(keys, g.key)
	}
	key, _ := json.Marshal(struct {
		Dest, Workdir string
		Chown         *buildctx.Owner
		Chmod         *os.FileMode
		Add           bool
		Sources       []string
	}{dest, wd, opts.Chown, opts.Chmod, opts.Add, keys})
	parent, e := r.parent, r.b.e
	return step{
		createdBy: createdBy, key: string(key), cleanup: cleanup,
		// dest resolves in the image as Docker resolves it: symlinks
		// followed inside it, an existing directory taken as one.
		layer: func(ctx context.Context, w io.Writer) error {
			return e.WithImageRoot(ctx, parent, func(base string) error {
				for i := range groups {
					groups[i].opts.Base = base
				}
				return writeGroups(ctx, w, groups, dest)
			})
		},
	}, nil
}

// localGroup reads sources from the build context, or from the root of
// the stage or image --from names.
func (r *stageRun) localGroup(ctx context.Context, from string, srcs []string, opts buildctx.CopyOptions) (copyGroup, error) {
	g := copyGroup{srcs: srcs, opts: opts}
	if from == "" {
		bc := r.b.o.Context
		sum, err := bc.Checksum(srcs, opts)
		if err != nil {
			return g, err
		}
		g.key = "context " + sum
		g.with = func(_ context.Context, fn func(*buildctx.Context) error) error { return fn(bc) }
		return g, nil
	}
	if strings.Contains(from, "$") {
		return g, errors.New("variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround")
	}
	var img *images.Image
	st, isStage, err := r.b.stageByRef(from, r.st)
	if err != nil {
		return g, err
	}
	if isStage {
		res, err := r.b.stageResult(ctx, st.index)
		if err != nil {
			return g, err
		}
		img = res.img
	} else if img, err = r.b.resolveImage(ctx, from); err != nil {
		return g, err
	}
	srcKey, _ := json.Marshal(srcs)
	g.key = "image scratch " + string(srcKey)
	if img != nil {
		g.key = "image " + img.ID.String() + " " + string(srcKey)
	}
	e := r.b.e
	g.with = func(ctx context.Context, fn func(*buildctx.Context) error) error {
		return e.WithImageRoot(ctx, img, func(root string) error { return fn(buildctx.FromRoot(root)) })
	}
	return g, nil
}

// inlineGroup writes COPY <<EOF documents as files (0644, as BuildKit
// makes them) in a directory of their own.
func (r *stageRun) inlineGroup(docs []instructions.SourceContent, opts buildctx.CopyOptions) (copyGroup, func(), error) {
	dir, err := r.b.e.TempDir("inline-")
	if err != nil {
		return copyGroup{}, nil, fmt.Errorf("inline files: %w", err)
	}
	done := func() { os.RemoveAll(dir) }
	opts.Add = false
	g := copyGroup{opts: opts}
	for _, d := range docs {
		name := path.Clean("/" + d.Path)[1:]
		if name == "" || strings.Contains(name, "/") {
			return g, done, fmt.Errorf("invalid inline file name %q", d.Path)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(d.Data), 0o644); err != nil {
			return g, done, fmt.Errorf("inline file %s: %w", name, err)
		}
		// The umask must not decide the mode.
		if err := os.Chmod(filepath.Join(dir, name), 0o644); err != nil {
			return g, done, err
		}
		g.srcs = append(g.srcs, name)
	}
	bc := buildctx.FromRoot(dir)
	sum, err := bc.Checksum(g.srcs, opts)
	if err != nil {
		return g, done, err
	}
	g.key = "inline " + sum
	g.with = func(_ context.Context, fn func(*buildctx.Context) error) error { return fn(bc) }
	return g, done, nil
}

// writeGroups writes the layer of a COPY or ADD: one group's tar as it
// comes, several groups' entries in one tar.
func writeGroups(ctx context.Context, w io.Writer, groups []copyGroup, dest string) error {
	if len(groups) == 1 {
		g := groups[0]
		return g.with(ctx, func(bc *buildctx.Context) error { return bc.WriteLayer(w, g.srcs, dest, g.opts) })
	}
	tw := tar.NewWriter(w)
	for _, g := range groups {
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			err := g.with(ctx, func(bc *buildctx.Context) error { return bc.WriteLayer(pw, g.srcs, dest, g.opts) })
			pw.CloseWithError(err)
			done <- err
		}()
		err := copyEntries(tw, tar.NewReader(pr))
		pr.CloseWithError(errors.New("layer ended"))
		if gerr := <-done; gerr != nil {
			return gerr
		}
		if err != nil {
			return err
		}
	}
	return tw.Close()
}

func copyEntries(tw *tar.Writer, tr *tar.Reader) error {
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}

// chownIDs resolves --chown: names in the image's /etc/passwd and
// /etc/group; a user without a group takes the user's primary group, a
// bare uid the same number as gid (as Docker does).
func (r *stageRun) chownIDs(ctx context.Context, spec string) (buildctx.Owner, error) {
	u, g, hasGroup := strings.Cut(spec, ":")
	uid, uerr := strconv.Atoi(u)
	gid, gerr := strconv.Atoi(g)
	if uerr == nil && uid >= 0 && (!hasGroup || (gerr == nil && gid >= 0)) {
		if !hasGroup {
			gid = uid
		}
		return buildctx.Owner{UID: uid, GID: gid}, nil
	}
	lowers, err := r.imageLowers(ctx)
	if err != nil {
		return buildctx.Owner{}, err
	}
	cu, err := containers.LookupUser(lowers, spec, nil)
	if err != nil {
		return buildctx.Owner{}, fmt.Errorf("unable to convert uid/gid chown string to host mapping: %w", err)
	}
	o := buildctx.Owner{UID: int(cu.UID), GID: int(cu.GID)}
	if uerr == nil && !hasGroup {
		o.GID = o.UID
	}
	return o, nil
}

// parseChmod reads --chmod: octal, as BuildKit takes it.
func parseChmod(s string) (os.FileMode, error) {
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o7777 {
		return 0, fmt.Errorf("invalid chmod parameter: '%v'. it should be octal string and between 0 and 07777", s)
	}
	m := os.FileMode(n & 0o777)
	if n&0o4000 != 0 {
		m |= os.ModeSetuid
	}
	if n&0o2000 != 0 {
		m |= os.ModeSetgid
	}
	if n&0o1000 != 0 {
		m |= os.ModeSticky
	}
	return m, nil
}

func isURL(s string) bool { return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") }

// isGitSource recognises the git sources ADD takes in Docker (a remote
// repository, not fetched here).
func isGitSource(s string) bool {
	if strings.HasPrefix(s, "git@") || strings.HasPrefix(s, "git://") || strings.HasPrefix(s, "ssh://") {
		return true
	}
	u, _, _ := strings.Cut(s, "#")
	return isURL(s) && strings.HasSuffix(u, ".git")
}

// mkdirLayer writes the layer that makes WORKDIR wd: the directories of
// its path the image lacks (symlinks on the way resolved inside the
// image), owned by user. An image that has it all gives an empty layer.
func (b *build) mkdirLayer(ctx context.Context, parent *images.Image, wd, user string, w io.Writer) error {
	tw := tar.NewWriter(w)
	err := b.e.WithImageRoot(ctx, parent, func(root string) error {
		full, err := securejoin.SecureJoin(root, wd)
		if err != nil {
			return fmt.Errorf("resolve %s: %w", wd, err)
		}
		rel := strings.Trim(strings.TrimPrefix(full, root), "/")
		if rel == "" {
			return nil
		}
		parts := strings.Split(rel, "/")
		missing := -1
		for i := range parts {
			p := filepath.Join(root, filepath.Join(parts[:i+1]...))
			fi, err := os.Lstat(p)
			if errors.Is(err, os.ErrNotExist) {
				missing = i
				break
			}
			if err != nil {
				return err
			}
			if !fi.IsDir() {
				return fmt.Errorf("mkdir %s: not a directory", path.Join(append([]string{"/"}, parts[:i+1]...)...))
			}
		}
		if missing < 0 {
			return nil
		}
		var uid, gid int
		if user != "" {
			if u, err := containers.LookupUser([]string{root}, user, nil); err == nil {
				uid, gid = int(u.UID), int(u.GID)
			}
		}
		now := time.Now().Truncate(time.Second)
		for i := missing; i < len(parts); i++ {
			hdr := &tar.Header{
				Typeflag: tar.TypeDir, Name: strings.Join(parts[:i+1], "/") + "/", Mode: 0o755,
				Uid: uid, Gid: gid, ModTime: now, Format: tar.FormatPAX,
			}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// parsePort reads one EXPOSE word ([ip:][public:]private[-end][/proto])
// as the "port/proto" entries of the image's ExposedPorts.
func parsePort(s string) ([]string, error) {
	rest, proto, _ := strings.Cut(s, "/")
	if proto == "" {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	switch proto {
	case "tcp", "udp", "sctp":
	default:
		return nil, fmt.Errorf("invalid proto: %s", proto)
	}
	if i := strings.LastIndex(rest, ":"); i >= 0 {
		rest = rest[i+1:]
	}
	lo, hi, isRange := strings.Cut(rest, "-")
	start, err := strconv.ParseUint(lo, 10, 16)
	if err != nil || start == 0 {
		return nil, fmt.Errorf("invalid containerPort: %s", s)
	}
	end := start
	if isRange {
		if end, err = strconv.ParseUint(hi, 10, 16); err != nil || end < start {
			return nil, fmt.Errorf("invalid containerPort: %s", s)
		}
	}
	var out []string
	for p := start; p <= end; p++ {
		out = append(out, fmt.Sprintf("%d/%s", p, proto))
	}
	return out, nil
}
