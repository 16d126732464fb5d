package filetree

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Change is what a layer does to a path, relative to the layers below.
type Change uint8

const (
	Unchanged Change = iota // a directory that only holds changes
	Added                   // not present below
	Modified                // present below: replaced, or its metadata changed
	Removed                 // removed by a whiteout, or hidden by an opaque directory
)

// Marker is the change's one-letter mark, so that it reads without colour.
func (c Change) Marker() string {
	return [...]string{" ", "+", "~", "-"}[c]
}

// Image is the combined analysis of an image's layers.
type Image struct {
	Layers []*LayerInfo // lowest first
	Size   int64        // bytes of the regular files of all layers
	// Wasted counts the bytes of files that a layer adds or modifies and a
	// higher layer removes or replaces: every copy of a path but the one
	// the final image shows (all of them if it shows none).
	Wasted int64
	// Waste lists the paths that waste the most, most first (at most
	// MaxWaste of them).
	Waste []Waste
}

// MaxWaste bounds Image.Waste.
const MaxWaste = 200

// WastedPercent is Wasted as a percentage of Size.
func (img *Image) WastedPercent() float64 {
	if img.Size <= 0 {
		return 0
	}
	return 100 * float64(img.Wasted) / float64(img.Size)
}

// Waste is the space one path wastes.
type Waste struct {
	Path   string // "/var/cache/apk/APKINDEX.tar.gz"
	Copies int    // versions of it in the layers, the final one included
	Wasted int64  // bytes of all versions but the final one
}

// LayerInfo is one layer of an image: its files, what it changes, and
// what the image says about it (filled by the caller of Combine).
type LayerInfo struct {
	Index int
	Files *Layer

	DiffID    string
	CreatedBy string // the instruction that made it (image config history)
	Created   time.Time
	Comment   string
	Size      int64 // bytes of its regular files

	// Counts of entries (files and directories) by change.
	Added, Modified, Removed int
	// Wasted is the part of Size that higher layers remove or replace.
	Wasted int64

	changes []Change  // per entry of Files
	removed []removal // what the layer removes
}

// Change is what entry i of the layer does.
func (li *LayerInfo) Change(i int) Change { return li.changes[i] }

// removal is a name a layer removes: a whiteout entry, or a name an
// opaque directory of the layer hides and the layer does not put back.
type removal struct {
	parent int32 // the directory's entry in the layer, -1 at the top
	entry  int32 // the whiteout entry, -1 for a name an opaque directory hides
	name   string
	kind   Kind  // what was removed
	bytes  int64 // its size, or the size of everything under it
}

// mnode is one name of the image's filesystem as the layers so far
// merge it (overlay semantics).
type mnode struct {
	name   string
	parent *mnode
	kids   map[string]*mnode // a directory's contents
	layer  int32             // the version shown: layers[layer].Entries[idx]
	idx    int32
	dir    bool
	out    *Node // the tree node made from it
}

type linkKey struct{ layer, idx int32 }

// merger stacks layers one above the other.
type merger struct {
	layers []*Layer
	root   *mnode
	last   []*mnode // the directory nodes of the layer applied last, by entry

	// Accounting, on when combining: visible names per hard-linked file,
	// and the waste found so far.
	account    bool
	links      map[linkKey]int
	waste      map[string]*Waste
	layerWaste []int64
}

func newMerger(layers []*Layer, account bool) *merger {
	m := &merger{
		layers:  layers,
		root:    &mnode{kids: map[string]*mnode{}, layer: -1, dir: true},
		account: account,
	}
	if account {
		m.links = map[linkKey]int{}
		m.waste = map[string]*Waste{}
		m.layerWaste = make([]int64, len(layers))
	}
	return m
}

func (m *merger) entry(n *mnode) *Entry { return &m.layers[n.layer].Entries[n.idx] }

// path is n's absolute path.
func (n *mnode) path() string {
	var parts []string
	for ; n.parent != nil; n = n.parent {
		parts = append(parts, n.name)
	}
	slices.Reverse(parts)
	return "/" + strings.Join(parts, "/")
}

// Combine stacks the layers (lowest first) and works out what each
// changes and the space wasted. The layers are only read.
func Combine(layers []*Layer) *Image {
	img := &Image{Layers: make([]*LayerInfo, len(layers))}
	m := newMerger(layers, true)
	for i, l := range layers {
		li := &LayerInfo{Index: i, Files: l, DiffID: l.DiffID, Size: l.Size, changes: make([]Change, len(l.Entries))}
		img.Layers[i] = li
		img.Size += l.Size
		m.apply(i, li)
	}
	for i, w := range m.layerWaste {
		img.Layers[i].Wasted = w
	}
	for _, w := range m.waste {
		img.Wasted += w.Wasted
		if n := m.lookup(w.Path); n != nil && !n.dir && (m.kindOf(n) == Regular) {
			w.Copies++ // the final copy
		}
		img.Waste = append(img.Waste, *w)
	}
	slices.SortFunc(img.Waste, func(a, b Waste) int {
		return cmp.Or(cmp.Compare(b.Wasted, a.Wasted), strings.Compare(a.Path, b.Path))
	})
	if len(img.Waste) > MaxWaste {
		img.Waste = slices.Clip(img.Waste[:MaxWaste])
	}
	return img
}

