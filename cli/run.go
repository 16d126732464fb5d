package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"berth/engine"
	"berth/errdefs"
	"berth/internal/trace"
)

func (a *app) addRunCommands(root *cobra.Command) {
	root.AddCommand(a.runCmd(), a.createCmd(), a.startCmd(), a.attachCmd(), a.execCmd())
	parentCommand(root, "container", "Manage containers").AddCommand(
		a.runCmd(), a.createCmd(), a.startCmd(), a.attachCmd(), a.execCmd())
}

// createFlags are the flags run and create share.
type createFlags struct {
	interactive, tty, rm, privileged, readOnly bool
	init                                       bool
	name, workdir, user, entrypoint, hostname  string
	network, detachKeys, logDriver, stopSignal string
	stopTimeout                                int
	env, envFile, labels, logOpts, securityOpt []string
	capAdd, capDrop                            []string
	devices, deviceCgroupRules                 []string
	sysctls                                    []string
	res                                        resourceFlags
	host                                       hostFlags // runflags.go
	health                                     healthFlags
}

func (f *createFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.SetInterspersed(false) // everything after the image is the command's
	fl.BoolVarP(&f.interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	fl.BoolVarP(&f.tty, "tty", "t", false, "Allocate a pseudo-TTY")
	fl.BoolVar(&f.rm, "rm", false, "Automatically remove the container when it exits")
	fl.StringVar(&f.name, "name", "", "Assign a name to the container")
	fl.StringArrayVarP(&f.env, "env", "e", nil, "Set environment variables")
	fl.StringArrayVar(&f.envFile, "env-file", nil, "Read in a file of environment variables")
	fl.StringVarP(&f.workdir, "workdir", "w", "", "Working directory inside the container")
	fl.StringVarP(&f.user, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	fl.StringVar(&f.entrypoint, "entrypoint", "", "Overwrite the default ENTRYPOINT of the image")
	fl.StringVarP(&f.hostname, "hostname", "h", "", "Container host name")
	fl.StringArrayVarP(&f.labels, "label", "l", nil, "Set meta data on a container")
	fl.StringVar(&f.network, "network", "none", "Connect a container to a network (none or host)")
	fl.StringVar(&f.network, "net", "none", "Connect a container to a network")
	_ = fl.MarkHidden("net")
	fl.StringVar(&f.detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	fl.StringSliceVar(&f.capAdd, "cap-add", nil, "Add Linux capabilities")
	fl.StringSliceVar(&f.capDrop, "cap-drop", nil, "Drop Linux capabilities")
	fl.BoolVar(&f.privileged, "privileged", false, "Give extended privileges to this container")
	fl.StringArrayVar(&f.devices, "device", nil, "Add a host device to the container (HOST[:CONTAINER][:rwm])")
	fl.StringArrayVar(&f.deviceCgroupRules, "device-cgroup-rule", nil, "Add a rule to the cgroup allowed devices list (e.g. 'c 1:3 mr')")
	fl.BoolVar(&f.readOnly, "read-only", false, "Mount the container's root filesystem as read only")
	fl.StringArrayVar(&f.logOpts, "log-opt", nil, "Log driver options (max-size, max-file)")
	fl.StringVar(&f.logDriver, "log-driver", "json-file", "Logging driver for the container")
	fl.StringArrayVar(&f.securityOpt, "security-opt", nil, "Security options (no-new-privileges, seccomp=unconfined|PROFILE.json)")
	fl.StringArrayVar(&f.sysctls, "sysctl", nil, "Sysctl options of the container's own namespaces (KEY=VALUE)")
	fl.StringVar(&f.stopSignal, "stop-signal", "", "Signal to stop the container")
	fl.IntVar(&f.stopTimeout, "stop-timeout", 0, "Timeout (in seconds) to stop a container")
	fl.BoolVar(&f.init, "init", false, "Run an init inside the container that forwards signals and reaps processes")
	f.res.register(cmd, true)
	f.host.register(cmd)
	f.health.register(cmd)
	fl.Bool("help", false, "Print usage")
}

// options turns the flags and arguments into engine options.
func (f *createFlags) options(cmd *cobra.Command, args []string, detach bool) (engine.CreateOptions, error) {
	env, err := parseEnv(f.env, f.envFile)
	if err != nil {
		return engine.CreateOptions{}, err
	}
	labels := map[string]string{}
	for _, l := range f.labels {
		k, v, _ := strings.Cut(l, "=")
		if k == "" {
			return engine.CreateOptions{}, errdefs.InvalidArgument("invalid label %q: empty key", l)
		}
		labels[k] = v
	}
	logCfg := map[string]string{}
	for _, o := range f.logOpts {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			return engine.CreateOptions{}, errdefs.InvalidArgument("invalid --log-opt %q: want key=value", o)
		}
		logCfg[k] = v
	}
	var devices []engine.DeviceMapping
	for _, d := range f.devices {
		m, err := engine.ParseDevice(d)
		if err != nil {
			return engine.CreateOptions{}, err
		}
		devices = append(devices, m)
	}
	sysctls, err := engine.ParseSysctls(f.sysctls)
	if err != nil {
		return engine.CreateOptions{}, err
	}
	opts := engine.CreateOptions{
		Name:  f.name,
		Image: args[0],
		Config: engine.ContainerConfig{
			Hostname: f.hostname, User: f.user, Tty: f.tty,
			AttachStdin: f.interactive && !detach, AttachStdout: !detach, AttachStderr: !detach,
			OpenStdin: f.interactive, StdinOnce: f.interactive && !detach,
			Env: env, Cmd: args[1:], WorkingDir: f.workdir, Labels: labels, StopSignal: f.stopSignal,
		},
		HostConfig: engine.HostConfig{
			AutoRemove: f.rm, NetworkMode: f.network, Privileged: f.privileged,
			ReadonlyRootfs: f.readOnly, CapAdd: f.capAdd, CapDrop: f.capDrop,
			SecurityOpt: f.securityOpt, Sysctls: sysctls,
			LogConfig: engine.LogConfig{Type: f.logDriver, Config: logCfg},
			Devices:   devices, DeviceCgroupRules: f.deviceCgroupRules,
		},
		EntrypointSet: cmd.Flags().Changed("entrypoint"),
	}
	if err := f.res.apply(cmd, &opts.HostConfig.Resources, &opts.HostConfig.RestartPolicy); err != nil {
		return engine.CreateOptions{}, err
	}
	if opts.Config.Healthcheck, err = f.health.config(); err != nil {
		return engine.CreateOptions{}, err
	}
	if f.entrypoint != "" {
		opts.Config.Entrypoint = []string{f.entrypoint}
	}
	if cmd.Flags().Changed("init") {
		opts.HostConfig.Init = &f.init
	}
	if cmd.Flags().Changed("stop-timeout") {
		t := f.stopTimeout
		opts.Config.StopTimeout = &t
	}
	if err := f.host.apply(&opts); err != nil {
		return engine.CreateOptions{}, err
	}
	return opts, nil
}

// parseEnv reads -e and --env-file as Docker does: KEY=VALUE as given; a
// bare KEY takes the host's value, or is dropped when the host has none.
func parseEnv(env, files []string) ([]string, error) {
	var out []string
	add := func(kv string) {
		if strings.Contains(kv, "=") {
			out = append(out, kv)
		} else if v, ok := os.LookupEnv(kv); ok {
			out = append(out, kv+"="+v)
		}
	}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("open env file: %w", err)
		}
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimLeft(sc.Text(), " \t")
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if k, _, _ := strings.Cut(line, "="); k == "" || strings.ContainsAny(k, " \t") {
				f.Close()
				return nil, errdefs.InvalidArgument("env file %s line %d: variable %q contains whitespaces", name, n, k)
			}
			add(line)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("read env file %s: %w", name, err)
		}
	}
	for _, kv := range env {
		if strings.HasPrefix(kv, "=") {
			return nil, errdefs.InvalidArgument("invalid environment variable: %s", kv)
		}
		add(kv)
	}
	return out, nil
}

