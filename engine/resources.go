package engine

import (
	"context"
	"fmt"

	"berth/containers"
	"berth/containers/cgroups"
	"berth/errdefs"
)

func (e *Engine) cgroup(c *containers.Container) *cgroups.Cgroup {
	return cgroups.Load(c.Spec.Linux.CgroupsPath)
}

// Pause freezes every process of a running container.
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
	if err := e.cgroup(c).Freeze(); err != nil {
		return fmt.Errorf("pause %s: %w", c.Name, err)
	}
	_, err = e.containers.UpdateState(ctx, c.ID, func(st *containers.State) {
		if st.Running {
			st.Status, st.Paused = containers.StatusPaused, true
		}
	})
	e.emitContainer(c, "pause")
	return err
}

// Unpause thaws a paused container.
func (e *Engine) Unpause(ctx context.Context, ref string) error {
	c, err := e.containers.Get(ctx, ref)
	if err != nil {
		return err
	}
	if !c.State.Paused {
		return errdefs.Conflict("container %s is not paused", c.Name)
	}
	return e.thaw(ctx, c)
}

func (e *Engine) thaw(ctx context.Context, c *containers.Container) error {
	if err := e.cgroup(c).Thaw(); err != nil {
		return fmt.Errorf("unpause %s: %w", c.Name, err)
	}
	_, err := e.containers.UpdateState(ctx, c.ID, func(st *containers.State) {
		st.Paused = false
		if st.Status == containers.StatusPaused {
			st.Status = containers.StatusRunning
		}
	})
	e.emitContainer(c, "unpause")
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
