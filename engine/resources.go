package engine

import (
	"context"
	"errors"
	"fmt"

	"berth/containers"
	"berth/containers/cgroups"
	"berth/containers/monitor"
	"berth/errdefs"
)

func (e *Engine) cgroup(c *containers.Container) *cgroups.Cgroup {
	return cgroups.Load(c.Spec.Linux.CgroupsPath)
}

// Pause has the container's monitor freeze every process of it.
func (e *Engine) Pause(ctx context.Context, ref string) error {
	c, err := e.containers.Get(ctx, ref)
	if err != nil {
		return err
	}
	if !c.State.Running {
		return errdefs.NotRunning("container %s is not running", c.Name)
	}
	if c.State.Paused {
		return errdefs.Conflict("container %s is already paused", c.Name)
	}
	return e.freezer(ctx, c, (*monitor.Client).Pause)
}

// Unpause has the container's monitor thaw a paused container.
func (e *Engine) Unpause(ctx context.Context, ref string) error {
	c, err := e.containers.Get(ctx, ref)
	if err != nil {
		return err
	}
	if !c.State.Paused {
		return errdefs.Conflict("container %s is not paused", c.Name)
	}
	return e.freezer(ctx, c, (*monitor.Client).Unpause)
}

// freezer sends a pause or unpause: the monitor holds the cgroup of the
// current run and records the change (it is the one writer of a running
// container's state).
func (e *Engine) freezer(ctx context.Context, c *containers.Container, op func(*monitor.Client, context.Context) error) error {
	err := e.control(ctx, c, func(cl *monitor.Client) error { return op(cl, ctx) })
	if errors.Is(err, monitor.ErrGone) {
		if err := e.settle(ctx, c); err != nil {
			return err
		}
		return errdefs.NotRunning("container %s is not running", c.Name)
	}
	return err
}

// UpdateOptions change a container's limits and restart policy; nil
// fields stay as they are.
type UpdateOptions struct {
	Resources     func(*Resources)
	RestartPolicy *RestartPolicy
}

// Update changes the limits of a container, live when it runs.
func (e *Engine) Update(ctx context.Context, ref string, opts UpdateOptions) error {
	c, err := e.containers.UpdateConfig(ctx, ref, func(c *containers.Container) error {
		hc := c.HostConfig
		if opts.Resources != nil {
			opts.Resources(&hc.Resources)
		}
		if opts.RestartPolicy != nil {
			hc.RestartPolicy = *opts.RestartPolicy
		}
		if err := containers.CheckResources(hc.Resources, hc.RestartPolicy, hc.AutoRemove); err != nil {
			return err
		}
		res := containers.ResourcesSpec(hc.Resources)
		if err := cgroups.Validate(res); err != nil {
			return errdefs.InvalidArgument("%v", err)
		}
		if c.State.Running {
			if err := e.cgroup(c).Update(res); err != nil {
				return fmt.Errorf("update %s: %w", c.Name, err)
			}
		}
		c.HostConfig = hc
		// Device rules are no limit: update keeps them (res has none,
		// so the live cgroup's are not touched either).
		if old := c.Spec.Linux.Resources; old != nil {
			res.Devices = old.Devices
		}
		c.Spec.Linux.Resources = res
		return nil
	})
	if err != nil {
		return err
	}
	e.emitContainer(c, "update")
	return nil
}
