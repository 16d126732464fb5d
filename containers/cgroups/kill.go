package cgroups

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Kill sends SIGKILL to every process in the cgroup, those forked
// meanwhile included: on v2 through cgroup.kill (Linux 5.14), otherwise
// with the cgroup frozen while its processes are listed and signalled,
// so that none escapes by forking. It does not wait for them to die.
func (c *Cgroup) Kill() error {
	if c.err != nil {
		return c.err
	}
	if c.fs.Mode == V2 {
		err := writeFile(c.dirs[""], "cgroup.kill", "1")
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	frozen := c.Freeze() == nil
	pids, err := c.Procs()
	for _, pid := range pids {
		_ = unix.Kill(pid, unix.SIGKILL)
	}
	if frozen {
		// A frozen process dies once thawed.
		if terr := c.Thaw(); terr != nil && err == nil {
			err = terr
		}
	}
	if err != nil {
		return fmt.Errorf("kill the processes of cgroup %s: %w", c.path, err)
	}
	return nil
}
