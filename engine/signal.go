package engine

import (
	units "github.com/docker/go-units"

	"berth/errdefs"
)

// parseSize reads sizes as Docker writes them: 512m, 1g, 10k, 100 (bytes).
func parseSize(s string) (int64, error) {
	n, err := units.RAMInBytes(s)
	if err != nil {
		return 0, errdefs.InvalidArgument("invalid size %q: %v", s, err)
	}
	return n, nil
}