func (a *app) runCmd() *cobra.Command {
	var f createFlags
	var detach bool
	var sigProxy bool
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and run a new container from an image",
		Args:  argsAtLeast(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engineToRun()
			if err != nil {
				return err
			}
			opts, err := f.options(cmd, args, detach)
			if err != nil {
				return err
			}
			if !detach {
				if err := a.checkTty(f.interactive, f.tty); err != nil {
					return err
				}
			}
			trace.Mark("cli: engine open")
			opts.StartNext = true
			ctx := context.WithoutCancel(cmd.Context())
			cid, err := newCIDFile(f.host.cidfile)
			if err != nil {
				return err
			}
			c, err := e.Create(ctx, opts)
			if err == nil {
				err = cid.write(c.ID)
			}
			cid.close()
			if err != nil {
				return err
			}
			if detach {
				if _, err := e.Start(ctx, c.ID, nil); err != nil {
					return err
				}
				fmt.Fprintln(a.stdout, c.ID)
				return nil
			}
			keys, err := engine.ParseDetachKeys(f.detachKeys)
			if err != nil {
				return err
			}
			return a.attachSession(ctx, e, c, f.interactive, keys, sigProxy, func(streams engine.Streams) (*engine.Session, error) {
				return e.Start(ctx, c.ID, &streams)
			})
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "Run container in background and print container ID")
	cmd.Flags().BoolVar(&sigProxy, "sig-proxy", true, "Proxy received signals to the process")
	return cmd
}

