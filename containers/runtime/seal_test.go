package runtime

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The test binary re-executed through its sealed view reports whether it
// runs sealed.
func init() {
	if os.Getenv("BERTH_SEAL_PROBE") == "1" {
		if IsSealed() {
			os.Stdout.WriteString("sealed\n")
		} else {
			os.Stdout.WriteString("not sealed\n")
		}
		os.Exit(0)
	}
}

// writable reports whether path can be opened and written.
func writable(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.Write([]byte("pwned"))
	return err
}

func TestSealedViewsRefuseWrites(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root (fsopen of overlayfs)")
	}
	for name, open := range map[string]func(string) (*os.File, error){
		"overlay": sealedOverlay, "memfd": sealedMemfd,
	} {
		t.Run(name, func(t *testing.T) {
			f, err := open("/proc/self/exe")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			p := fdPath(f)
			if !isSealedFile(p) {
				t.Errorf("%s: not recognised as sealed", p)
			}
			err = writable(p)
			if err == nil {
				t.Fatalf("%s: a write went through", p)
			}
			if !errors.Is(err, unix.EROFS) && !errors.Is(err, unix.EPERM) {
				t.Errorf("write: %v, want EROFS or EPERM", err)
			}
		})
	}
	// The binary itself is not sealed, and was not changed.
	if isSealedFile("/proc/self/exe") {
		t.Error("the test binary on disk counts as sealed")
	}
}

// A binary right in the temporary directory (/tmp/berth) still gets an
// overlay, not the costly copy: the empty layer goes elsewhere.
func TestSealedOverlayOfBinaryInTempDir(t *testing.T) {
	exe, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.CreateTemp("", "berth-seal-test-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(exe); err != nil {
		t.Fatal(err)
	}
	f.Close()
	sealed, err := sealedOverlay(f.Name())
	if err != nil {
		t.Fatalf("overlay of %s: %v", f.Name(), err)
	}
	defer sealed.Close()
	if err := writable(fdPath(sealed)); !errors.Is(err, unix.EROFS) {
		t.Errorf("write through the overlay: %v, want EROFS", err)
	}
}

func TestSealedSelfRunsSealed(t *testing.T) {
	self, err := SealedSelf()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(self, "/proc/self/fd/") {
		t.Fatalf("SealedSelf = %q, want a descriptor path", self)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), "BERTH_SEAL_PROBE=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != "sealed" {
		t.Errorf("child through %s says %q", self, got)
	}
	// Made once per process.
	if again, _ := SealedSelf(); again != self {
		t.Errorf("second SealedSelf = %q, first %q", again, self)
	}
}

func BenchmarkSealOverlay(b *testing.B) {
	for b.Loop() {
		f, err := sealedOverlay("/proc/self/exe")
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}

func BenchmarkSealMemfd(b *testing.B) {
	for b.Loop() {
		f, err := sealedMemfd("/proc/self/exe")
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}
