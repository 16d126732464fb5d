package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"berth/engine"
)

// bootFailed is the exit status of a boot that could not start every
// container it should have (the others are started).
const bootFailed = 1

func (a *app) newSystemBootCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "boot",
		Short: "Start the containers whose restart policy says so, after the machine started",
		Long: `Bring containers back after the machine restarted, as Docker's daemon does
when it starts: berth has no daemon, so systemd or cron runs this at boot.

Containers that were running when the machine went down are recorded as
exited first. Then, of those that have run before: "always" starts (even
if a user had stopped it), "unless-stopped" starts unless a user had
stopped it, "on-failure" and "no" stay down; --rm containers are removed.
Running it again, or while containers run, starts nothing twice.

One line per container with a restart policy (or that was settled or
removed), then a summary. Exit status: 0 done; 1 a container did not start
(the others did), or the boot could not run.`,
		Args: argsExactly(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			res, err := e.Boot(cmd.Context())
			werr := writeBoot(a.stdout, res)
			if err != nil {
				return err
			}
			if werr != nil {
				return werr
			}
			failed := 0
			for _, r := range res {
				if r.Action == engine.BootFailed {
					failed++
					fmt.Fprintf(a.stderr, "berth: %s: %v\n", r.Name, r.Err)
				}
			}
			if failed > 0 {
				return &statusError{code: bootFailed}
			}
			return nil
		},
	}
}

// writeBoot prints what Boot did: a table, then a summary line.
func writeBoot(w io.Writer, res []engine.BootResult) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	if len(res) > 0 {
		fmt.Fprintln(tw, "CONTAINER\tACTION\tRESTART POLICY\tNOTE")
	}
	n := map[engine.BootAction]int{}
	for _, r := range res {
		n[r.Action]++
		policy := r.Policy.Name
		if r.Policy.Name == "on-failure" && r.Policy.MaximumRetryCount > 0 {
			policy = fmt.Sprintf("on-failure:%d", r.Policy.MaximumRetryCount)
		}
		var notes []string
		if r.Settled {
			notes = append(notes, fmt.Sprintf("its monitor had died (a reboot): recorded as exited (%d)", r.ExitCode))
		}
		switch {
		case r.Action == engine.BootFailed:
			notes = append(notes, "did not start: "+oneLine(r.Err.Error()))
		case r.Action == engine.BootRemoved:
			notes = append(notes, "--rm")
		case r.Reason != "":
			notes = append(notes, r.Reason)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, r.Action, policy, strings.Join(notes, "; "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "boot: %d started, %d running already, %d down, %d removed, %d failed\n",
		n[engine.BootStarted], n[engine.BootRunning], n[engine.BootDown], n[engine.BootRemoved], n[engine.BootFailed])
	return err
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }
