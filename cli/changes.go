package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"berth/engine"
	"berth/errdefs"
)

// addChangesCommands adds diff, commit, cp and export at the top level and
// under `berth container`.
func (a *app) addChangesCommands(root *cobra.Command) {
	root.AddCommand(a.newDiffCmd(), a.newCommitCmd(), a.newCpCmd(), a.newExportCmd())
	parentCommand(root, "container", "Manage containers").AddCommand(
		a.newDiffCmd(), a.newCommitCmd(), a.newCpCmd(), a.newExportCmd())
}

func (a *app) newDiffCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "diff CONTAINER",
		Short: "Inspect changes to files or directories on a container's filesystem",
		Args:  argsExactly(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			cs, err := e.Diff(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			var b strings.Builder
			for _, c := range cs {
				b.WriteString(c.String())
				b.WriteByte('\n')
			}
			_, err = io.WriteString(a.stdout, b.String())
			return err
		},
	}
}

func (a *app) newCommitCmd() *cobra.Command {
	var opts engine.CommitOptions
	cmd := &cobra.Command{
		Use:                   "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Short:                 "Create a new image from a container's changes",
		Args:                  argsBetween(1, 2),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 2 {
				opts.Ref = args[1]
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			img, err := e.Commit(cmd.Context(), args[0], opts)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, img.ID.String())
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.Author, "author", "a", "", `Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")`)
	fl.StringArrayVarP(&opts.Changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	fl.StringVarP(&opts.Comment, "message", "m", "", "Commit message")
	fl.BoolVarP(&opts.Pause, "pause", "p", true, "Pause container during commit")
	return cmd
}

// splitCpArg splits a cp argument into container and path as Docker does:
// an absolute path, or one starting with "." before its ":", is local.
func splitCpArg(arg string) (container, p string) {
	if strings.HasPrefix(arg, "/") {
		return "", arg
	}
	c, rest, ok := strings.Cut(arg, ":")
	if !ok || c == "" || strings.HasPrefix(c, ".") {
		return "", arg
	}
	return c, rest
}

// containerPath makes a container path absolute (a relative one is taken
// from the container's working directory, as Docker does), keeping a
// trailing "/" or "/." that changes its meaning.
func containerPath(workdir, p string) string {
	if path.IsAbs(p) {
		return p
	}
	if workdir == "" {
		workdir = "/"
	}
	suffix := ""
	switch {
	case p == "." || strings.HasSuffix(p, "/."):
		suffix = "/."
	case strings.HasSuffix(p, "/"):
		suffix = "/"
	}
	j := path.Join(workdir, p)
	if suffix != "" && j != "/" {
		j += suffix
	} else if suffix == "/." {
		j = "/."
	}
	return j
}

// localPath makes a local path absolute, keeping a trailing "/" or "/.".
func localPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	switch {
	case p == "." || strings.HasSuffix(p, "/."):
		if abs != "/" {
			abs += "/."
		} else {
			abs = "/."
		}
	case strings.HasSuffix(p, "/") && abs != "/":
		abs += "/"
	}
	return abs, nil
}

func (a *app) newCpCmd() *cobra.Command {
	var archive, follow, quiet bool
	cmd := &cobra.Command{
		Use:   "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n  berth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
		Short: "Copy files/folders between a container and the local filesystem",
		Long: `Copy files/folders between a container and the local filesystem

Use '-' as the source to read a tar archive from stdin
and extract it to a directory destination in a container.
Use '-' as the destination to stream a tar archive of a
container source to stdout.

Modes, owners, modification times and extended attributes are kept both
ways (-a is accepted for compatibility; berth keeps owners anyway, where
the user running it may set them).`,
		Args:                  argsExactly(2),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			srcC, src := splitCpArg(args[0])
			dstC, dst := splitCpArg(args[1])
			switch {
			case srcC != "" && dstC != "":
				return errors.New("copying between containers is not supported")
			case srcC == "" && dstC == "":
				return errors.New("must specify at least one container source")
			}
			if src == "" || dst == "" {
				return errors.New("filepath cannot be empty")
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			if srcC != "" {
				return a.cpFrom(cmd, e, srcC, src, dst, follow)
			}
			return a.cpTo(cmd, e, src, dstC, dst, follow)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&archive, "archive", "a", false, "Archive mode (copy all uid/gid information)")
	fl.BoolVarP(&follow, "follow-link", "L", false, "Always follow symbol link in SRC_PATH")
	fl.BoolVarP(&quiet, "quiet", "q", false, "Suppress progress output during copy (berth prints none)")
	return cmd
}

func (a *app) cpFrom(cmd *cobra.Command, e *engine.Engine, ref, src, dst string, follow bool) error {
	ctx := cmd.Context()
	c, err := e.Get(ctx, ref)
	if err != nil {
		return err
	}
	src = containerPath(c.Config.WorkingDir, src)
	opts := engine.CopyOptions{FollowLink: follow}
	if dst == "-" {
		return e.CopyFromContainer(ctx, c.ID, src, a.stdout, opts)
	}
	local, err := localPath(dst)
	if err != nil {
		return err
	}
	return e.CopyToHost(ctx, c.ID, src, local, opts)
}

func (a *app) cpTo(cmd *cobra.Command, e *engine.Engine, src, ref, dst string, follow bool) error {
	ctx := cmd.Context()
	c, err := e.Get(ctx, ref)
	if err != nil {
		return err
	}
	dst = containerPath(c.Config.WorkingDir, dst)
	if src == "-" {
		if isTerminal(a.stdin) {
			return errors.New("cp: a tar archive is expected on stdin, not a terminal")
		}
		return e.CopyToContainer(ctx, c.ID, dst, a.stdin, engine.CopyOptions{Archive: true})
	}
	local, err := localPath(src)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(strings.TrimSuffix(strings.TrimSuffix(local, "/."), "/")); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return errdefs.NotFound("no such file or directory: %s", src)
		}
		return err
	}
	return e.CopyFromHost(ctx, local, c.ID, dst, engine.CopyOptions{FollowLink: follow})
}

func (a *app) newExportCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:                   "export [OPTIONS] CONTAINER",
		Short:                 "Export a container's filesystem as a tar archive",
		Args:                  argsExactly(1),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			return a.writeArchive(output, func(w io.Writer) error { return e.Export(cmd.Context(), args[0], w) })
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}
