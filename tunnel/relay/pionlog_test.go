package relay

import (
	"net"
	"testing"

	"k8s.io/klog/v2/ktesting"
)

// TestPionLoggerDisabledLevelsDoNotFormat: pion/turn logs every relayed packet at debug and
// trace; at a disabled level the adapter must not format (Sprintf and the arguments' String
// methods allocate per packet). What is left is pion's own boxing of the arguments.
func TestPionLoggerDisabledLevelsDoNotFormat(t *testing.T) {
	log := NewPionLoggerFactory(ktesting.NewLogger(t, ktesting.NewConfig(ktesting.Verbosity(2)))).NewLogger("turn")
	addr := &net.UDPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 3478}
	allocs := testing.AllocsPerRun(200, func() {
		log.Debugf("Received ChannelData from %s: %d bytes", addr, 1200)
		log.Tracef("Relaying to %v", addr)
	})
	// The variadic slices and the boxed int escape through the interface call: up to 3.
	if allocs > 3 {
		t.Errorf("disabled Debugf+Tracef allocate %.0f times per call, want at most 3 (no formatting)", allocs)
	}
}
