package stats

import (
	"math"
	"strings"
)

// blocks are the eighths of a cell, from empty to full.
var blocks = [9]rune{' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'}

// Spark renders vals (oldest first) into w cells, one value a cell,
// newest at the right; top fills a cell. More values than cells: the
// oldest are left out; fewer: the left stays blank. NaN and values <= 0
// are blank; any value above zero shows at least an eighth.
func Spark(vals []float32, w int, top float64) string {
	rows := Bars(vals, w, 1, top)
	if len(rows) == 0 {
		return ""
	}
	return rows[0]
}

// Bars renders vals as a bar chart h rows tall and w cells wide, the top
// row first, scaled as Spark scales.
func Bars(vals []float32, w, h int, top float64) []string {
	if w <= 0 || h <= 0 {
		return nil
	}
	if len(vals) > w {
		vals = vals[len(vals)-w:]
	}
	pad := w - len(vals)
	// Each value's height in eighths of a cell.
	levels := make([]int, len(vals))
	full := h * 8
	for i, v := range vals {
		levels[i] = level(float64(v), top, full)
	}
	rows := make([]string, h)
	var b strings.Builder
	for r := range h {
		b.Reset()
		b.Grow(pad + 3*len(vals))
		b.WriteString(strings.Repeat(" ", pad))
		floor := (h - 1 - r) * 8 // eighths below this row
		for _, l := range levels {
			b.WriteRune(blocks[min(max(l-floor, 0), 8)])
		}
		rows[r] = b.String()
	}
	return rows
}

// level scales v against top into 0..full eighths, rounding up so that a
// small value stays visible.
func level(v, top float64, full int) int {
	if math.IsNaN(v) || v <= 0 || top <= 0 {
		return 0
	}
	// The epsilon keeps an exact multiple (a value equal to top) from
	// rounding up past it.
	l := int(math.Ceil(v/top*float64(full) - 1e-9))
	return min(max(l, 1), full)
}

// Peak is the largest value of vals, NaN left out (0 when none).
func Peak(vals []float32) float64 {
	var m float64
	for _, v := range vals {
		if f := float64(v); f > m {
			m = f
		}
	}
	return m
}

// Last is the newest value of vals that is not NaN.
func Last(vals []float32) (float64, bool) {
	for i := len(vals) - 1; i >= 0; i-- {
		if !math.IsNaN(float64(vals[i])) {
			return float64(vals[i]), true
		}
	}
	return 0, false
}
