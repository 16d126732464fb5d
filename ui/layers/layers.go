// Package layers is the Layers tab of an image: its layers with the
// instruction that made each, the space wasted, and for the selected layer
// a foldable file tree marking what the layer adds (+), modifies (~) and
// removes (-).
package layers

import (
	"context"
	"errors"
	"strconv"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"berth/engine"
	"berth/ui/common"
	"berth/ui/search"
)

// focus is the part of the pane that takes movement keys.
type focus int

const (
	focusLayers focus = iota
	focusTree
)

// maxTrees bounds the trees kept built (a full tree of a big image holds
// every file of it).
const maxTrees = 8

type treeKey struct {
	layer       int
	onlyChanges bool
}

// Model is the Layers pane.
type Model struct {
	c    *common.Common
	load func(ctx context.Context, ref string) (*engine.LayerTree, error)
	w, h int

	ref     string
	gen     int // counts Opens; a load started for an earlier one is dropped
	cancel  context.CancelFunc
	loading bool
	err     error
	img     *engine.LayerTree

	focus       focus
	layer       int // the selected layer
	layerTop    int // first layer row shown
	onlyChanges bool

	trees  map[treeKey]*engine.FileNode
	rows   []row
	cursor int // the tree row selected
	top    int // first tree row shown
	folds  folds
	ownerW int // width of the widest uid:gid in the tree

	// search filters the tree, as dive's filter does.
	search *search.Model

	// Help for the two keys that move focus between the parts.
	enterTree, leaveTree, filter key.Binding
}

// loadedMsg carries an analysis, for the ref and Open it was started by.
type loadedMsg struct {
	ref string
	gen int
	img *engine.LayerTree
	err error
}

// New makes an empty Layers pane; Open shows an image in it.
func New(c *common.Common) *Model {
	m := &Model{c: c, onlyChanges: true, trees: map[treeKey]*engine.FileNode{}, search: search.New(c)}
	if c.Engine != nil {
		a := c.Engine.NewLayerAnalyser() // its cache lives as long as the pane
		m.load = a.Layers
	}
	k := c.Keys
	m.enterTree = key.NewBinding(key.WithKeys(append(k.Enter.Keys(), k.Right.Keys()...)...), key.WithHelp(k.Enter.Help().Key, "files"))
	m.filter = key.NewBinding(key.WithKeys(k.Search.Keys()...), key.WithHelp(k.Search.Help().Key, "filter files"))
	m.leaveTree = key.NewBinding(key.WithKeys(k.Back.Keys()...), key.WithHelp(k.Back.Help().Key, "layers"))
	return m
}

// Ref is the image shown ("" when none).
func (m *Model) Ref() string { return m.ref }

// Open shows the image ref, analysing it in the background. Opening the
// image already shown reloads it and keeps the place in it.
func (m *Model) Open(ref string) tea.Cmd {
	if m.cancel != nil {
		m.cancel()
	}
	m.gen++
	if ref != m.ref {
		m.ref, m.img, m.err = ref, nil, nil
		m.focus, m.layer, m.layerTop, m.cursor, m.top = focusLayers, 0, 0, 0, 0
		m.rows = nil
		clear(m.trees)
	}
	m.loading = true
	if m.load == nil {
		m.loading, m.err = false, errors.New("no engine to analyse it with")
		return nil
	}
	parent := m.c.Ctx
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithCancel(parent)
	m.cancel = cancel
	gen, load := m.gen, m.load
	return func() tea.Msg {
		defer cancel()
		img, err := load(ctx, ref)
		return loadedMsg{ref: ref, gen: gen, img: img, err: err}
	}
}

// SetSize sets the pane's size in cells.
func (m *Model) SetSize(w, h int) {
	m.w, m.h = max(w, 0), max(h, 0)
	m.clamp()
}

// WantsBack reports that esc is the pane's own: it clears the filter or
// leaves the file tree.
func (m *Model) WantsBack() bool { return m.focus == focusTree || m.search.Shown() }

// Capturing reports that the filter input takes every key.
func (m *Model) Capturing() bool { return m.search.Capturing() }

// Filter is the file filter typed or kept.
func (m *Model) Filter() string { return m.search.Query() }

// ShortHelp lists the keys of the part that has focus.
func (m *Model) ShortHelp() []key.Binding {
	k := m.c.Keys
	if m.focus == focusTree {
		return []key.Binding{k.Up, k.Down, k.Toggle, k.Left, k.Right, m.filter, k.ExpandAll, k.CollapseAll, k.OnlyChanges, m.leaveTree}
	}
	return []key.Binding{k.Up, k.Down, m.enterTree, m.filter, k.OnlyChanges, k.ExpandAll, k.CollapseAll}
}

// Update handles keys, the wheel, and finished analyses.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case loadedMsg:
		m.loaded(msg)
	case tea.KeyPressMsg:
		return m.key(msg)
	case tea.MouseWheelMsg:
		m.move(common.Wheel(msg))
	}
	return nil
}

