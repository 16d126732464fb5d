package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"berth/containers"
	"berth/containers/cgroups"
	"berth/events"
	"berth/images"
	"berth/internal/check"
)

// `berth system check`: the image store and the container store each
// check their own data (images.Store.Check, containers.Store.Check); the
// engine checks what spans them (a container's image and snapshot dirs),
// what only it knows (the cgroups of removed containers, from the event
// log; build steps' containers and temp dirs), and combines the reports.
//
// The state root is consistent ("clean") when no finding is a Problem.
// Harmless findings are what interrupted operations may leave (see
// check.Harmless): the next berth command, or --repair, removes them.

// Finding, Severity and CheckReport are the check's results.
type (
	Finding     = check.Finding
	Severity    = check.Severity
	CheckReport = check.Report
)

// The severities of a finding.
const (
	Harmless = check.Harmless
	Problem  = check.Problem
)

// CheckOptions tune Check.
type CheckOptions struct {
	// Repair fixes what can be fixed safely: leftovers and garbage go,
	// corrupt blobs and the unused images that need them go, missing
	// snapshots and container dirs are made again, dead containers are
	// recorded as exited, orphaned processes are killed. Findings it
	// fixed say so (Finding.Repaired).
	Repair bool
}

// staleTemp is how old a temporary dir that names no owner must be before
// Check calls it a leftover (older berths did not name the owner).
const staleTemp = time.Hour

// cgroupGrace is how long processes found in the cgroup of a removed
// container get to leave before they are a problem.
const cgroupGrace = 5 * time.Second

// Check verifies the state root. It runs under the engine's gc lock,
// shared (exclusive to repair): images cannot be removed while container
// records are compared with them, and a repair waits for the creations and
// removals in progress, as prune does.
func (e *Engine) Check(ctx context.Context, opts CheckOptions) (*CheckReport, error) {
	unlock, err := e.gcLock(ctx, opts.Repair)
	if err != nil {
		return nil, err
	}
	defer unlock()
	rep := &CheckReport{}
	// Containers first: a repair removes broken records before the image
	// store asks which images are in use.
	cres, err := e.containers.Check(ctx, containers.CheckOptions{Repair: opts.Repair})
	if err != nil {
		return nil, fmt.Errorf("check containers: %w", err)
	}
	rep.Merge(cres.Report)
	used := map[string]string{}
	for _, c := range cres.Records {
		used[c.Image] = containers.ShortID(c.ID)
	}
	irep, err := e.images.Check(ctx, images.CheckOptions{Repair: opts.Repair,
		InUse: func(id v1.Hash) string { return used[id.String()] }})
	rep.Merge(irep)
	if err != nil {
		return nil, fmt.Errorf("check images: %w", err)
	}
	if err := e.checkReferences(ctx, rep, cres.Records, opts.Repair); err != nil {
		return nil, err
	}
	if err := e.checkGoneCgroups(ctx, rep, opts.Repair); err != nil {
		return nil, err
	}
	e.checkTempDirs(rep, opts.Repair)
	return rep, nil
}

// checkReferences checks what each container needs of the image store:
// its image, and its image's snapshot dirs (its overlay's lower dirs); and
// it finds the containers of build steps whose build was interrupted.
func (e *Engine) checkReferences(ctx context.Context, rep *CheckReport, recs []*containers.Container, repair bool) error {
	all, err := e.images.ListAll(ctx)
	if err != nil {
		return nil // the image check reported the index
	}
	byID := map[string]*images.Image{}
	for _, img := range all {
		byID[img.ID.String()] = img
	}
	for _, c := range recs {
		if err := ctx.Err(); err != nil {
			return err
		}
		object := fmt.Sprintf("container %s (%s)", containers.ShortID(c.ID), c.Name)
		if e.checkBuildStep(ctx, rep, object, c, repair) {
			continue
		}
		img := byID[c.Image]
		if img == nil {
			if e.exists(c) {
				rep.Add(check.Problemf(object, "its image %s is not in the image store (remove the container)", c.Image))
			}
			continue
		}
		missing := missingDirs(c.LowerDirs)
		if len(missing) == 0 || !e.exists(c) {
			continue
		}
		f := check.Problemf(object, "the snapshots of its image's layers are missing: %s", strings.Join(missing, ", "))
		if repair {
			if _, err := e.images.Snapshots(ctx, img); err == nil && len(missingDirs(c.LowerDirs)) == 0 {
				f.Repaired = "unpacked again"
			} else if err != nil {
				f.Problem += fmt.Sprintf(" (cannot unpack them again: %v)", err)
			}
		}
		rep.Add(f)
	}
	return nil
}

