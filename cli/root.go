// Package cli is berth's docker-compatible command line: each command maps
// onto one engine call. Errors map to exit codes and messages in one place
// (errors.go).
package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"berth/engine"
	"berth/internal/trace"
)

// Version is berth's version, set at build time with -ldflags.
var Version = "0.1.0-dev"

// app is what every command shares: the streams and the engine, opened on
// first use.
type app struct {
	openUI UIFunc
	root   string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	eng    *engine.Engine
}

func (a *app) engine() (*engine.Engine, error) { return a.openEngine(engine.Options{}) }

// engineToRun opens the engine for a command that starts a container at
// once (run): the container's monitor starts while the stores open.
func (a *app) engineToRun() (*engine.Engine, error) {
	return a.openEngine(engine.Options{StartSoon: true})
}

func (a *app) openEngine(opts engine.Options) (*engine.Engine, error) {
	if a.eng == nil {
		trace.Mark("cli: command parsed")
		e, err := engine.New(a.root, opts)
		if err != nil {
			return nil, err
		}
		a.eng = e
	}
	return a.eng, nil
}

// UIFunc opens the terminal UI on e. The CLI does not depend on the UI:
// main hands it over, so `berth ui` and berth alone can open it.
type UIFunc func(ctx context.Context, e *engine.Engine, noColor bool) error

// Main runs the command line with args and returns the exit code.
func Main(args []string, openUI UIFunc) int {
	a := &app{openUI: openUI, stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
	root := a.newRootCmd()
	root.SetArgs(args)
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	code, msg := exitCode(cmd, err)
	if msg != "" {
		fmt.Fprintln(a.stderr, msg)
	}
	return code
}

func (a *app) newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "berth",
		Short:         "A daemonless container workstation",
		Long:          "berth runs containers without a daemon, with the Docker command line you know.",
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       Version,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// On a terminal, berth alone opens the workstation.
			if f, ok := a.stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				if in, ok := a.stdin.(*os.File); ok && term.IsTerminal(int(in.Fd())) {
					return a.runUI(cmd)
				}
			}
			return cmd.Help()
		},
	}
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	def := os.Getenv("BERTH_ROOT")
	if def == "" {
		def = engine.DefaultRoot
	}
	root.PersistentFlags().StringVar(&a.root, "root", def, "state directory (also BERTH_ROOT)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &flagError{cmd: c.CommandPath(), err: err}
	})
	a.addRunCommands(root)        // run.go: run, create, start, attach, exec
	a.addContainerCommands(root)  // containers.go: ps, stop, kill, rm, logs, ...
	a.addImageCommands(root)      // images.go: images, import, load, save, ...
	a.addSystemCommands(root)     // system.go: version, info
	a.addChangesCommands(root)    // changes.go: diff, commit, cp, export
	a.addEventsCommands(root)     // events.go: events, system events
	a.addResourceCommands(root)   // resources.go: update, pause, unpause, stats
	a.addSystemDiskCommands(root) // systemdf.go: system df, system prune
	root.AddCommand(a.uiCmd())    // ui.go: the terminal workstation
	root.AddCommand(a.buildCmd()) // build.go: Dockerfile builds
	parentCommand(root, "image", "Manage images").AddCommand(a.buildCmd())
	return root
}
