package lab

import (
	"os"
	"testing"
)

func TestProcReaders(t *testing.T) {
	pid := os.Getpid()
	if rss, peak := RSS(pid), PeakRSS(pid); rss <= 0 || peak < rss {
		t.Errorf("RSS %d, peak %d", rss, peak)
	}
	x := 0
	for i := range 20_000_000 { // some CPU time to see
		x += i
	}
	if u, s := CPUSplit(pid); u+s <= 0 || CPUSeconds(pid) < u+s || x == 0 {
		t.Errorf("CPU user %v sys %v", u, s)
	}
	if RSS(-1) != 0 || CPUSeconds(-1) != 0 || StatusKB(pid, "NoSuchField") != 0 {
		t.Error("a missing process or field is not 0")
	}
}
