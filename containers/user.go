package containers

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"

	"berth/errdefs"
)

// User is a resolved process identity.
type User struct {
	UID, GID uint32
	Groups   []uint32
	Home     string
}

// LookupUser resolves a Docker user spec (name|uid[:group|gid]) and the
// --group-add groups against the image's /etc/passwd and /etc/group, read
// from the topmost layer that has them, as Docker does: a numeric uid
// needs no passwd entry, a name does; the groups are the primary one,
// those of /etc/group that list the user (unless the spec names a group),
// then groupAdd (names looked up, numbers as they are).
func LookupUser(lowers []string, spec string, groupAdd []string) (User, error) {
	u := User{Home: "/"}
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	if userPart == "" {
		userPart = "0"
	}
	passwd, _ := readImageFile(lowers, "/etc/passwd")
	group, _ := readImageFile(lowers, "/etc/group")
	users := parseColonFile(passwd, 7)
	groups := parseColonFile(group, 4)

	var name string
	if n, err := strconv.ParseUint(userPart, 10, 32); err == nil {
		u.UID = uint32(n)
		for _, e := range users {
			if e[2] == userPart {
				name = e[0]
				u.GID = parseID(e[3])
				u.Home = e[5]
				break
			}
		}
	} else {
		found := false
		for _, e := range users {
			if e[0] == userPart {
				name, found = e[0], true
				u.UID, u.GID, u.Home = parseID(e[2]), parseID(e[3]), e[5]
				break
			}
		}
		if !found {
			return u, errdefs.InvalidArgument("unable to find user %s: no matching entries in passwd file", userPart)
		}
	}
	if u.UID == 0 && name == "" {
		u.Home = "/root"
	}
	var sgids []uint32
	if hasGroup {
		if n, err := strconv.ParseUint(groupPart, 10, 32); err == nil {
			u.GID = uint32(n)
		} else {
			found := false
			for _, e := range groups {
				if e[0] == groupPart {
					u.GID, found = parseID(e[2]), true
					break
				}
			}
			if !found {
				return u, errdefs.InvalidArgument("unable to find group %s: no matching entries in group file", groupPart)
			}
		}
	} else if name != "" {
		// Supplementary groups: every group that lists the user.
		for _, e := range groups {
			for _, m := range strings.Split(e[3], ",") {
				if m == name {
					sgids = append(sgids, parseID(e[2]))
				}
			}
		}
	}
	for _, ag := range groupAdd {
		gid, err := lookupGroup(groups, ag)
		if err != nil {
			return u, err
		}
		sgids = append(sgids, gid)
	}
	// The primary group first, as Docker lists them; each group once.
	u.Groups = []uint32{u.GID}
	for _, g := range sgids {
		if !slices.Contains(u.Groups, g) {
			u.Groups = append(u.Groups, g)
		}
	}
	return u, u.check()
}

// lookupGroup is a --group-add group's ID: the group of /etc/group with
// that name or number, else the number itself.
func lookupGroup(groups [][]string, ag string) (uint32, error) {
	for _, e := range groups {
		if e[0] == ag || e[2] == ag {
			return parseID(e[2]), nil
		}
	}
	n, err := strconv.ParseUint(ag, 10, 32)
	if err != nil {
		return 0, errdefs.InvalidArgument("Unable to find group %s: no matching entries in group file", ag)
	}
	return uint32(n), nil
}

// MaxID is the largest uid or gid a container process may take, as in
// Docker: 4294967295 is -1 to setresuid (keep root), and ids past 2^31-1
// are negative to much of the system.
const MaxID = 2147483647

func (u User) check() error {
	for _, id := range append([]uint32{u.UID, u.GID}, u.Groups...) {
		if id > MaxID {
			return errdefs.InvalidArgument("uids and gids must be in range 0-%d (got %d)", MaxID, id)
		}
	}
	return nil
}

func parseID(s string) uint32 {
	n, _ := strconv.ParseUint(s, 10, 32)
	return uint32(n)
}

// parseColonFile splits passwd/group style lines into n fields each.
func parseColonFile(b []byte, n int) [][]string {
	var out [][]string
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		for len(f) < n {
			f = append(f, "")
		}
		out = append(out, f)
	}
	return out
}

// readImageFile reads path from the topmost layer that holds it as a
// regular file, resolving symlinks inside that layer only.
func readImageFile(lowers []string, path string) ([]byte, error) {
	first, _, _ := strings.Cut(strings.TrimLeft(path, "/"), "/")
	for i := len(lowers) - 1; i >= 0; i-- {
		// Most layers of a deep image hold nothing of the path: one look.
		if _, err := os.Lstat(filepath.Join(lowers[i], first)); errors.Is(err, os.ErrNotExist) {
			continue
		}
		p, err := securejoin.SecureJoin(lowers[i], path)
		if err != nil {
			continue
		}
		fi, err := os.Lstat(p)
		if err != nil {
			continue
		}
		if !fi.Mode().IsRegular() {
			return nil, os.ErrNotExist // a whiteout or something odd hides it
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(io.LimitReader(f, 4<<20))
		f.Close()
		return b, err
	}
	return nil, errors.New("not found in image")
}
