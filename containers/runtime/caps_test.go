package runtime

import (
	"reflect"
	"testing"
)

func TestMergeCaps(t *testing.T) {
	base := []string{"CAP_CHOWN", "CAP_KILL"}
	for _, tc := range []struct {
		add, drop []string
		want      []string
		wantErr   bool
	}{
		{nil, nil, []string{"CAP_CHOWN", "CAP_KILL"}, false},
		{[]string{"net_admin"}, nil, []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_ADMIN"}, false},
		{nil, []string{"CAP_KILL"}, []string{"CAP_CHOWN"}, false},
		{[]string{"SYS_TIME"}, []string{"ALL"}, []string{"CAP_SYS_TIME"}, false},
		{nil, []string{"ALL"}, []string{}, false},
		{[]string{"NOT_A_CAP"}, nil, nil, true},
	} {
		got, err := MergeCaps(base, tc.add, tc.drop)
		if tc.wantErr != (err != nil) {
			t.Errorf("add %v drop %v: err %v", tc.add, tc.drop, err)
			continue
		}
		if !tc.wantErr && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("add %v drop %v: got %v, want %v", tc.add, tc.drop, got, tc.want)
		}
	}
	all, err := MergeCaps(nil, []string{"ALL"}, nil)
	if err != nil || len(all) < 38 {
		t.Errorf("ALL gave %d caps (%v)", len(all), err)
	}
}

func TestDefaultCapsMask(t *testing.T) {
	// Docker's default set, as /proc/self/status shows it in a container.
	m, err := capMask(DefaultCaps)
	if err != nil || m != 0xa80425fb {
		t.Errorf("default caps mask %#x (%v), want 0xa80425fb", m, err)
	}
}

func TestParseMountOptions(t *testing.T) {
	flags, prop, data := parseMountOptions([]string{"nosuid", "ro", "rbind", "rprivate", "mode=755", "size=1k"})
	if flags == 0 || prop == 0 || data != "mode=755,size=1k" {
		t.Errorf("flags %#x prop %#x data %q", flags, prop, data)
	}
}

func TestLookPathCode(t *testing.T) {
	if _, err := lookPath("definitely-not-here", []string{"PATH=/nonexistent"}); err == nil || lookPathCode(err) != ExitNotFound {
		t.Errorf("missing command: %v", err)
	}
	if _, err := lookPath("/etc/passwd", nil); err == nil || lookPathCode(err) != ExitCannotExec {
		t.Errorf("non-executable: %v", err)
	}
	if p, err := lookPath("sh", []string{"PATH=/bin:/usr/bin"}); err != nil || p == "" {
		t.Errorf("sh: %q %v", p, err)
	}
}
