package cgroups

import (
	"os"
	"testing"
)

// PrimeAttach is a move to where the process already is: nothing changes.
func TestPrimeAttachMovesNothing(t *testing.T) {
	before, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	PrimeAttach()
	after, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Errorf("cgroups changed:\nbefore %s\nafter %s", before, after)
	}
}
