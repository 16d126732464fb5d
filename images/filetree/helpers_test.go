package filetree

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// item is one thing to put in a test snapshot, in the overlay form the
// image store unpacks layers into.
type item struct {
	path   string
	kind   string // "file", "dir", "opaque", "symlink", "hardlink", "whiteout"
	body   string // a file's contents; a link's target
	mode   uint32
	uid    int
	gid    int
	repeat int // "file": body repeated
}

func file(p string, size int) item {
	return item{path: p, kind: "file", body: "x", repeat: size, mode: 0o644}
}
func dir(p string) item             { return item{path: p, kind: "dir", mode: 0o755} }
func opaque(p string) item          { return item{path: p, kind: "opaque", mode: 0o755} }
func symlink(p, target string) item { return item{path: p, kind: "symlink", body: target} }
func hardlink(p, to string) item    { return item{path: p, kind: "hardlink", body: to} }
func whiteout(p string) item        { return item{path: p, kind: "whiteout"} }

// snapshot builds a layer directory under parent; parents of each item
// are made as needed (0755).
func snapshot(t testing.TB, parent, name string, items ...item) string {
	t.Helper()
	root := filepath.Join(parent, name)
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		p := filepath.Join(root, it.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch it.kind {
		case "file":
			err = os.WriteFile(p, []byte(strings.Repeat(it.body, it.repeat)), 0o600)
			if err == nil {
				err = unix.Chmod(p, it.mode) // setuid and friends as numbers
			}
		case "dir", "opaque":
			err = os.MkdirAll(p, 0o700)
			if err == nil {
				err = unix.Chmod(p, it.mode)
			}
			if err == nil && it.kind == "opaque" {
				err = unix.Setxattr(p, xattrOpaque, []byte("y"), 0)
			}
		case "symlink":
			err = os.Symlink(it.body, p)
		case "hardlink":
			err = os.Link(filepath.Join(root, it.body), p)
		case "whiteout":
			err = unix.Mknod(p, unix.S_IFCHR, 0)
		default:
			err = fmt.Errorf("unknown kind %q", it.kind)
		}
		if err == nil && (it.uid != 0 || it.gid != 0) {
			err = os.Lchown(p, it.uid, it.gid)
		}
		if err != nil {
			t.Fatalf("make %s %s: %v", it.kind, it.path, err)
		}
	}
	return root
}

func analyse(t testing.TB, dir string) *Layer {
	t.Helper()
	l, err := Analyse(context.Background(), "sha256:"+filepath.Base(dir), dir)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// render writes a tree one node a line: change marker, path, kind, size.
func render(n *Node) string {
	var b strings.Builder
	var walk func(n *Node)
	walk = func(n *Node) {
		for _, c := range n.Children {
			fmt.Fprintf(&b, "%s %s %c %d", c.Change.Marker(), c.Path(), ModeString(c.Kind, c.Mode)[0], c.Size)
			if c.Link != "" {
				fmt.Fprintf(&b, " -> %s", c.Link)
			}
			b.WriteByte('\n')
			walk(c)
		}
	}
	walk(n)
	return b.String()
}
