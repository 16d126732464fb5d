// Package tarmeta applies a tar header's metadata (owner, mode, extended
// attributes, times) to what an extractor just made, without following a
// symlink. berth has two extractors with different policies (image layers,
// docker cp into a container); this is the part they share.
package tarmeta

import (
	"archive/tar"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

const (
	xattrPAXPrefix = "SCHILY.xattr."
	// overlayfs' own attributes: only berth's whiteout handling may set them.
	xattrOverlay = "trusted.overlay."
)

// Setter applies metadata. TolerateChown ignores EPERM from chown (a
// non-root berth copying files of other owners).
type Setter struct {
	TolerateChown bool
}

func (s Setter) chown(err error) error {
	if err == nil || s.TolerateChown && errors.Is(err, unix.EPERM) {
		return nil
	}
	return fmt.Errorf("chown: %w", err)
}

// Fd applies owner, then mode (chown clears set-id bits), then xattrs to
// an open file or directory.
func (s Setter) Fd(fd int, hdr *tar.Header) error {
	if err := s.chown(unix.Fchown(fd, hdr.Uid, hdr.Gid)); err != nil {
		return err
	}
	if err := unix.Fchmod(fd, uint32(hdr.Mode&0o7777)); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	for name, value := range Xattrs(hdr) {
		if err := ignoreUnsettable(unix.Fsetxattr(fd, name, []byte(value), 0)); err != nil {
			return fmt.Errorf("set xattr %s: %w", name, err)
		}
	}
	return nil
}

// Path applies owner, mode (with chmod: never for a symlink), xattrs and
// times to parent/base, which the caller just made, without following it.
func (s Setter) Path(parent int, base string, hdr *tar.Header, chmod bool) error {
	if err := s.chown(unix.Fchownat(parent, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW)); err != nil {
		return err
	}
	if chmod {
		// Not a symlink (the caller just made it): fchmodat's lack of
		// NOFOLLOW is harmless, and the umask must not have the last word.
		if err := unix.Fchmodat(parent, base, uint32(hdr.Mode&0o7777), 0); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	if attrs := Xattrs(hdr); len(attrs) > 0 {
		p := fmt.Sprintf("/proc/self/fd/%d/%s", parent, base)
		for name, value := range attrs {
			if err := ignoreUnsettable(unix.Lsetxattr(p, name, []byte(value), 0)); err != nil {
				return fmt.Errorf("set xattr %s: %w", name, err)
			}
		}
	}
	return SetTimes(parent, base, Atime(hdr), hdr.ModTime)
}

// ignoreUnsettable drops the errors of attributes this file system or this
// process cannot set (security.* without privilege, none at all on tmpfs).
func ignoreUnsettable(err error) error {
	if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EPERM) {
		return nil
	}
	return err
}

// Xattrs returns the extended attributes recorded in the PAX header, less
// overlayfs' own.
func Xattrs(hdr *tar.Header) map[string]string {
	var out map[string]string
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, xattrPAXPrefix)
		if !ok || name == "" || strings.HasPrefix(name, xattrOverlay) {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[name] = v
	}
	return out
}

// Atime is the header's access time, or its modification time when it
// has none.
func Atime(hdr *tar.Header) time.Time {
	if hdr.AccessTime.IsZero() {
		return hdr.ModTime
	}
	return hdr.AccessTime
}

// SetTimes sets parent/base's times without following a symlink.
func SetTimes(parent int, base string, atime, mtime time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	if err := unix.UtimesNanoAt(parent, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

// FdXattrs sets only the header's extended attributes on an open file.
func FdXattrs(fd int, hdr *tar.Header) error {
	for name, value := range Xattrs(hdr) {
		if err := ignoreUnsettable(unix.Fsetxattr(fd, name, []byte(value), 0)); err != nil {
			return fmt.Errorf("set xattr %s: %w", name, err)
		}
	}
	return nil
}
