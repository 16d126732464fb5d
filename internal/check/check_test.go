package check

import "testing"

func TestReport(t *testing.T) {
	var r Report
	r.Count("blob", 2)
	if !r.Clean() {
		t.Error("an empty report is not clean")
	}
	r.Add(Harmlessf("ingest/1-2", "a blob being written"))
	if !r.Clean() {
		t.Error("a harmless finding makes the report unclean")
	}
	var o Report
	o.Count("blob", 3)
	o.Count("image", 1)
	p := Problemf("blob sha256:ab", "is corrupt")
	o.Add(p)
	r.Merge(o)
	if r.Clean() || r.Problems() != 1 {
		t.Errorf("with a problem: clean %v, problems %d", r.Clean(), r.Problems())
	}
	if len(r.Checked) != 2 || r.Checked[0] != (Count{"blob", 5}) || r.Checked[1] != (Count{"image", 1}) {
		t.Errorf("counts %v", r.Checked)
	}
	r.Findings[1].Repaired = "removed"
	if !r.Clean() {
		t.Error("a repaired problem still counts")
	}
	if got, want := r.Findings[1].String(), "problem: blob sha256:ab: is corrupt (repaired: removed)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
