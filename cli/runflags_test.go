package cli

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestParseExpose: Docker's forms and messages (docker 28).
func TestParseExpose(t *testing.T) {
	got, err := parseExpose([]string{"80", "90-91/udp", "53/udp/x", "1-1/sctp", "7/"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct{}{"80/tcp": {}, "90/udp": {}, "91/udp": {}, "53/udp": {}, "1/sctp": {}, "7/tcp": {}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for v, msg := range map[string]string{
		"80:90": "invalid port format for --expose: 80:90",
		"":      "invalid range format for --expose: , error: empty string specified for ports",
		"/tcp":  "invalid range format for --expose: /tcp, error: empty string specified for ports",
		"70000": `invalid range format for --expose: 70000, error: strconv.ParseUint: parsing "70000": value out of range`,
		"80-70": "invalid range format for --expose: 80-70, error: invalid range specified for port: 80-70",
		"abc":   `invalid range format for --expose: abc, error: strconv.ParseUint: parsing "abc": invalid syntax`,
	} {
		if _, err := parseExpose([]string{v}); err == nil || err.Error() != msg {
			t.Errorf("--expose %q: %v, want %q", v, err, msg)
		}
	}
}

// TestReadKVFile: a --label-file as Docker reads it.
func TestReadKVFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "labels")
	os.WriteFile(p, []byte("\xEF\xBB\xBFa=1\n# a comment\n\n  b=2\nno-value\nd=x y \ne==\n"), 0o644)
	got, err := readKVFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a=1", "b=2", "d=x y ", "e=="}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("b c=1\n"), 0o644)
	if _, err := readKVFile(bad); err == nil || err.Error() != "invalid env file ("+bad+"): variable 'b c' contains whitespaces" {
		t.Errorf("key with a space: %v", err)
	}
	os.WriteFile(bad, []byte("=1\n"), 0o644)
	if _, err := readKVFile(bad); err == nil || err.Error() != "invalid env file ("+bad+"): no variable name on line '=1'" {
		t.Errorf("no key: %v", err)
	}
}

// TestCIDFile: refused when it exists, removed when no container came.
func TestCIDFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "cid")
	c, err := newCIDFile(p)
	if err != nil {
		t.Fatal(err)
	}
	c.close()
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("a cidfile with no ID was left: %v", err)
	}
	c, _ = newCIDFile(p)
	if err := c.write("abc"); err != nil {
		t.Fatal(err)
	}
	c.close()
	if b, _ := os.ReadFile(p); string(b) != "abc" {
		t.Errorf("cidfile holds %q", b)
	}
	if _, err := newCIDFile(p); err == nil || err.Error() != "container ID file found, make sure the other container isn't running or delete "+p {
		t.Errorf("existing cidfile: %v", err)
	}
}
