package containers

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"berth/containers/cgroups"
	"berth/containers/runtime"
)

// ExecOptions are what a process run in a running container takes from
// its caller rather than from the container: exec's flags, or the health
// check's command.
type ExecOptions struct {
	Args       []string
	Env        []string // over the container's
	WorkingDir string   // the container's when empty
	User       string   // the container's when empty
	Tty        bool
	Privileged bool // every capability, instead of the container's
}

// ExecProcess is the process spec of a command run in c (`exec`, a health
// check): the container's identity, environment, working directory,
// capabilities, no_new_privs and limits, with what o changes.
func ExecProcess(c *Container, o ExecOptions) (*specs.Process, error) {
	userSpec := o.User
	if userSpec == "" {
		userSpec = c.Config.User
	}
	user, err := LookupUser(c.LowerDirs, userSpec, c.HostConfig.GroupAdd)
	if err != nil {
		return nil, err
	}
	env := MergeEnv(c.Config.Env, o.Env)
	if o.Tty {
		env = MergeEnv(env, []string{"TERM=xterm"})
	}
	cwd := o.WorkingDir
	if cwd == "" {
		cwd = c.Spec.Process.Cwd
	}
	caps := c.Spec.Process.Capabilities
	if o.Privileged {
		all := runtime.AllCaps()
		caps = &specs.LinuxCapabilities{Bounding: all, Effective: all, Permitted: all}
	}
	return &specs.Process{
		Terminal:        o.Tty,
		User:            specs.User{UID: user.UID, GID: user.GID, AdditionalGids: user.Groups},
		Args:            o.Args,
		Env:             env,
		Cwd:             cwd,
		Capabilities:    caps,
		NoNewPrivileges: c.Spec.Process.NoNewPrivileges,
		Rlimits:         c.Spec.Process.Rlimits,
		OOMScoreAdj:     c.Spec.Process.OOMScoreAdj, // --oom-score-adj: the container's, as its first process's
	}, nil
}

// ExecConfig is what the runtime needs to run p in c, whose first process
// is c.State.Pid and whose cgroup is cg: the process's namespaces and
// seccomp filter (compiled by filter) are the container's, and it starts
// inside cg.
func ExecConfig(c *Container, cg *cgroups.Cgroup, p *specs.Process, stdio runtime.Stdio, filter func() ([]byte, error)) *runtime.ExecConfig {
	return &runtime.ExecConfig{
		Pid: c.State.Pid, Spec: c.Spec, Process: p, Stdio: stdio, Seccomp: filter,
		StartInside: cg.StartInside,
	}
}