func (m *Model) loaded(msg loadedMsg) {
	if msg.gen != m.gen || msg.ref != m.ref {
		return // stale: another image was opened since
	}
	m.loading = false
	if msg.err != nil {
		m.err, m.img, m.focus = msg.err, nil, focusLayers
		return
	}
	m.err, m.img = nil, msg.img
	clear(m.trees)
	if m.layer >= len(m.img.Layers) {
		m.layer = max(len(m.img.Layers)-1, 0)
	}
	m.rebuild()
}

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.c.Keys
	{
		res, cmd := m.search.Update(msg)
		switch res {
		case search.Typing:
			if m.img != nil && len(m.img.Layers) > 0 {
				m.focus = focusTree // the filter is the tree's
			}
			m.clamp()
			return cmd
		case search.Changed:
			m.rebuild()
			m.cursor = firstMatch(m.rows, m.search.Query())
			m.clamp()
			return cmd
		case search.Accepted:
			m.clamp()
			return nil
		case search.Cancelled:
			m.rebuild()
			return nil
		}
	}
	if key.Matches(msg, k.Back) && m.search.Shown() {
		m.search.Clear()
		m.rebuild()
		return nil
	}
	if m.focus == focusTree && key.Matches(msg, k.Back) {
		m.focus = focusLayers
		m.clamp()
		return nil
	}
	if m.img == nil {
		return nil
	}
	switch {
	case key.Matches(msg, k.OnlyChanges):
		m.onlyChanges = !m.onlyChanges
		m.rebuild()
		return nil
	case key.Matches(msg, k.ExpandAll):
		m.folds.setAll(false)
		m.rebuild()
		return nil
	case key.Matches(msg, k.CollapseAll):
		m.folds.setAll(true)
		m.rebuild()
		return nil
	case key.Matches(msg, k.Up):
		m.move(-1)
		return nil
	case key.Matches(msg, k.Down):
		m.move(1)
		return nil
	case key.Matches(msg, k.PageUp):
		m.move(-max(m.pageRows()-1, 1))
		return nil
	case key.Matches(msg, k.PageDown):
		m.move(max(m.pageRows()-1, 1))
		return nil
	case key.Matches(msg, k.Top):
		m.move(-1 << 30)
		return nil
	case key.Matches(msg, k.Bottom):
		m.move(1 << 30)
		return nil
	}
	if m.focus == focusLayers {
		if key.Matches(msg, k.Enter, k.Right) && len(m.img.Layers) > 0 {
			m.focus = focusTree
			m.clamp()
		}
		return nil
	}
	switch {
	case key.Matches(msg, k.Toggle):
		if r, ok := m.current(); ok && len(r.n.Children) > 0 {
			m.folds.set(r.path, !m.folds.folded(r.path))
			m.refold()
		}
	case key.Matches(msg, k.Right):
		r, ok := m.current()
		switch {
		case !ok || len(r.n.Children) == 0:
		case m.folds.folded(r.path):
			m.folds.set(r.path, false)
			m.refold()
		default:
			m.move(1) // onto the first child
		}
	case key.Matches(msg, k.Left):
		r, ok := m.current()
		switch {
		case ok && len(r.n.Children) > 0 && !m.folds.folded(r.path):
			m.folds.set(r.path, true)
			m.refold()
		case ok && r.depth > 0:
			m.cursor = parentRow(m.rows, m.cursor)
			m.clamp()
		default:
			m.focus = focusLayers // left of the top level: the layers
		}
	}
	m.clamp()
	return nil
}

// current is the tree row under the cursor.
func (m *Model) current() (row, bool) {
	if m.cursor < 0 || m.cursor >= len(m.rows) {
		return row{}, false
	}
	return m.rows[m.cursor], true
}

// move moves the cursor of the part with focus by d rows.
func (m *Model) move(d int) {
	if m.img == nil {
		return
	}
	if m.focus == focusTree {
		m.cursor = clampInt(m.cursor+d, 0, len(m.rows)-1)
		m.clamp()
		return
	}
	l := clampInt(m.layer+d, 0, len(m.img.Layers)-1)
	if l != m.layer {
		m.layer = l
		m.rebuild()
	}
	m.clamp()
}

// tree is the selected layer's tree, built once.
func (m *Model) tree() *engine.FileNode {
	k := treeKey{m.layer, m.onlyChanges}
	if t, ok := m.trees[k]; ok {
		return t
	}
	if len(m.trees) >= maxTrees {
		clear(m.trees)
	}
	t := m.img.Tree(m.layer, m.onlyChanges)
	m.trees[k] = t
	return t
}

// rebuild lists the rows of the selected layer's tree, keeping the cursor
// on the same path (or the nearest directory above it) when it can.
func (m *Model) rebuild() {
	if m.img == nil || len(m.img.Layers) == 0 {
		m.rows, m.cursor, m.top = nil, 0, 0
		return
	}
	m.refold()
}

// refold lists the rows again after a fold changed.
func (m *Model) refold() {
	path := ""
	if r, ok := m.current(); ok {
		path = r.path
	}
	m.rows = flatten(m.tree(), &m.folds, m.search.Query())
	m.ownerW = 3
	for _, r := range m.rows {
		m.ownerW = max(m.ownerW, len(strconv.FormatUint(uint64(r.n.UID), 10))+1+len(strconv.FormatUint(uint64(r.n.GID), 10)))
	}
	m.cursor = 0
	if path != "" {
		m.cursor = find(m.rows, path)
	}
	m.clamp()
}

// firstMatch is the first row whose path holds the filter, 0 if none.
func firstMatch(rows []row, q string) int {
	for i, r := range rows {
		if search.Contains(r.path, q) {
			return i
		}
	}
	return 0
}

func clampInt(v, lo, hi int) int {
	if v > hi {
		v = hi
	}
	if v < lo {
		v = lo
	}
	return v
}
