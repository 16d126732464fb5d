package engine

import "berth/images"

// What the engine keeps to itself, for its tests.

// BuildRuntime is what the engine serves the builder.
type BuildRuntime = buildRuntime

// ImageStore is the engine's image store.
func ImageStore(e *Engine) *images.Store { return e.images }
