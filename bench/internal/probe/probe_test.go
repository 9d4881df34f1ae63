package probe

import (
	"testing"
	"time"
)

func TestQuantiles(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	qs, mx := Quantiles(ds, 0.5, 0.99)
	if qs[0] != 50*time.Millisecond || qs[1] != 99*time.Millisecond || mx != 100*time.Millisecond {
		t.Fatalf("quantiles %v max %v", qs, mx)
	}
	if qs, mx := Quantiles(nil, 0.5); qs[0] != 0 || mx != 0 {
		t.Fatal("empty input")
	}
	if ds[0] != 100*time.Millisecond {
		t.Fatal("Quantiles sorted its input in place")
	}
}
