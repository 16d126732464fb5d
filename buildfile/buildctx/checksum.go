package buildctx

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// fileID names a file's content as long as it is unchanged: any write,
// chmod, chown or xattr change moves its ctime.
type fileID struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64
}

type fileSum struct {
	sum  [sha256.Size]byte
	caps string // security.capability
}

// Checksum stands for srcs in a COPY or ADD step's cache key: a sha256
// over each source (in order; a wildcard's matches sorted) and, for a
// directory, everything it copies: names, types, modes and owners as the
// layer will have them (o.Chmod, o.Chown applied), sizes, link targets,
// device numbers, hard links between them, file capabilities and content
// hashes; never times, so a touched file or a fresh checkout hits the
// cache. o.Chown, o.Chmod and o.Add are in it; dest, o.Workdir and o.Base
// are not (dest is not an argument; the executor keys the instruction as
// written and the parent image). Content hashes are kept per Context by
// inode and change time, so an unchanged file is read once per build.
func (c *Context) Checksum(srcs []string, o CopyOptions) (string, error) {
	root, err := c.openRoot()
	if err != nil {
		return "", err
	}
	defer root.Close()
	sources, err := c.sources(root, srcs)
	if err != nil {
		return "", err
	}
	groups := make([][]node, len(sources))
	var files []*node // regular files, one per inode
	seen := map[[2]uint64]bool{}
	for i, s := range sources {
		if groups[i], err = c.nodes(root, s); err != nil {
			return "", err
		}
		for j := range groups[i] {
			n := &groups[i][j]
			key := [2]uint64{n.st.Dev, n.st.Ino}
			if n.st.Mode&unix.S_IFMT == unix.S_IFREG && !seen[key] {
				seen[key] = true
				files = append(files, n)
			}
		}
	}
	if err := c.hashFiles(root, files); err != nil {
		return "", err
	}

	h := sha256.New()
	line := fmt.Appendf(nil, "buildctx v1\nchown %v\nchmod %v\nadd %t\n", ownerString(o.Chown), modeString(o.Chmod), o.Add)
	first := map[[2]uint64]string{} // the first name of each inode with hard links
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, s := range sources {
		line = append(line, "source "...)
		line = strconv.AppendQuote(line, s.Name)
		line = strconv.AppendBool(append(line, ' '), s.Dir)
		line = append(line, '\n')
		for j := range groups[i] {
			n := &groups[i][j]
			hdr := header(n, o, c.keepOwners)
			var sum fileSum
			var linkTo string
			if hdr.Typeflag == tar.TypeReg {
				sum = c.sums[idOf(&n.st)]
				if n.st.Nlink > 1 {
					key := [2]uint64{n.st.Dev, n.st.Ino}
					if f, ok := first[key]; ok {
						linkTo = f
					} else {
						first[key] = strconv.Itoa(i) + ":" + n.sub
					}
				}
			}
			line = appendRecord(line, n.sub, &hdr, &sum, linkTo)
			if len(line) > 32<<10 {
				h.Write(line)
				line = line[:0]
			}
		}
	}
	h.Write(line)
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// appendRecord is one entry's line of the checksum: everything the
// layer's entry is made of, but times.
func appendRecord(b []byte, name string, hdr *tar.Header, sum *fileSum, linkTo string) []byte {
	b = strconv.AppendQuote(b, name)
	b = append(b, ' ', hdr.Typeflag, ' ')
	b = strconv.AppendInt(b, hdr.Mode, 8)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(hdr.Uid), 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(hdr.Gid), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, hdr.Size, 10)
	b = append(b, ' ')
	b = strconv.AppendQuote(b, hdr.Linkname)
	b = append(b, ' ')
	b = strconv.AppendInt(b, hdr.Devmajor, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, hdr.Devminor, 10)
	b = append(b, ' ')
	b = hex.AppendEncode(b, sum.sum[:])
	b = append(b, ' ')
	b = strconv.AppendQuote(b, sum.caps)
	b = append(b, ' ')
	b = strconv.AppendQuote(b, linkTo)
	return append(b, '\n')
}

func ownerString(o *Owner) string {
	if o == nil {
		return "-"
	}
	return fmt.Sprintf("%d:%d", o.UID, o.GID)
}

func modeString(m *os.FileMode) string {
	if m == nil {
		return "-"
	}
	return fmt.Sprintf("%o", chmodBits(*m))
}

// hashFiles puts the content hashes of the regular files nodes in the
// cache, reading those it does not know on a few goroutines.
func (c *Context) hashFiles(root *os.File, nodes []*node) error {
	var todo []*node
	c.mu.Lock()
	for _, n := range nodes {
		if _, ok := c.sums[idOf(&n.st)]; !ok {
			todo = append(todo, n)
		}
	}
	c.mu.Unlock()
	if len(todo) == 0 {
		return nil
	}
	sums := make([]fileSum, len(todo))
	workers := min(runtime.GOMAXPROCS(0), len(todo), 8)
	next := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 128<<10)
			for i := range next {
				s, err := hashFile(root, todo[i], buf)
				if err != nil {
					errs <- err
					for range next { // drain: the sender stops at the first error
					}
					return
				}
				sums[i] = s
			}
		}()
	}
	var err error
send:
	for i := range todo {
		select {
		case next <- i:
		case err = <-errs:
			break send
		}
	}
	close(next)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.sums == nil {
		c.sums = map[fileID]fileSum{}
	}
	for i, n := range todo {
		c.sums[idOf(&n.st)] = sums[i]
	}
	c.mu.Unlock()
	return nil
}

func idOf(st *unix.Stat_t) fileID {
	return fileID{dev: st.Dev, ino: st.Ino, size: st.Size, mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano()}
}

func hashFile(root *os.File, n *node, buf []byte) (fileSum, error) {
	f, err := openFile(root, n.rel, &n.st)
	if err != nil {
		return fileSum{}, fmt.Errorf("checksum %s: %w", n.rel, err)
	}
	defer f.Close()
	h := sha256.New()
	m, err := io.CopyBuffer(h, struct{ io.Reader }{f}, buf)
	if err != nil {
		return fileSum{}, fmt.Errorf("checksum %s: %w", n.rel, err)
	}
	if m != n.st.Size {
		return fileSum{}, fmt.Errorf("checksum %s: it changed while it was read", n.rel)
	}
	var s fileSum
	h.Sum(s.sum[:0])
	s.caps = fdCaps(int(f.Fd()))
	return s, nil
}
