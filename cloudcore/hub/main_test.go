package hub

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(edgeProcEnv); spec != "" {
		os.Exit(runEdgeProcess(spec))
	}
	goleak.VerifyTestMain(m)
}
