package cgroups

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// FreezeTimeout bounds how long Freeze waits for every task to stop.
var FreezeTimeout = 5 * time.Second

// Freeze stops every process in the cgroup and waits until the kernel
// reports the cgroup frozen (v1 freezer.state FROZEN; v2 cgroup.freeze 1,
// then "frozen 1" in cgroup.events). If that does not happen within
// FreezeTimeout the cgroup is thawed again and an error returned.
func (c *Cgroup) Freeze() error {
	if c.err != nil {
		return c.err
	}
	if c.fs.Mode == V2 {
		return c.freezeV2(true)
	}
	dir := c.Dir("freezer")
	if dir == "" {
		return errors.New("cgroups: the freezer controller is not mounted")
	}
	deadline := time.Now().Add(FreezeTimeout)
	delay := 100 * time.Microsecond
	for i := 0; ; i++ {
		// A freeze can stall in FREEZING (a task in an uninterruptible
		// sleep, or a new fork racing it). Writing FROZEN again makes the
		// kernel retry; now and then a full thaw and refreeze helps.
		if i%50 == 49 {
			_ = writeFile(dir, "freezer.state", "THAWED")
			time.Sleep(10 * time.Millisecond)
		}
		if err := writeFile(dir, "freezer.state", "FROZEN"); err != nil {
			return fmt.Errorf("freeze: %w", err)
		}
		state, err := readString(dir, "freezer.state")
		if err != nil {
			return fmt.Errorf("freeze: %w", err)
		}
		if state == "FROZEN" {
			return nil
		}
		if time.Now().After(deadline) {
			_ = writeFile(dir, "freezer.state", "THAWED")
			return fmt.Errorf("freeze %s: still %s after %v", c.path, state, FreezeTimeout)
		}
		time.Sleep(delay)
		delay = min(2*delay, 10*time.Millisecond)
	}
}

// Thaw lets the processes of a frozen cgroup run again.
func (c *Cgroup) Thaw() error {
	if c.err != nil {
		return c.err
	}
	if c.fs.Mode == V2 {
		return c.freezeV2(false)
	}
	dir := c.Dir("freezer")
	if dir == "" {
		return errors.New("cgroups: the freezer controller is not mounted")
	}
	if err := writeFile(dir, "freezer.state", "THAWED"); err != nil {
		return fmt.Errorf("thaw: %w", err)
	}
	return waitFor(func() (bool, error) {
		s, err := readString(dir, "freezer.state")
		return s == "THAWED", err
	}, "thaw "+c.path)
}

func (c *Cgroup) freezeV2(freeze bool) error {
	dir, v, op := c.dirs[""], "0", "thaw"
	if freeze {
		v, op = "1", "freeze"
	}
	if err := writeFile(dir, "cgroup.freeze", v); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	err := waitFor(func() (bool, error) {
		frozen, err := frozenV2(dir)
		return frozen == freeze, err
	}, op+" "+c.path)
	if err != nil && freeze {
		_ = writeFile(dir, "cgroup.freeze", "0")
	}
	return err
}

func frozenV2(dir string) (bool, error) {
	ev, err := readString(dir, "cgroup.events")
	if err != nil {
		return false, err
	}
	return keyed(ev)["frozen"] == 1, nil
}

// waitFor polls done until it says true, for up to FreezeTimeout.
func waitFor(done func() (bool, error), what string) error {
	deadline := time.Now().Add(FreezeTimeout)
	delay := 100 * time.Microsecond
	for {
		ok, err := done()
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: timed out after %v", what, FreezeTimeout)
		}
		time.Sleep(delay)
		delay = min(2*delay, 10*time.Millisecond)
	}
}

// Frozen tells whether the cgroup is frozen (v1 freezer.state FROZEN; v2
// "frozen 1" in cgroup.events). A cgroup half-way there is not.
func (c *Cgroup) Frozen() (bool, error) {
	if c.err != nil {
		return false, c.err
	}
	if c.fs.Mode == V2 {
		return frozenV2(c.dirs[""])
	}
	dir := c.Dir("freezer")
	if dir == "" {
		return false, errors.New("cgroups: the freezer controller is not mounted")
	}
	s, err := readString(dir, "freezer.state")
	return strings.TrimSpace(s) == "FROZEN", err
}
