package events

import (
	"fmt"
	"sort"
	"strings"
)

// filterKeys are the --filter keys berth understands, as Docker names
// them. Docker's swarm and plugin keys (config, node, plugin, secret,
// service) and daemon have no events in berth and are refused.
var filterKeys = map[string]bool{
	"container": true, // container ID (or a prefix of it) or name
	"event":     true, // action: start, die, ...
	"image":     true, // image ID or name, with or without tag
	"label":     true, // key or key=value among the attributes
	"network":   true, // network ID (prefix) or name
	"scope":     true, // local (everything) or swarm (nothing)
	"type":      true, // container, image, volume, network
	"volume":    true, // volume name (prefix)
}

// Filter selects events the way `docker events --filter` does: the values
// given for one key are alternatives (any may match), different keys must
// all match. The zero Filter matches every event.
type Filter struct {
	terms map[string][]string
}

// ParseFilters reads "key=value" arguments. A key Docker does not know
// here, or an argument without "=", is an error that names it.
func ParseFilters(args []string) (Filter, error) {
	var f Filter
	for _, arg := range args {
		k, v, ok := strings.Cut(arg, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if !ok || k == "" {
			return Filter{}, fmt.Errorf("bad format of filter %q (expected name=value)", arg)
		}
		if !filterKeys[k] {
			return Filter{}, fmt.Errorf("invalid filter '%s'", k)
		}
		if f.terms == nil {
			f.terms = map[string][]string{}
		}
		f.terms[k] = append(f.terms[k], strings.TrimSpace(v))
	}
	return f, nil
}

// IsZero reports whether f matches everything.
func (f Filter) IsZero() bool { return len(f.terms) == 0 }

// String lists the filter as key=value arguments, sorted.
func (f Filter) String() string {
	var parts []string
	for k, vs := range f.terms {
		for _, v := range vs {
			parts = append(parts, k+"="+v)
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// Match reports whether e passes the filter. As in Docker, the container,
// network and volume keys compare the actor of any event type (its ID by
// prefix, its name attribute exactly or by prefix), and image compares an
// image event's ID and name or another event's image attribute.
func (f Filter) Match(e Event) bool {
	if len(f.terms) == 0 {
		return true
	}
	for key, values := range f.terms {
		var ok bool
		switch key {
		case "type":
			ok = anyOf(values, func(v string) bool { return v == e.Type })
		case "event":
			ok = anyOf(values, func(v string) bool { return matchAction(v, e.Action) })
		case "container", "network", "volume":
			ok = anyOf(values, func(v string) bool {
				return strings.HasPrefix(e.Actor.ID, v) || strings.HasPrefix(e.Actor.Attributes["name"], v)
			})
		case "image":
			ok = anyOf(values, func(v string) bool { return matchImage(v, e) })
		case "label":
			ok = matchLabels(values, e.Actor.Attributes)
		case "scope":
			ok = anyOf(values, func(v string) bool { return v == "local" })
		}
		if !ok {
			return false
		}
	}
	return true
}

func anyOf(values []string, match func(string) bool) bool {
	for _, v := range values {
		if match(v) {
			return true
		}
	}
	return false
}

// matchAction compares an action filter with an action; actions that
// carry a command ("exec_start: sh -c ...") match their bare name.
func matchAction(want, action string) bool {
	if want == action {
		return true
	}
	rest, ok := strings.CutPrefix(action, want)
	return ok && strings.HasPrefix(rest, ":")
}

// matchImage compares an image filter with an image event's ID and name,
// or with another event's image attribute, with and without their tags.
func matchImage(want string, e Event) bool {
	name := e.Actor.Attributes["image"]
	if e.Type == TypeImage {
		name = e.Actor.Attributes["name"]
	}
	for _, have := range []string{e.Actor.ID, name} {
		if have == "" {
			continue
		}
		if want == have || want == stripTag(have) {
			return true
		}
	}
	return false
}

// stripTag drops a reference's tag, and Docker Hub's implied registry and
// library/ prefix: docker.io/library/busybox:1.36 is busybox. A digest
// reference, or an ID, is kept as is.
func stripTag(ref string) string {
	if strings.Contains(ref, "@") || strings.HasPrefix(ref, "sha256:") {
		return ref
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref = ref[:i]
	}
	ref = strings.TrimPrefix(ref, "docker.io/")
	return strings.TrimPrefix(ref, "library/")
}

// matchLabels reports whether attrs satisfy every label filter: "key"
// asks that the attribute exists, "key=value" that it has this value.
func matchLabels(want []string, attrs map[string]string) bool {
	for _, w := range want {
		k, v, hasValue := strings.Cut(w, "=")
		got, ok := attrs[k]
		if !ok || (hasValue && got != v) {
			return false
		}
	}
	return true
}
