package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
)

// readInitConfig reads the InitConfig the monitor sends first on the
// config pipe, and refuses one without what the init stage uses without
// looking: a spec with a process to run and a linux section, and but for
// an exec a root. Missing, they would make the stage panic rather than
// report. dec stays usable for what follows (the go-ahead byte).
func readInitConfig(dec *json.Decoder) (InitConfig, error) {
	var cfg InitConfig
	if err := dec.Decode(&cfg); err != nil {
		return cfg, fmt.Errorf("init: read config: %w", err)
	}
	sp := cfg.Spec
	switch {
	case sp == nil:
		return cfg, errors.New("init: read config: no runtime spec")
	case sp.Process == nil || len(sp.Process.Args) == 0:
		return cfg, errors.New("init: read config: the spec has no process to run")
	case sp.Linux == nil:
		return cfg, errors.New("init: read config: the spec has no linux section")
	case !cfg.Exec && (sp.Root == nil || sp.Root.Path == ""):
		return cfg, errors.New("init: read config: the spec has no root")
	}
	return cfg, nil
}
