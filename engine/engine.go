package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"berth/containers"
	"berth/events"
	"berth/images"
	"berth/internal/flock"
)

// DefaultRoot is where berth keeps its state unless told otherwise.
const DefaultRoot = "/var/lib/berth"

// Engine is an open state root.
type Engine struct {
	root       string
	images     *images.Store
	containers *containers.Store
	events     *events.Log
	early      early // monitors launched by Create for the Start that follows
}

// Options tune New. (Monitors and init stages always run this process's
// own binary, from its sealed view: see runtime.SealedSelf.)
type Options struct {
	// KeepLeftovers skips the clean-up the stores do when opened (the
	// leftovers of interrupted operations, garbage): `system check` wants
	// to see and report the state root as the last process left it.
	KeepLeftovers bool
	// StartSoon: the caller is about to create and start a container
	// (run). A monitor is launched at once, to wait for it, so that the
	// monitor's start-up overlaps the opening of the stores too.
	StartSoon bool
}

// New opens (creating if needed) the state root.
func New(root string, opts Options) (*Engine, error) {
	if root == "" {
		root = DefaultRoot
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(root, 0o711); err != nil {
		return nil, fmt.Errorf("open state root %s: %w", root, err)
	}
	var spare *launched
	if opts.StartSoon {
		spare = launchEarly(root)
	}
	is, err := images.OpenWith(filepath.Join(root, "images"), images.OpenOptions{KeepLeftovers: opts.KeepLeftovers})
	if err != nil {
		return nil, err
	}
	cs, err := containers.OpenStoreWith(filepath.Join(root, "containers"), containers.OpenOptions{KeepLeftovers: opts.KeepLeftovers})
	if err != nil {
		return nil, err
	}
	e := &Engine{root: root, images: is, containers: cs, events: events.Open(root)}
	e.early.spare = spare
	if !opts.KeepLeftovers {
		// As the stores do for theirs: what killed builds left goes.
		for _, p := range e.deadTempDirs() {
			_ = os.RemoveAll(p)
		}
	}
	return e, nil
}

// Root is the state root directory (`info` shows it).
func (e *Engine) Root() string { return e.root }

// gcLock guards image deletion against container creation: creators hold
// it shared from resolving the image until their record names it; image
// removal holds it exclusive. Several berth processes share it via flock;
// ctx ends the wait for it.
func (e *Engine) gcLock(ctx context.Context, exclusive bool) (func(), error) {
	unlock, err := flock.Lock(ctx, filepath.Join(e.root, "gc.lock"), exclusive)
	if err != nil {
		return nil, fmt.Errorf("lock state: %w", err)
	}
	return unlock, nil
}
