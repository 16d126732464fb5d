package layers

import (
	"strings"

	"berth/engine"
)

// row is one line of the file tree on screen.
type row struct {
	n     *engine.FileNode
	depth int
	path  string // the node's path, the key of its fold state
}

// folds remembers which directories are folded, by path, so that a fold
// carries over to the same directory in other layers and filters.
type folds struct {
	all      bool            // fold everything not listed
	override map[string]bool // path → folded
}

func (f *folds) folded(path string) bool {
	if v, ok := f.override[path]; ok {
		return v
	}
	return f.all
}

func (f *folds) set(path string, folded bool) {
	if f.override == nil {
		f.override = map[string]bool{}
	}
	f.override[path] = folded
}

// setAll folds or unfolds every directory.
func (f *folds) setAll(folded bool) {
	f.all = folded
	clear(f.override)
}

// flatten lists the rows of the tree under root that unfolded
// directories show, depth first. With a filter, as dive's, it lists
// instead every path that holds it (in any case) and the directories
// above them, unfolded.
func flatten(root *engine.FileNode, f *folds, filter string) []row {
	var out []row
	if filter != "" {
		q := strings.ToLower(filter)
		var walk func(n *engine.FileNode, prefix string, depth int)
		walk = func(n *engine.FileNode, prefix string, depth int) {
			for _, c := range n.Children {
				p := prefix + "/" + c.Name
				at := len(out)
				out = append(out, row{n: c, depth: depth, path: p})
				walk(c, p, depth+1)
				if len(out) == at+1 && !strings.Contains(strings.ToLower(p), q) {
					out = out[:at] // neither it nor anything under it matches
				}
			}
		}
		walk(root, "", 0)
		return out
	}
	var walk func(n *engine.FileNode, prefix string, depth int)
	walk = func(n *engine.FileNode, prefix string, depth int) {
		for _, c := range n.Children {
			p := prefix + "/" + c.Name
			out = append(out, row{n: c, depth: depth, path: p})
			if len(c.Children) > 0 && !f.folded(p) {
				walk(c, p, depth+1)
			}
		}
	}
	walk(root, "", 0)
	return out
}

// find is the index of the row showing path, or of its nearest shown
// ancestor; 0 if none.
func find(rows []row, path string) int {
	best, bestLen := 0, 0
	for i, r := range rows {
		if r.path == path {
			return i
		}
		if len(r.path) > bestLen && len(path) > len(r.path) && path[len(r.path)] == '/' && path[:len(r.path)] == r.path {
			best, bestLen = i, len(r.path)
		}
	}
	return best
}

// parentRow is the index of row i's parent directory, -1 at the top.
func parentRow(rows []row, i int) int {
	for j := i - 1; j >= 0; j-- {
		if rows[j].depth < rows[i].depth {
			return j
		}
	}
	return -1
}
