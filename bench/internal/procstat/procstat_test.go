package procstat

import (
	"os"
	"testing"
)

func TestOwnProcess(t *testing.T) {
	// Burn a little CPU so the counters are not all zero.
	x := 0
	for i := range 50_000_000 {
		x += i
	}
	_ = x
	if _, err := CPU(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	m, err := ReadMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 || m.Peak < m.RSS {
		t.Fatalf("memory %+v: want 0 < RSS <= peak", m)
	}
	if busy, err := MachineBusy(); err != nil || busy <= 0 {
		t.Fatalf("machine busy %v, %v", busy, err)
	}
}

func TestParseStatWithParenthesesInComm(t *testing.T) {
	raw := []byte("4242 (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 3 4 20 0 1 0 100 0 0\n")
	got, err := parseStat(4242, raw)
	if err != nil {
		t.Fatal(err)
	}
	want := times{comm: "odd) name", utime: 250, stime: 75, cutime: 3, cstime: 4}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}
