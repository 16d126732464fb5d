// Package engine is berth's in-process container engine: the one API the
// command line and the terminal UI use. It ties the image store and the
// container store together; there is no daemon, state lives under Root.
//
// The API speaks in the engine's own types: the records of the packages
// below it (Container, Image, Event, LogEntry, LayerTree...) are declared
// here as aliases, and the stores, the runtime and the attach protocol
// stay behind it. The builder reaches the engine through buildfile.Runtime,
// which the engine serves with a value of its own, outside its API.
//
// By subject, file by file:
//
//	engine.go      Engine, New, Options: an open state root
//	containers.go  a container: its record, create, inspect, start, wait,
//	               stop, kill, restart, remove, rename; platform.go,
//	               create's --platform
//	monitors.go    launching a container's monitor; control.go, the
//	               requests (stop, kill) its monitor carries out (which
//	               also runs the health check: State.Health)
//	attach.go      attach sessions: run, start -a, attach, exec -t
//	exec.go        exec; shell.go, a shell to exec; top.go, processes
//	resources.go   limits: pause, unpause, update
//	changes.go     a container's files: diff, commit, cp, export
//	logs.go        a container's log: logs, the pager the UI reads, and
//	               the watcher that wakes both
//	stats.go       resource use: the sampler behind stats; host.go, the
//	               host's totals beside it
//	images.go      images: resolve, list, history, tag, rmi, load, save,
//	               import
//	layers.go      an image's layers analysed, file by file
//	build.go       build
//	events.go      the event log: events, and the UI's subscription
//	system.go      the state root as a whole: disk usage (system df) and
//	               prune; check.go, system check; boot.go, system boot
//	               (the restart policies' work when the machine starts)
//
// Volumes (volumes.go, over package volumes) and networks (networks.go,
// over package netstack) will be subjects of their own.
package engine
