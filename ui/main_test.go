package ui

import (
	"testing"

	"berth/internal/reexec"
)

// The test binary doubles as berth's monitor and init.
func TestMain(m *testing.M) { reexec.TestMain(m, "UI") }
