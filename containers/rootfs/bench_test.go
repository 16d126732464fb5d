package rootfs

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkMount times the mount of a container's root of 1 to 500 layers
// (read-write, volatile, as a --rm container's, its work dir made anew
// each time), through the new mount API and through mount(2):
//
//	go test -run - -bench Mount ./containers/rootfs/
func BenchmarkMount(b *testing.B) {
	for _, legacy := range []bool{false, true} {
		for _, n := range []int{1, 59, 128, MaxLayers} {
			api := "new"
			if legacy {
				api = "mount2"
			}
			b.Run(fmt.Sprintf("%s/%d", api, n), func(b *testing.B) {
				old := legacyOnly
				legacyOnly = legacy
				defer func() { legacyOnly = old }()
				dir, lowers := layers(b, n)
				upper, work, target := filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "root")
				for _, d := range []string{upper, work, target} {
					os.Mkdir(d, 0o755)
				}
				err := InPrivateNamespace(func() error {
					for b.Loop() {
						if err := Mount(target, Layers{Lowers: lowers, Upper: upper, Work: work, Volatile: true}); err != nil {
							return err
						}
						b.StopTimer()
						if err := unix.Unmount(target, 0); err != nil {
							return err
						}
						// A volatile mount marks its work dir: the next
						// container has a new one.
						os.RemoveAll(work)
						os.Mkdir(work, 0o755)
						b.StartTimer()
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}
