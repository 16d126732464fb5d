package table

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"berth/ui/common"
	"berth/ui/keys"
	"berth/ui/styles"
	"berth/ui/uitest"
)

func TestClamp(t *testing.T) {
	for _, tt := range []struct{ cursor, offset, n, page, wantC, wantO int }{
		{0, 0, 0, 5, 0, 0},
		{-3, 0, 10, 5, 0, 0},
		{12, 0, 10, 5, 9, 5},
		{6, 0, 10, 5, 6, 2},
		{2, 6, 10, 5, 2, 2},
		{4, 3, 10, 5, 4, 3},
		{3, 8, 10, 5, 3, 3},
		{0, 4, 3, 5, 0, 0}, // fewer rows than a page: no offset
	} {
		c, o := Clamp(tt.cursor, tt.offset, tt.n, tt.page)
		if c != tt.wantC || o != tt.wantO {
			t.Errorf("Clamp(%d,%d,%d,%d) = %d,%d; want %d,%d", tt.cursor, tt.offset, tt.n, tt.page, c, o, tt.wantC, tt.wantO)
		}
	}
}

func TestFilter(t *testing.T) {
	rows := []string{"web nginx running", "db postgres exited", "Cache redis running"}
	for _, tt := range []struct {
		q    string
		want int
	}{{"", 3}, {"run", 2}, {"RUN cache", 1}, {"nope", 0}, {"  ", 3}} {
		if got := Filter(rows, tt.q, func(s string) string { return s }); len(got) != tt.want {
			t.Errorf("Filter(%q) = %v, want %d rows", tt.q, got, tt.want)
		}
	}
}

type row struct {
	name string
	n    int
}

func newTable(n int) *Model[row] {
	c := &common.Common{Styles: styles.New(true), Keys: keys.Default(), Now: func() time.Time { return time.Unix(0, 0) }}
	m := New(c, Options[row]{
		Columns: []Column[row]{
			{Title: "NAME", Width: 8, Flex: true, Cell: func(r row) string { return r.name }, Less: func(a, b row) bool { return a.name < b.name }},
			{Title: "N", Width: 4, Cell: func(r row) string { return fmt.Sprint(r.n) }, Less: func(a, b row) bool { return a.n < b.n }},
			{Title: "WIDE", Width: 6, MinTotal: 100, Cell: func(r row) string { return "wide" }},
		},
		Key:  func(r row) string { return r.name },
		Text: func(r row) string { return r.name },
	})
	var rows []row
	for i := 0; i < n; i++ {
		rows = append(rows, row{fmt.Sprintf("row%02d", i), (i * 7) % n})
	}
	m.SetRows(rows)
	m.SetSize(30, 6)
	m.Focus()
	return m
}

func press(m *Model[row], keys ...string) {
	for _, k := range keys {
		var msg tea.KeyPressMsg
		switch k {
		case "down":
			msg = tea.KeyPressMsg{Code: tea.KeyDown}
		case "up":
			msg = tea.KeyPressMsg{Code: tea.KeyUp}
		case "enter":
			msg = tea.KeyPressMsg{Code: tea.KeyEnter}
		case "esc":
			msg = tea.KeyPressMsg{Code: tea.KeyEscape}
		case "backspace":
			msg = tea.KeyPressMsg{Code: tea.KeyBackspace}
		default:
			r := []rune(k)[0]
			msg = tea.KeyPressMsg{Code: r, Text: k}
		}
		m.Update(msg)
	}
}

func TestNavigateFilterSort(t *testing.T) {
	m := newTable(20)
	press(m, "j", "j", "down")
	if r, _ := m.Selected(); r.name != "row03" {
		t.Fatalf("after 3 downs: %s", r.name)
	}
	press(m, "G")
	if r, _ := m.Selected(); r.name != "row19" || m.offset != 15 {
		t.Fatalf("bottom: %s offset %d", r.name, m.offset)
	}
	// Filter as you type; the cursor stays on a shown row.
	press(m, "/", "1", "7")
	if !m.Capturing() || len(m.Visible()) != 1 {
		t.Fatalf("filter 17: capturing %v rows %v", m.Capturing(), m.Visible())
	}
	press(m, "backspace")
	if len(m.Visible()) != 11 { // row01, row10..row19
		t.Fatalf("filter 1: %d rows", len(m.Visible()))
	}
	press(m, "enter")
	if m.Capturing() || m.FilterText() != "1" {
		t.Fatalf("after enter: capturing %v filter %q", m.Capturing(), m.FilterText())
	}
	press(m, "esc")
	if len(m.Visible()) != 20 {
		t.Fatalf("esc clears the filter: %d rows", len(m.Visible()))
	}
	// Sort by the second column, then reverse: the cursor stays on its row.
	sel, _ := m.Selected()
	press(m, "o", "o")
	if col, desc := m.SortColumn(); col != 1 || desc {
		t.Fatalf("sort column %d desc %v", col, desc)
	}
	v := m.Visible()
	for i := 1; i < len(v); i++ {
		if v[i-1].n > v[i].n {
			t.Fatalf("not sorted by N: %v", v)
		}
	}
	if r, _ := m.Selected(); r != sel {
		t.Errorf("cursor moved from %v to %v on sort", sel, r)
	}
	press(m, "O")
	if v := m.Visible(); v[0].n < v[len(v)-1].n {
		t.Errorf("reverse sort: %v", v)
	}
	// Upsert and Delete keep the cursor on its row.
	m.Upsert(row{"row00", 99})
	m.Delete("row05")
	if r, _ := m.Selected(); r.name != sel.name || len(m.Rows()) != 19 {
		t.Errorf("after upsert/delete: selected %v, %d rows", r, len(m.Rows()))
	}
}

func TestClick(t *testing.T) {
	m := newTable(20)
	if !m.Click(3) {
		t.Fatal("click on the third row missed")
	}
	if r, _ := m.Selected(); r.name != "row02" {
		t.Errorf("clicked row: %s", r.name)
	}
	if m.Click(0) || m.Click(40) {
		t.Error("a click on the header or below the rows selected something")
	}
}

func TestView(t *testing.T) {
	m := newTable(20)
	press(m, "j")
	v := m.View()
	if n := len(strings.Split(v, "\n")); n != 6 {
		t.Fatalf("%d lines", n)
	}
	uitest.Golden(t, "table_30x6", v, 30, 6)
	m.SetSize(120, 4)
	uitest.Golden(t, "table_120x4", m.View(), 120, 4)
	m.SetRows(nil)
	uitest.Golden(t, "table_empty", m.View(), 120, 4)
}
