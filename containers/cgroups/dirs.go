package cgroups

import "path/filepath"

// Hierarchy is one of a cgroup's directories with the hierarchy it is in,
// for the container's init stage to bind under its /sys/fs/cgroup: the
// container sees its own cgroup as the root of each hierarchy, as Docker
// shows it on v1, and nothing of the host's other cgroups.
type Hierarchy struct {
	// Name is the directory under /sys/fs/cgroup: the hierarchy's on v1
	// ("memory", "cpu,cpuacct": its mount point's name), "" on v2 (the
	// cgroup is /sys/fs/cgroup).
	Name string
	// Controllers are the v1 controllers the hierarchy holds ("cpu",
	// "cpuacct"): a link by each name leads to Name when they differ.
	Controllers []string
	// Dir is the cgroup's directory.
	Dir string
}

// Hierarchies lists the cgroup's directories: on v2 the one; on v1 one per
// hierarchy berth uses, in a fixed order.
func (c *Cgroup) Hierarchies() []Hierarchy {
	if c.err != nil {
		return nil
	}
	if c.fs.Mode == V2 {
		return []Hierarchy{{Dir: c.dirs[""]}}
	}
	var out []Hierarchy
	byMount := map[string]int{}
	for _, ctrl := range v1Controllers {
		mnt, ok := c.fs.Controllers[ctrl]
		if !ok {
			continue
		}
		i, seen := byMount[mnt]
		if !seen {
			i = len(out)
			byMount[mnt] = i
			out = append(out, Hierarchy{Name: filepath.Base(mnt), Dir: c.dirs[ctrl]})
		}
		out[i].Controllers = append(out[i].Controllers, ctrl)
	}
	return out
}