func (a *app) createCmd() *cobra.Command {
	var f createFlags
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a new container",
		Args:  argsAtLeast(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			opts, err := f.options(cmd, args, true)
			if err != nil {
				return err
			}
			cid, err := newCIDFile(f.host.cidfile)
			if err != nil {
				return err
			}
			c, err := e.Create(cmd.Context(), opts)
			if err == nil {
				err = cid.write(c.ID)
			}
			cid.close()
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, c.ID)
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

func (a *app) startCmd() *cobra.Command {
	var attachOut, interactive bool
	var detachKeys string
	cmd := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start one or more stopped containers",
		Args:  argsAtLeast(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			ctx := context.WithoutCancel(cmd.Context())
			if attachOut || interactive {
				if len(args) > 1 {
					return errdefs.InvalidArgument("you cannot start and attach multiple containers at once")
				}
				c, err := e.Get(ctx, args[0])
				if err != nil {
					return err
				}
				keys, err := engine.ParseDetachKeys(detachKeys)
				if err != nil {
					return err
				}
				// start -a passes signals on as Docker's does: without a
				// terminal only.
				return a.attachSession(ctx, e, c, interactive && c.Config.OpenStdin, keys, !c.Config.Tty, func(streams engine.Streams) (*engine.Session, error) {
					return e.Start(ctx, c.ID, &streams)
				})
			}
			return eachName(a, args, func(name string) error {
				_, err := e.Start(ctx, name, nil)
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&attachOut, "attach", "a", false, "Attach STDOUT/STDERR and forward signals")
	cmd.Flags().BoolVarP(&interactive, "interactive", "i", false, "Attach container's STDIN")
	cmd.Flags().StringVar(&detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}

// eachName runs fn for every name, printing each name that succeeded and
// each error, and fails at the end if any did (Docker's behaviour for
// commands taking several containers).
func eachName(a *app, names []string, fn func(string) error) error {
	failed := false
	for _, n := range names {
		if err := fn(n); err != nil {
			fmt.Fprintln(a.stderr, errorLine(err))
			failed = true
			continue
		}
		fmt.Fprintln(a.stdout, n)
	}
	if failed {
		return &statusError{code: 1}
	}
	return nil
}

func (a *app) attachCmd() *cobra.Command {
	var noStdin, sigProxy bool
	var detachKeys string
	cmd := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "Attach local standard input, output, and error streams to a running container",
		Args:  argsExactly(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			ctx := context.WithoutCancel(cmd.Context())
			c, err := e.Get(ctx, args[0])
			if err != nil {
				return err
			}
			if !c.State.Running {
				return errdefs.NotRunning("You cannot attach to a stopped container, start it first")
			}
			if err := a.checkTty(!noStdin, c.Config.Tty); err != nil {
				return err
			}
			keys, err := engine.ParseDetachKeys(detachKeys)
			if err != nil {
				return err
			}
			// attach passes signals on without a terminal only, as
			// Docker's does (run does with one too).
			return a.attachSession(ctx, e, c, !noStdin && c.Config.OpenStdin, keys, sigProxy && !c.Config.Tty, func(streams engine.Streams) (*engine.Session, error) {
				return e.Attach(ctx, c.ID, streams)
			})
		},
	}
	cmd.Flags().BoolVar(&noStdin, "no-stdin", false, "Do not attach STDIN")
	cmd.Flags().BoolVar(&sigProxy, "sig-proxy", true, "Proxy all received signals to the process")
	cmd.Flags().StringVar(&detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}

// attachSession connects the local terminal or stdio to a container through
// open and returns the container's exit status as a statusError. The
// terminal is ours (raw mode, its size, the signals we get); the session
// is the engine's. With sigProxy the signals we get go to the container's
// process (see onSignals).
func (a *app) attachSession(ctx context.Context, e *engine.Engine, c *engine.Container, withStdin bool, keys []byte, sigProxy bool, open func(engine.Streams) (*engine.Session, error)) error {
	streams := engine.Streams{Stdout: a.stdout, Stderr: a.stderr}
	tty := c.Config.Tty
	if withStdin {
		streams.Stdin = a.stdin
		if tty {
			// Without a terminal the input is data, passed on whole.
			streams.DetachKeys = keys
		}
	}
	tm, isTerm := ourTerminal(a.stdin)
	if tty && isTerm {
		streams.Rows, streams.Cols = tm.size()
		if withStdin {
			defer tm.raw()()
		}
	}
	// Signals are caught from here on; those that come while the
	// container starts wait for its session.
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	sigs := a.catchSignals(sigProxy)
	defer sigs.release()
	s, err := open(streams)
	if err != nil {
		return err
	}
	if tty && isTerm {
		defer tm.follow(s)()
	}
	sigs.handle(s, stop)
	res, err := s.Wait(ctx)
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil {
			return cause
		}
		return err
	}
	return exitStatus(res.ExitCode)
}

// terminal is our stdin when it is a terminal. It stays ours: its mode,
// its size and our signals are passed to a session from here.
type terminal struct{ fd int }

func ourTerminal(r io.Reader) (terminal, bool) {
	f, ok := r.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return terminal{}, false
	}
	return terminal{int(f.Fd())}, true
}

// size is the terminal's; 0, 0 when it cannot be read.
func (t terminal) size() (rows, cols uint16) {
	w, h, err := term.GetSize(t.fd)
	if err != nil {
		return 0, 0
	}
	return uint16(h), uint16(w)
}

// raw puts the terminal in raw mode: keys go to the container as typed.
func (t terminal) raw() (restore func()) {
	st, err := term.MakeRaw(t.fd)
	if err != nil {
		return func() {}
	}
	return func() { _ = term.Restore(t.fd, st) }
}

// follow passes the terminal's size to s each time it changes, until stop.
func (t terminal) follow(s *engine.Session) (stop func()) {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGWINCH)
	go func() {
		for range sigs {
			if rows, cols := t.size(); rows > 0 && cols > 0 {
				_ = s.Resize(rows, cols)
			}
		}
	}()
	return func() { signal.Stop(sigs); close(sigs) }
}

func exitStatus(code int) error {
	if code == 0 {
		return nil
	}
	return &statusError{code: code}
}

func (a *app) execCmd() *cobra.Command {
	var interactive, tty, detach, privileged bool
	var env, envFile []string
	var workdir, user, detachKeys string
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Execute a command in a running container",
		Args:  argsAtLeast(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			envs, err := parseEnv(env, envFile)
			if err != nil {
				return err
			}
			keys, err := engine.ParseDetachKeys(detachKeys)
			if err != nil {
				return err
			}
			return a.exec(cmd.Context(), e, args[0], engine.ExecOptions{
				Cmd: args[1:], Env: envs, WorkingDir: workdir, User: user, Tty: tty, Privileged: privileged,
			}, interactive, detach, keys)
		},
	}
	fl := cmd.Flags()
	fl.SetInterspersed(false)
	fl.BoolVarP(&interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	fl.BoolVarP(&tty, "tty", "t", false, "Allocate a pseudo-TTY")
	fl.BoolVarP(&detach, "detach", "d", false, "Detached mode: run command in the background")
	fl.BoolVar(&privileged, "privileged", false, "Give extended privileges to the command")
	fl.StringArrayVarP(&env, "env", "e", nil, "Set environment variables")
	fl.StringArrayVar(&envFile, "env-file", nil, "Read in a file of environment variables")
	fl.StringVarP(&workdir, "workdir", "w", "", "Working directory inside the container")
	fl.StringVarP(&user, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	fl.StringVar(&detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}

// exec runs a process in a container with this process's stdio: directly
// (the child gets our fds) without -t, through a terminal made in the
// container with -t.
func (a *app) exec(ctx context.Context, e *engine.Engine, ref string, opts engine.ExecOptions, interactive, detach bool, keys []byte) error {
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer null.Close()
	opts.Stdin, opts.Stdout, opts.Stderr = null, null, null
	in, inOK := a.stdin.(*os.File)
	out, outOK := a.stdout.(*os.File)
	errf, errOK := a.stderr.(*os.File)
	if !detach {
		if !outOK || !errOK || !inOK {
			return errors.New("exec needs file streams")
		}
		if !opts.Tty {
			opts.Stdout, opts.Stderr = out, errf
			if interactive {
				opts.Stdin = in
			}
		}
	} else {
		opts.Tty = false
	}
	if !detach {
		if err := a.checkTty(interactive, opts.Tty); err != nil {
			return err
		}
	}
	if tm, ok := ourTerminal(in); opts.Tty && ok {
		opts.Rows, opts.Cols = tm.size()
	}
	// Our first SIGINT or SIGTERM ends this command, as Docker's exec
	// ends: the process is not ours to signal. They are caught before the
	// process starts: one that comes as soon as it runs waits for handle.
	var sigs *caughtSignals
	if !detach {
		sigs = a.catchSignals(false)
		defer sigs.release()
	}
	p, err := e.Exec(ctx, ref, opts)
	if err != nil {
		return err
	}
	if detach {
		_ = p.Cmd.Process.Release()
		return nil
	}
	ctx, stop := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stop(nil)
	sigs.handle(nil, stop)
	if p.Pty == nil {
		type result struct {
			code int
			err  error
		}
		done := make(chan result, 1)
		go func() {
			code, err := p.Wait()
			done <- result{code, err}
		}()
		select {
		case r := <-done:
			return execStatus(r.code, r.err)
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	streams := engine.Streams{Stdout: out}
	tm, isTerm := ourTerminal(in)
	if interactive {
		streams.Stdin, streams.DetachKeys = in, keys
		if isTerm {
			defer tm.raw()()
		}
	}
	s, err := p.Attach(streams)
	if err != nil {
		return err
	}
	if interactive && isTerm {
		defer tm.follow(s)()
	}
	res, err := s.Wait(ctx)
	if err != nil && ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return execStatus(res.ExitCode, err)
}

// execStatus is an exec'd process's exit status; a failure to wait for it
// is berth's (125).
func execStatus(code int, err error) error {
	if err != nil {
		return &statusError{code: 125, msg: err.Error()}
	}
	return exitStatus(code)
}
