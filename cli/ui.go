package cli

import (
	"errors"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"berth/engine"
	"berth/errdefs"
)

func (a *app) uiCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "ui",
		Short: "Open the terminal workstation (also: berth with no arguments on a terminal)",
		Args:  argsExactly(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runUI(cmd)
		},
	}
}

// runUI opens the full-screen UI on this terminal.
func (a *app) runUI(cmd *cobra.Command) error {
	in, ok1 := a.stdin.(*os.File)
	out, ok2 := a.stdout.(*os.File)
	if !ok1 || !ok2 || !term.IsTerminal(int(in.Fd())) || !term.IsTerminal(int(out.Fd())) {
		return errors.New("the UI needs a terminal: use the commands (berth --help) in scripts")
	}
	e, err := a.engine()
	if err != nil {
		return err
	}
	if a.openUI == nil {
		return errors.New("this build of berth has no UI")
	}
	// NO_COLOR set to anything but empty asks for no colour (no-color.org).
	return a.openUI(cmd.Context(), e, os.Getenv("NO_COLOR") != "")
}

// ParseRunArgs reads `berth run` arguments (flags, image, command) into
// engine options for a container started detached, as `run -d` would;
// the UI's run form hands its fields over this way.
func ParseRunArgs(args []string) (engine.CreateOptions, error) {
	var f createFlags
	var detach bool
	cmd := &cobra.Command{Use: "run"}
	f.register(cmd)
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "")
	if err := cmd.ParseFlags(args); err != nil {
		return engine.CreateOptions{}, errdefs.InvalidArgument("%v", err)
	}
	pos := cmd.Flags().Args()
	if len(pos) == 0 {
		return engine.CreateOptions{}, errdefs.InvalidArgument("an image is needed")
	}
	return f.options(cmd, pos, true)
}