func (m *merger) lookup(p string) *mnode {
	n := m.root
	for name := range strings.SplitSeq(strings.TrimPrefix(p, "/"), "/") {
		if n = n.kids[name]; n == nil {
			return nil
		}
	}
	return n
}

// apply puts layer L on top. With li it records what each entry changes.
func (m *merger) apply(L int, li *LayerInfo) {
	l := m.layers[L]
	nodes := make([]*mnode, len(l.Entries))
	m.last = nodes
	if m.account {
		for i := range l.Entries {
			if e := &l.Entries[i]; e.Kind == Hardlink {
				k := linkKey{int32(L), e.LinkTo}
				if m.links[k] == 0 {
					m.links[k] = 1 // the first name
				}
				m.links[k]++
			}
		}
	}
	// What opaque directories of this layer hid, by the directory's entry:
	// a name put back is Modified, one not put back is Removed.
	var hidden map[int32]map[string]hiddenNode
	for i := range l.Entries {
		e := &l.Entries[i]
		parent := m.root
		if e.Parent >= 0 {
			parent = nodes[e.Parent]
		}
		old := parent.kids[e.Name]
		var was *hiddenNode
		if old == nil && hidden != nil {
			if h, ok := hidden[e.Parent][e.Name]; ok {
				was = &h
			}
		}
		ch := Added
		switch {
		case e.Kind == Whiteout:
			ch = Removed
			rm := removal{parent: e.Parent, entry: int32(i), name: e.Name}
			switch {
			case old != nil:
				rm.kind, rm.bytes = m.kindOf(old), m.hide(old)
				delete(parent.kids, e.Name)
			case was != nil:
				// Hidden by the opaque directory already: removed once.
				rm.kind, rm.bytes = was.kind, was.bytes
				delete(hidden[e.Parent], e.Name)
			}
			if li != nil {
				li.removed = append(li.removed, rm)
			}
		case e.Kind == Dir && old != nil && old.dir:
			ch = Unchanged
			if oe := m.entry(old); e.Opaque || oe.Mode != e.Mode || oe.UID != e.UID || oe.GID != e.GID {
				ch = Modified
			}
			if e.Opaque && len(old.kids) > 0 {
				if hidden == nil {
					hidden = map[int32]map[string]hiddenNode{}
				}
				h := make(map[string]hiddenNode, len(old.kids))
				for name, k := range old.kids {
					h[name] = hiddenNode{kind: m.kindOf(k), bytes: m.hide(k)}
				}
				hidden[int32(i)] = h
				old.kids = map[string]*mnode{}
			}
			old.layer, old.idx = int32(L), int32(i)
			nodes[i] = old
		default:
			if old != nil || was != nil {
				ch = Modified
			}
			if old != nil {
				m.hide(old)
			}
			n := &mnode{name: e.Name, parent: parent, layer: int32(L), idx: int32(i), dir: e.Kind == Dir}
			if n.dir {
				n.kids = map[string]*mnode{}
				nodes[i] = n
			}
			parent.kids[e.Name] = n
		}
		if li != nil {
			li.changes[i] = ch
			switch ch {
			case Added:
				li.Added++
			case Modified:
				li.Modified++
			case Removed:
				li.Removed++
			}
		}
	}
	if li == nil {
		return
	}
	for dir, names := range hidden {
		for name, h := range names {
			if _, back := nodes[dir].kids[name]; !back {
				li.removed = append(li.removed, removal{parent: dir, entry: -1, name: name, kind: h.kind, bytes: h.bytes})
				li.Removed++
			}
		}
	}
}

type hiddenNode struct {
	kind  Kind
	bytes int64
}

// kindOf is the kind of what n shows (a hard link: its file's kind).
func (m *merger) kindOf(n *mnode) Kind {
	e := m.entry(n)
	if e.Kind == Hardlink {
		return m.layers[n.layer].Entries[e.LinkTo].Kind
	}
	return e.Kind
}

// hide takes n and everything under it out of sight (a higher layer
// removes or replaces it) and returns the bytes that frees. When
// accounting, those bytes are waste; a hard-linked file's bytes are freed
// only when its last visible name goes.
func (m *merger) hide(n *mnode) int64 {
	if n.dir {
		var total int64
		for _, k := range n.kids {
			total += m.hide(k)
		}
		return total
	}
	e := m.entry(n)
	if !m.account {
		return e.Bytes()
	}
	var wasted int64
	switch e.Kind {
	case Regular:
		wasted = e.Size
		k := linkKey{n.layer, n.idx}
		if refs, ok := m.links[k]; ok {
			if m.links[k] = refs - 1; refs > 1 {
				wasted = 0
			}
		}
	case Hardlink:
		k := linkKey{n.layer, e.LinkTo}
		m.links[k]--
		if m.links[k] == 0 {
			wasted = m.layers[n.layer].Entries[e.LinkTo].Size
		}
	}
	if wasted > 0 {
		p := n.path()
		w := m.waste[p]
		if w == nil {
			w = &Waste{Path: p}
			m.waste[p] = w
		}
		w.Copies++
		w.Wasted += wasted
		m.layerWaste[n.layer] += wasted
	}
	return wasted
}
