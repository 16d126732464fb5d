package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"berth/engine"
)

const dfDefaultTable = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"

var dfHeaders = map[string]string{
	"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE",
}

// dfRow is one line of system df, with Docker's field names.
type dfRow struct {
	Type        string
	TotalCount  int
	Active      int
	Size        string
	Reclaimable string
}

func reclaimable(n, of int64) string {
	if of == 0 {
		return humanSize(n)
	}
	return fmt.Sprintf("%s (%d%%)", humanSize(n), n*100/of)
}

// dfRows summarises disk usage as docker system df does.
func dfRows(du *engine.DiskUsage) []any {
	activeImages := 0
	for _, iu := range du.Images {
		if iu.Containers > 0 {
			activeImages++
		}
	}
	var cSize, cReclaim int64
	activeContainers := 0
	for _, cu := range du.Containers {
		cSize += cu.Size
		if cu.Running {
			activeContainers++
		} else {
			cReclaim += cu.Size
		}
	}
	return []any{
		dfRow{"Images", len(du.Images), activeImages, humanSize(du.Layers), reclaimable(du.LayersReclaimable, du.Layers)},
		dfRow{"Containers", len(du.Containers), activeContainers, humanSize(cSize), reclaimable(cReclaim, cSize)},
		dfRow{"Local Volumes", 0, 0, humanSize(0), humanSize(0)},
		dfRow{"Build Cache", len(du.BuildCache), 0, humanSize(du.BuildCacheSize), humanSize(du.BuildCacheSize)},
	}
}

func (a *app) addSystemDiskCommands(root *cobra.Command) {
	system := parentCommand(root, "system", "Manage berth")
	system.AddCommand(a.newSystemDfCmd(), a.newSystemPruneCmd())
	parentCommand(root, "builder", "Manage builds").AddCommand(a.newBuilderPruneCmd())
}

// newBuilderPruneCmd is `builder prune`: the build cache goes, images
// built and tagged stay.
func (a *app) newBuilderPruneCmd() *cobra.Command {
	var force, all bool
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove build cache",
		Args:  argsExactly(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force {
				ok, err := a.confirm("WARNING! This will remove all dangling build cache.\nAre you sure you want to continue?")
				if err != nil || !ok {
					return err
				}
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			n, freed, err := e.PruneBuildCache(cmd.Context())
			if err != nil {
				return err
			}
			if n > 0 {
				fmt.Fprintf(a.stdout, "Deleted build cache objects: %d\n\n", n)
			}
			fmt.Fprintln(a.stdout, "Total reclaimed space:", humanSize(freed))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused build cache, not just dangling ones (the same here: berth's cache is all of one kind)")
	return cmd
}

func (a *app) newSystemDfCmd() *cobra.Command {
	var format string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "df [OPTIONS]",
		Short: "Show berth disk usage",
		Args:  argsExactly(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			du, err := e.DiskUsage(cmd.Context())
			if err != nil {
				return err
			}
			lf, err := parseListFormat(format, dfDefaultTable)
			if err != nil {
				return err
			}
			if err := lf.write(a.stdout, dfHeaders, dfRows(du)); err != nil {
				return err
			}
			if verbose {
				fmt.Fprintln(a.stdout, "\nContainers space usage:")
				for _, cu := range du.Containers {
					state := "exited"
					if cu.Running {
						state = "running"
					}
					fmt.Fprintf(a.stdout, "%s\t%s\t%s\t%s\n", engine.ShortID(cu.ID), cu.Name, state, humanSize(cu.Size))
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "Format output using a custom template")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "Show detailed information on space usage")
	return cmd
}

func (a *app) newSystemPruneCmd() *cobra.Command {
	var all, force bool
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused data",
		Args:  argsExactly(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force {
				what := "  - all stopped containers\n  - all dangling images\n  - all build cache\n"
				if all {
					what = "  - all stopped containers\n  - all images without at least one container associated to them\n  - all build cache\n"
				}
				ok, err := a.confirm("WARNING! This will remove:\n" + what + "\nAre you sure you want to continue?")
				if err != nil || !ok {
					return err
				}
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			gone, reclaimed, err := e.PruneContainers(ctx)
			if len(gone) > 0 {
				fmt.Fprintln(a.stdout, "Deleted Containers:")
				for _, id := range gone {
					fmt.Fprintln(a.stdout, id)
				}
				fmt.Fprintln(a.stdout)
			}
			if err != nil {
				return err
			}
			deleted, freed, err := e.PruneImages(ctx, all)
			if len(deleted) > 0 {
				fmt.Fprintln(a.stdout, "Deleted Images:")
				for _, d := range deleted {
					if d.Untagged != "" {
						fmt.Fprintln(a.stdout, "untagged:", d.Untagged)
					}
					if d.Deleted != "" {
						fmt.Fprintln(a.stdout, "deleted:", d.Deleted)
					}
				}
				fmt.Fprintln(a.stdout)
			}
			if err != nil {
				return err
			}
			n, cached, err := e.PruneBuildCache(ctx)
			if n > 0 {
				fmt.Fprintf(a.stdout, "Deleted build cache objects: %d\n\n", n)
			}
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, "Total reclaimed space:", humanSize(reclaimed+freed+cached))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused images not just dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	return cmd
}
