package stats

import (
	"math"
	"strings"
	"testing"
)

func TestSpark(t *testing.T) {
	nan := float32(math.NaN())
	for _, tc := range []struct {
		name string
		vals []float32
		w    int
		top  float64
		want string
	}{
		{"empty", nil, 4, 10, "    "},
		{"zero width", []float32{1}, 0, 10, ""},
		{"eighths", []float32{0, 1, 2, 3, 4, 5, 6, 7, 8}, 9, 8, " ▁▂▃▄▅▆▇█"},
		{"right aligned", []float32{8, 8}, 5, 8, "   ██"},
		{"newest kept", []float32{8, 0, 4, 8}, 3, 8, " ▄█"},
		{"clamped above top", []float32{16, -3}, 2, 8, "█ "},
		{"small stays visible", []float32{0.01}, 1, 100, "▁"},
		{"rounds up", []float32{4.1}, 1, 8, "▅"},
		{"no data blank", []float32{nan, 8, nan}, 3, 8, " █ "},
		{"zero top", []float32{3}, 1, 0, " "},
		{"top of the percent scale", []float32{100, 50, 12.5}, 3, 100, "█▄▁"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Spark(tc.vals, tc.w, tc.top); got != tc.want {
				t.Errorf("Spark(%v, %d, %g) = %q, want %q", tc.vals, tc.w, tc.top, got, tc.want)
			}
		})
	}
}

func TestBars(t *testing.T) {
	for _, tc := range []struct {
		name string
		vals []float32
		w, h int
		top  float64
		want []string
	}{
		{"two rows", []float32{0, 4, 8, 12, 16}, 5, 2, 16, []string{"   ▄█", " ▄███"}},
		{"three rows", []float32{24, 9, 1}, 3, 3, 24, []string{"█  ", "█▁ ", "██▁"}},
		{"padded", []float32{2}, 3, 2, 2, []string{"  █", "  █"}},
		{"no height", []float32{1}, 3, 0, 1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Bars(tc.vals, tc.w, tc.h, tc.top)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") || len(got) != len(tc.want) {
				t.Errorf("Bars = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPeakLast(t *testing.T) {
	nan := float32(math.NaN())
	if p := Peak([]float32{nan, 3, 7, nan, 2}); p != 7 {
		t.Errorf("Peak = %g, want 7", p)
	}
	if p := Peak(nil); p != 0 {
		t.Errorf("Peak(nil) = %g", p)
	}
	if v, ok := Last([]float32{1, 5, nan}); !ok || v != 5 {
		t.Errorf("Last = %g %v, want 5", v, ok)
	}
	if _, ok := Last([]float32{nan}); ok {
		t.Error("Last of NaN only: ok")
	}
}

func TestGridLayout(t *testing.T) {
	for _, tc := range []struct {
		w, h, n      int
		cols, ph, pw int
	}{
		{78, 7, 8, 0, 0, 0},     // 80x24: a line per metric
		{158, 29, 8, 2, 7, 78},  // 160x48: two columns of panels
		{158, 60, 8, 1, 7, 158}, // tall: one column
		{38, 7, 8, 0, 0, 0},
		{200, 14, 8, 4, 7, 48},
	} {
		cols, ph, pw := gridLayout(tc.w, tc.h, tc.n)
		if cols != tc.cols || (cols > 0 && (ph != tc.ph || pw != tc.pw)) {
			t.Errorf("gridLayout(%d, %d, %d) = %d, %d, %d; want %d, %d, %d", tc.w, tc.h, tc.n, cols, ph, pw, tc.cols, tc.ph, tc.pw)
		}
	}
}
