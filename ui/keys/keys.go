// Package keys is the UI's key map: one table of bindings with their help
// text, from which the help bar and the ? overlay are generated.
package keys

import "charm.land/bubbles/v2/key"

// KeyMap holds every binding. Panes look bindings up here; nothing matches
// a literal key string elsewhere, so changing a key changes it everywhere.
type KeyMap struct {
	// Global.
	Quit, Help, NextPane, PrevPane, Back key.Binding
	// The lists; volumes and networks join them when the engine has them.
	Containers, Images key.Binding
	PrevTab, NextTab   key.Binding

	// Movement, shared by every list and viewer.
	Up, Down, PageUp, PageDown, Top, Bottom, Left, Right, Enter key.Binding

	// Lists.
	Filter, Sort, SortReverse key.Binding

	// Container actions.
	Run, Start, Stop, Restart, Kill, Pause, Remove, Attach, Exec, Commit, Prune key.Binding
	// Image actions (Run, Remove, Prune are shared).
	Tag, Build key.Binding

	// Logs.
	Follow, Freeze, Search, NextMatch, PrevMatch, Timestamps, Wrap, Save key.Binding

	// Trees (layers).
	Toggle, ExpandAll, CollapseAll, OnlyChanges key.Binding

	// Dialogs and forms.
	Confirm, Cancel, NextField, PrevField key.Binding
}

// Default is berth's key map: arrows and vim keys for movement, the
// letters lazydocker and Docker users reach for first.
func Default() *KeyMap {
	b := func(help, desc string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return &KeyMap{
		Quit:     b("q", "quit", "q", "ctrl+c"),
		Help:     b("?", "help", "?"),
		NextPane: b("tab", "pane", "tab"),
		PrevPane: b("shift+tab", "pane back", "shift+tab"),
		Back:     b("esc", "back", "esc"),

		Containers: b("1", "containers", "1"),
		Images:     b("2", "images", "2"),
		PrevTab:    b("[", "tab back", "["),
		NextTab:    b("]", "tab", "]"),

		Up:       b("↑/k", "up", "up", "k"),
		Down:     b("↓/j", "down", "down", "j"),
		PageUp:   b("pgup", "page up", "pgup", "ctrl+b", "ctrl+u"),
		PageDown: b("pgdn", "page down", "pgdown", "ctrl+f", "ctrl+d"),
		Top:      b("g/home", "top", "g", "home"),
		Bottom:   b("G/end", "bottom", "G", "end"),
		Left:     b("←/h", "left/collapse", "left", "h"),
		Right:    b("→/l", "right/expand", "right", "l"),
		Enter:    b("enter", "open", "enter"),

		Filter:      b("/", "filter", "/"),
		Sort:        b("o", "sort", "o"),
		SortReverse: b("O", "reverse", "O"),

		Run:     b("r", "run", "r"),
		Start:   b("u", "start", "u"),
		Stop:    b("s", "stop", "s"),
		Restart: b("R", "restart", "R"),
		Kill:    b("K", "kill", "K"),
		Pause:   b("p", "pause/unpause", "p"),
		Remove:  b("d", "remove", "d", "delete"),
		Attach:  b("a", "attach", "a"),
		Exec:    b("x", "exec shell", "x"),
		Commit:  b("c", "commit", "c"),
		Prune:   b("P", "prune", "P"),
		Tag:     b("t", "tag", "t"),
		Build:   b("b", "build", "b"),

		Follow:     b("f", "follow", "f"),
		Freeze:     b("space", "pause output", "space"),
		Search:     b("/", "search", "/"),
		NextMatch:  b("n", "next match", "n"),
		PrevMatch:  b("N", "previous match", "N"),
		Timestamps: b("T", "timestamps", "T"),
		Wrap:       b("w", "wrap", "w"),
		Save:       b("S", "save to file", "S"),

		Toggle:      b("space", "fold/unfold", "space", "enter"),
		ExpandAll:   b("E", "expand all", "E"),
		CollapseAll: b("C", "collapse all", "C"),
		OnlyChanges: b("F", "only changes", "F"),

		Confirm:   b("enter", "confirm", "enter"),
		Cancel:    b("esc", "cancel", "esc"),
		NextField: b("tab/↓", "next field", "tab", "down"),
		PrevField: b("shift+tab/↑", "previous field", "shift+tab", "up"),
	}
}

// Group is a titled set of bindings in the ? overlay.
type Group struct {
	Title    string
	Bindings []key.Binding
}

// Groups lays the whole map out for the ? overlay.
func (k *KeyMap) Groups() []Group {
	return []Group{
		{"General", []key.Binding{k.Help, k.Quit, k.NextPane, k.PrevPane, k.Back, k.Containers, k.Images, k.PrevTab, k.NextTab}},
		{"Move", []key.Binding{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom, k.Enter, k.Filter, k.Sort, k.SortReverse}},
		{"Containers", []key.Binding{k.Run, k.Start, k.Stop, k.Restart, k.Kill, k.Pause, k.Remove, k.Attach, k.Exec, k.Commit, k.Prune}},
		{"Images", []key.Binding{k.Run, k.Build, k.Tag, k.Remove, k.Prune}},
		{"Logs", []key.Binding{k.Follow, k.Freeze, k.Search, k.NextMatch, k.PrevMatch, k.Timestamps, k.Wrap, k.Save}},
		{"Layers", []key.Binding{k.Toggle, k.ExpandAll, k.CollapseAll, k.OnlyChanges, k.Left, k.Right}},
	}
}
