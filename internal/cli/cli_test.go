package cli

import (
	"testing"

	"github.com/spf13/cobra"
)

func TestAddKlogFlags(t *testing.T) {
	cmd := &cobra.Command{Use: "x"}
	AddKlogFlags(cmd)
	for _, name := range []string{"v", "vmodule"} {
		if cmd.Flags().Lookup(name) == nil {
			t.Errorf("flag %s missing", name)
		}
	}
	if err := cmd.Flags().Parse([]string{"-v=3"}); err != nil {
		t.Fatal(err)
	}
}
