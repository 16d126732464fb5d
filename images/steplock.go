package images

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"berth/internal/flock"
)

// Build step locks: builds that make the same step at once (same cache
// key) take turns, so that the first makes and records it and the others,
// once the lock is theirs, find its result with CacheLookup: concurrent
// builds of one Dockerfile converge on the same images.
//
// A lock is an flock on steplocks/<sha256 of its name>. Its holder
// removes the file before it lets go, so that locks of steps built long
// ago leave nothing behind. A waiter that opened the file before it was
// removed gets the lock of a file nobody else will ever open: having the
// lock, it checks that its file is still the one at the path, and starts
// again if not. A killed holder's lock goes with it (the kernel drops the
// flock); its file is a leftover that Open removes and Check reports, as
// anything unlocked in steplocks/ is (see staleItem).

// stepLockPath is the lock file of the step lock name.
func (s *Store) stepLockPath(name string) string {
	sum := sha256.Sum256([]byte(name))
	return s.path(dirStepLocks, hex.EncodeToString(sum[:]))
}

// lockStep takes the step lock name; with wait false it does not wait
// for another holder (ok false).
func (s *Store) lockStep(ctx context.Context, name string, wait bool) (unlock func(), ok bool, err error) {
	p := s.stepLockPath(name)
	for {
		fd, err := unix.Open(p, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o600)
		if err != nil {
			return nil, false, fmt.Errorf("build step lock: %w", err)
		}
		if wait {
			err = flock.Wait(ctx, fd, unix.LOCK_EX)
		} else {
			err = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
			if err == unix.EWOULDBLOCK {
				unix.Close(fd)
				return nil, false, nil
			}
		}
		if err != nil {
			unix.Close(fd)
			if ctx.Err() != nil {
				return nil, false, fmt.Errorf("wait for another build making this step: %w", err)
			}
			return nil, false, fmt.Errorf("build step lock: %w", err)
		}
		same, err := sameFile(fd, p)
		if err != nil {
			unix.Close(fd)
			return nil, false, fmt.Errorf("build step lock: %w", err)
		}
		if same {
			return func() {
				// Removed while held: nobody holds or will get this file's lock.
				_ = os.Remove(p)
				unix.Close(fd)
			}, true, nil
		}
		unix.Close(fd) // its holder removed it: the lock is on the next file
	}
}

// sameFile reports whether fd is the file at p.
func sameFile(fd int, p string) (bool, error) {
	var held, now unix.Stat_t
	if err := unix.Fstat(fd, &held); err != nil {
		return false, err
	}
	if err := unix.Lstat(p, &now); err != nil {
		if err == unix.ENOENT {
			return false, nil
		}
		return false, err
	}
	return held.Dev == now.Dev && held.Ino == now.Ino, nil
}
