package monitor

import (
	"encoding/json"
	"net"
	"testing"
	"time"

	"berth/containers"
	"berth/containers/attach"
)

// A client whose hello the monitor reads only after the last run's
// clients were told the exit (its handshake lost the race with the exit)
// is told the same exit, not left to see the connection end. A client
// arriving between two runs of a restarting container is kept for the
// next run.
func TestHelloAfterEnd(t *testing.T) {
	for _, last := range []bool{true, false} {
		m := &monitor{clients: map[*client]bool{}}
		m.endSessions(containers.State{ExitCode: 137}, last)

		ours, theirs := net.Pipe()
		defer ours.Close()
		_ = ours.SetDeadline(time.Now().Add(time.Minute)) // a bound for failing, not a wait
		got := make(chan *client, 1)
		go func() { got <- m.handshake(theirs) }()
		conn := attach.NewConn(ours)
		if err := conn.WriteJSON(attach.Hello, attach.HelloMsg{Stdout: true}); err != nil {
			t.Fatal(err)
		}
		if !last {
			if cl := <-got; cl == nil || !m.clients[cl] {
				t.Fatalf("between runs: client not kept for the next run")
			}
			continue
		}
		typ, p, err := conn.ReadFrame(nil)
		if err != nil || typ != attach.Exit {
			t.Fatalf("after the last run: frame %q, %v; want the Exit", typ, err)
		}
		var exit attach.ExitMsg
		if err := json.Unmarshal(p, &exit); err != nil || exit.Code != 137 {
			t.Fatalf("exit %s (%v), want code 137", p, err)
		}
		if _, _, err := conn.ReadFrame(nil); err == nil {
			t.Fatal("the connection stays open after the Exit")
		}
		if cl := <-got; cl != nil || len(m.clients) != 0 {
			t.Fatal("a client registered after the last run")
		}
	}
}
