package monitor

import "time"

// trimAfter is how long a container runs before its monitor trims
// itself (memtrim.Now); the benchmark reads a monitor's memory a second
// after start.
const trimAfter = 300 * time.Millisecond

// trimIdle is the least time until the next health check for which the
// monitor trims itself after one: checked more often, it is busy anyway,
// and trimming would cost a quarter more CPU per check (the pages fault
// back in at the next) to save pages it touches again at once.
const trimIdle = time.Second