// exists reports whether c is still there: the records were read a
// moment ago, and removals go on beside the check.
func (e *Engine) exists(c *containers.Container) bool {
	_, err := os.Lstat(filepath.Join(e.containers.Dir(c.ID), "config.json"))
	return err == nil
}

func missingDirs(dirs []string) []string {
	var out []string
	for _, d := range dirs {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			out = append(out, filepath.Base(d))
		}
	}
	return out
}

// checkBuildStep reports the container of a build step whose build is
// gone (it was killed): nobody will remove it, and ps does not show it. It
// returns whether c is such a container.
func (e *Engine) checkBuildStep(ctx context.Context, rep *CheckReport, object string, c *containers.Container, repair bool) bool {
	owner, ok := c.Config.Labels[containers.BuildStepLabel]
	if !ok || owner == "" {
		return false
	}
	if pid, err := strconv.Atoi(owner); err == nil {
		if pid > 0 && processAlive(pid) {
			return false // its build runs
		}
	} else if time.Since(c.Created) < staleTemp {
		return false // an older berth's build, which may still run
	}
	// A build removes its step's container before it exits: one still
	// there once the build is gone was left.
	if !e.exists(c) {
		return true
	}
	f := check.Harmlessf(object, "the container of a step of a build that is gone (pid %s)", owner)
	if repair {
		if err := e.Remove(ctx, c.ID, true); err == nil {
			f.Repaired = "removed"
		}
	}
	rep.Add(f)
	return true
}

// checkGoneCgroups finds the cgroups of this root's containers that were
// removed: the event log names every container the root ever had (the
// cgroups of those it still has, the container check looked at).
func (e *Engine) checkGoneCgroups(ctx context.Context, rep *CheckReport, repair bool) error {
	seen := map[string]bool{}
	err := e.events.Read(ctx, events.ReadOptions{}, func(ev events.Event) error {
		if ev.Type != events.TypeContainer || ev.Action != "create" || seen[ev.Actor.ID] {
			return nil
		}
		seen[ev.Actor.ID] = true
		id := ev.Actor.ID
		if _, err := os.Lstat(e.containers.Dir(id)); err == nil || !isContainerID(id) {
			return nil
		}
		object := "removed container " + containers.ShortID(id)
		f, ok := containers.CheckCgroup(object, cgroups.Path(id), "the container is gone")
		// The last processes of a container just removed may take a moment
		// to leave, and its monitor to delete the cgroup.
		for deadline := time.Now().Add(cgroupGrace); ok && f.Severity == Problem && time.Now().Before(deadline); {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
			f, ok = containers.CheckCgroup(object, cgroups.Path(id), "the container is gone")
		}
		if !ok {
			return nil
		}
		if repair {
			f.Repaired = containers.RemoveCgroup(cgroups.Path(id))
		}
		rep.Add(f)
		return nil
	})
	if err != nil {
		return fmt.Errorf("check cgroups: read the event log: %w", err)
	}
	return nil
}

func isContainerID(id string) bool {
	if len(id) != 64 {
		return false
	}
	for _, c := range id {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// checkTempDirs reports the temporary dirs of builds that are gone (New
// removes them too).
func (e *Engine) checkTempDirs(rep *CheckReport, repair bool) {
	for _, p := range e.deadTempDirs() {
		f := check.Harmlessf(p, "a build's temporary dir, left by a process that is gone (the next command removes it)")
		if repair && os.RemoveAll(p) == nil {
			f.Repaired = "removed"
		}
		rep.Add(f)
	}
}

// deadTempDirs lists the temporary dirs of builds that are gone: build/
// holds "<kind>-<pid>-<random>" dirs (downloads, inline files, contexts
// read from stdin) and the mount point "mnt"; tmp/ holds what older
// berths put there, which names no owner: those count once they are old.
func (e *Engine) deadTempDirs() []string {
	var out []string
	for _, d := range []string{e.tmpDir(), filepath.Join(e.root, "tmp")} {
		entries, _ := os.ReadDir(d)
		for _, ent := range entries {
			if d == e.tmpDir() && ent.Name() == "mnt" {
				continue
			}
			pid := tempOwner(ent.Name())
			switch {
			case pid > 0 && processAlive(pid):
				continue
			case pid <= 0:
				info, err := ent.Info()
				if err != nil || time.Since(info.ModTime()) < staleTemp {
					continue
				}
			}
			out = append(out, filepath.Join(d, ent.Name()))
		}
	}
	return out
}

// tempOwner is the pid in a "<kind>-<pid>-<random>" name, or 0.
func tempOwner(name string) int {
	parts := strings.Split(name, "-")
	if len(parts) < 3 {
		return 0
	}
	pid, _ := strconv.Atoi(parts[len(parts)-2])
	return pid
}

func processAlive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || err == unix.EPERM
}
