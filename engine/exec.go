package engine

import (
	"context"
	"errors"
	"os"
	"os/exec"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"berth/containers"
	"berth/containers/runtime"
	"berth/errdefs"
)

// ExecOptions describe a process to run in a running container.
type ExecOptions struct {
	Cmd        []string
	Env        []string
	WorkingDir string
	User       string
	Tty        bool
	Privileged bool
	Stdio      runtime.Stdio
}

// Exec starts a process in a running container and returns it started;
// the caller waits for it. A command that cannot start is a *StartError
// with Docker's exit code.
func (e *Engine) Exec(ctx context.Context, ref string, opts ExecOptions) (*exec.Cmd, error) {
	c, err := e.containers.Get(ref)
	if err != nil {
		return nil, err
	}
	if !c.State.Running {
		return nil, errdefs.Conflict("container %s is not running", c.Name)
	}
	if c.State.Paused {
		return nil, errdefs.Conflict("container %s is paused, unpause the container before exec", c.Name)
	}
	if len(opts.Cmd) == 0 {
		return nil, errdefs.InvalidArgument("no command specified")
	}
	userSpec := opts.User
	if userSpec == "" {
		userSpec = c.Config.User
	}
	user, err := containers.LookupUser(c.LowerDirs, userSpec)
	if err != nil {
		return nil, err
	}
	env := containers.MergeEnv(c.Config.Env, opts.Env)
	if opts.Tty {
		env = containers.MergeEnv(env, []string{"TERM=xterm"})
	}
	cwd := opts.WorkingDir
	if cwd == "" {
		cwd = c.Spec.Process.Cwd
	}
	caps := c.Spec.Process.Capabilities
	if opts.Privileged {
		all := runtime.AllCaps()
		caps = &specs.LinuxCapabilities{Bounding: all, Effective: all, Permitted: all}
	}
	p := &specs.Process{
		Terminal:        opts.Tty,
		User:            specs.User{UID: user.UID, GID: user.GID, AdditionalGids: user.Groups},
		Args:            opts.Cmd,
		Env:             env,
		Cwd:             cwd,
		Capabilities:    caps,
		NoNewPrivileges: c.Spec.Process.NoNewPrivileges,
	}
	cmd, err := runtime.Exec(&runtime.ExecConfig{Pid: c.State.Pid, Spec: c.Spec, Process: p, Stdio: opts.Stdio})
	var se *runtime.StartError
	if errors.As(err, &se) {
		return nil, &StartError{Code: se.Code, Message: se.Message}
	}
	return cmd, err
}

// devNull opens /dev/null for a stream nobody attaches.
func devNull(flag int) (*os.File, error) { return os.OpenFile(os.DevNull, flag, 0) }
