package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"berth/containers"
	"berth/containers/monitor"
	"berth/errdefs"
)

// control sends a request to a container's monitor, its one control path.
// An error wrapping monitor.ErrGone means no monitor answered; the caller
// then settles the container (see settle).
func (e *Engine) control(ctx context.Context, c *containers.Container, do func(*monitor.Client) error) error {
	cl, err := monitor.Dial(ctx, e.containers.Dir(c.ID))
	if err != nil {
		return err
	}
	defer cl.Close()
	return do(cl)
}

// settle is the fallback for a container whose monitor is gone without
// recording an exit (kill -9, a crash): the record is brought in line
// (exited, as LoadState reports it), whatever is left in its cgroup is
// killed, and the cgroup removed. Its processes normally die with the
// monitor (PID 1's parent-death signal ends its PID namespace), but a
// frozen cgroup, or a process that left the namespace, would stay. A
// container whose monitor lives is the monitor's alone: nothing is done,
// unless the record says it runs and the monitor still would not answer.
func (e *Engine) settle(ctx context.Context, c *containers.Container) error {
	st, alive, _, err := e.containers.SettleState(ctx, c.ID)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, errdefs.ErrNotFound) {
		return nil // removed meanwhile
	}
	if err != nil {
		return err
	}
	return e.clearDead(ctx, c, st, alive)
}

// clearDead ends what a container whose monitor is gone (alive false)
// left in its cgroup, and removes the cgroup.
func (e *Engine) clearDead(ctx context.Context, c *containers.Container, st containers.State, alive bool) error {
	if alive {
		if st.Active() {
			// A monitor that hangs up on a request while its container
			// runs is one from an older berth, before control requests.
			return fmt.Errorf("container %s: its monitor (pid %d) does not answer control requests (started by an older berth?): stop the container with that berth, or end the monitor (kill %d), which ends the container, and try again", c.Name, st.MonitorPid, st.MonitorPid)
		}
		return nil // it has just stopped; its monitor is finishing
	}
	if c.Spec == nil || c.Spec.Linux == nil || c.Spec.Linux.CgroupsPath == "" {
		return nil
	}
	cg := e.cgroup(c)
	for {
		pids, err := cg.Procs()
		if err != nil || len(pids) == 0 {
			break // no cgroup (the usual case: the monitor removed it), or empty
		}
		if frozen, _ := cg.Frozen(); frozen {
			_ = cg.Thaw()
		}
		for _, pid := range pids {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("container %s: end the processes its dead monitor left: %w", c.Name, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
	if err := cg.Delete(); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("container %s: remove the cgroup its dead monitor left: %w", c.Name, err)
	}
	return nil
}
