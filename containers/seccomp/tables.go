package seccomp

import "sort"

//go:generate go run gen.go

// sysName is one syscall of an architecture's table.
type sysName struct {
	name string
	nr   uint32
}

// sysTable is one architecture's syscalls, sorted by name so that look-ups
// need no map built at start-up (the tables are static data).
type sysTable struct {
	// max is the highest number of the kernel's regular table: anything
	// above it (and not in names) is newer than this build of berth.
	max   uint32
	names []sysName
}

// lookup returns the number of the syscall called name.
func (t *sysTable) lookup(name string) (uint32, bool) {
	i := sort.Search(len(t.names), func(i int) bool { return t.names[i].name >= name })
	if i < len(t.names) && t.names[i].name == name {
		return t.names[i].nr, true
	}
	return 0, false
}
