package filetree

import (
	"slices"
	"strings"
)

// Node is one name in a layer's tree, as a file browser shows it.
type Node struct {
	Name     string
	Kind     Kind // for a removed name: what was removed
	Mode     uint32
	UID, GID uint32
	// Size is a file's length; for a directory, the bytes of the files
	// under it (each hard-linked file once); for a removed name, the bytes
	// removed.
	Size   int64
	Link   string // a symlink's target; a hard link's other name ("/bin/a")
	Opaque bool
	Change Change
	Layer  int // the layer this version comes from; -1 for the root

	Parent   *Node
	Children []*Node // sorted by name

	bytes int64 // what it adds to its directory's size
}

// Path is the node's absolute path ("/" for the root).
func (n *Node) Path() string {
	if n.Parent == nil {
		return "/"
	}
	var parts []string
	for ; n.Parent != nil; n = n.Parent {
		parts = append(parts, n.Name)
	}
	slices.Reverse(parts)
	return "/" + strings.Join(parts, "/")
}

// IsDir reports whether the node has (or had, if removed) contents.
func (n *Node) IsDir() bool { return n.Kind == Dir }

// Tree is the file tree of layer i: with onlyChanges, the names the layer
// adds, modifies or removes (and the directories holding them); else the
// whole image as it stands with layers 0 to i, the layer's own changes
// marked, and the names it removes shown as removed.
func (img *Image) Tree(i int, onlyChanges bool) *Node {
	if i < 0 || i >= len(img.Layers) {
		return &Node{Kind: Dir, Mode: 0o755, Layer: -1}
	}
	if onlyChanges {
		return img.changesTree(i)
	}
	return img.fullTree(i)
}

func nodeOf(l *Layer, idx int, layer int) *Node {
	e := &l.Entries[idx]
	n := &Node{Name: e.Name, Kind: e.Kind, Mode: e.Mode, UID: e.UID, GID: e.GID, Size: e.Size, Link: e.Link, Opaque: e.Opaque, Layer: layer, bytes: e.Bytes()}
	if e.Kind == Hardlink {
		n.Link = "/" + l.Path(int(e.LinkTo))
	}
	return n
}

func (img *Image) changesTree(i int) *Node {
	li := img.Layers[i]
	l := li.Files
	root := &Node{Kind: Dir, Mode: 0o755, Layer: -1}
	nodes := make([]*Node, len(l.Entries))
	parentOf := func(p int32) *Node {
		if p < 0 {
			return root
		}
		return nodes[p]
	}
	for idx := range l.Entries {
		n := nodeOf(l, idx, i)
		n.Change = li.changes[idx]
		n.Parent = parentOf(l.Entries[idx].Parent)
		n.Parent.Children = append(n.Parent.Children, n)
		nodes[idx] = n
	}
	img.addRemoved(li, parentOf)
	finish(root)
	return root
}

// addRemoved puts the names layer li removes into its tree: a whiteout's
// node becomes what it removed; names an opaque directory hid are added.
func (img *Image) addRemoved(li *LayerInfo, parentOf func(int32) *Node) {
	for _, rm := range li.removed {
		p := parentOf(rm.parent)
		if rm.entry >= 0 {
			// The whiteout's node, in the changes tree; absent from the
			// full tree, which holds what is visible.
			if i := slices.IndexFunc(p.Children, func(n *Node) bool { return n.Name == rm.name }); i >= 0 {
				n := p.Children[i]
				n.Kind, n.Size, n.Change = rm.kind, rm.bytes, Removed
				continue
			}
		}
		p.Children = append(p.Children, &Node{Name: rm.name, Kind: rm.kind, Size: rm.bytes, Change: Removed, Layer: li.Index, Parent: p})
	}
}

func (img *Image) fullTree(i int) *Node {
	layers := make([]*Layer, i+1)
	for j := range layers {
		layers[j] = img.Layers[j].Files
	}
	m := newMerger(layers, false)
	for j := range layers {
		m.apply(j, nil)
	}
	li := img.Layers[i]
	root := &Node{Kind: Dir, Mode: 0o755, Layer: -1}
	m.root.out = root
	shown := map[linkKey]bool{} // files shown at their first name
	var links []*mnode
	var build func(mn *mnode, n *Node)
	build = func(mn *mnode, n *Node) {
		n.Children = make([]*Node, 0, len(mn.kids))
		for _, k := range mn.kids {
			c := nodeOf(m.layers[k.layer], int(k.idx), int(k.layer))
			if int(k.layer) == i {
				c.Change = li.changes[k.idx]
			}
			c.Parent = n
			k.out = c
			switch c.Kind {
			case Regular:
				shown[linkKey{k.layer, k.idx}] = true
			case Hardlink:
				links = append(links, k)
			}
			n.Children = append(n.Children, c)
			if k.dir {
				build(k, c)
			}
		}
	}
	build(m.root, root)
	// A hard-linked file whose first name is gone counts at another name.
	for _, mn := range links {
		head := linkKey{mn.layer, m.entry(mn).LinkTo}
		if !shown[head] {
			shown[head] = true
			mn.out.bytes = mn.out.Size
		}
	}
	img.addRemoved(li, func(p int32) *Node {
		if p < 0 {
			return root
		}
		return m.last[p].out
	})
	finish(root)
	return root
}

// finish sorts every directory's contents and sums their sizes.
func finish(n *Node) int64 {
	if n.Kind != Dir {
		if n.Change == Removed {
			return 0
		}
		return n.bytes
	}
	slices.SortFunc(n.Children, func(a, b *Node) int { return strings.Compare(a.Name, b.Name) })
	var total int64
	for _, c := range n.Children {
		total += finish(c)
	}
	if n.Change == Removed {
		return 0 // keeps the bytes it removed as its size
	}
	n.Size = total
	return total
}
