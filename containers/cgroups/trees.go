package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Tree is one of a cgroup's directories as a detached mount: a bind mount
// of it attached nowhere (open_tree's OPEN_TREE_CLONE), which the
// container's init stage, in its own mount namespace, attaches under its
// /sys/fs/cgroup (move_mount): the container sees its own cgroup as the
// root of each hierarchy, as Docker shows it on v1, and nothing of the
// host's other cgroups. Made in the host's mount namespace, where the
// cgroup file systems are, since nothing of them reaches the stage's.
type Tree struct {
	// Name is the directory under /sys/fs/cgroup: the hierarchy's on v1
	// ("memory", "cpu,cpuacct"), "" on v2 (the cgroup is /sys/fs/cgroup).
	Name string
	// Controllers are the v1 controllers the hierarchy holds ("cpu",
	// "cpuacct"): a link by each name leads to Name when they differ.
	Controllers []string
	File        *os.File
}

// Trees makes a Tree of each of the cgroup's directories (on v1 one per
// hierarchy berth uses, in a fixed order). The caller closes the files.
func (c *Cgroup) Trees() ([]Tree, error) {
	if c.err != nil {
		return nil, c.err
	}
	var out []Tree
	add := func(name, dir string) error {
		fd, err := unix.OpenTree(unix.AT_FDCWD, dir, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
		if err != nil {
			return fmt.Errorf("cgroup %s: open_tree: %w", dir, err)
		}
		out = append(out, Tree{Name: name, File: os.NewFile(uintptr(fd), dir)})
		return nil
	}
	var err error
	if c.fs.Mode == V2 {
		err = add("", c.dirs[""])
	} else {
		byMount := map[string]int{}
		for _, ctrl := range v1Controllers {
			mnt, ok := c.fs.Controllers[ctrl]
			if !ok {
				continue
			}
			i, seen := byMount[mnt]
			if !seen {
				if err = add(filepath.Base(mnt), c.dirs[ctrl]); err != nil {
					break
				}
				i = len(out) - 1
				byMount[mnt] = i
			}
			out[i].Controllers = append(out[i].Controllers, ctrl)
		}
	}
	if err == nil && len(out) == 0 {
		err = errors.New("cgroups: no cgroup controller is mounted")
	}
	if err != nil {
		for _, t := range out {
			t.File.Close()
		}
		return nil, err
	}
	return out, nil
}
