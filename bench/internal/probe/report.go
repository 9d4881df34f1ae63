package probe

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// Finish ends a benchmark's main: it prints what was measured — as indented JSON when asJSON,
// else with table — even when the run failed part way, then exits 1 on err. has says whether
// there is anything to print (the results of the rounds that ran).
func Finish(name string, has bool, res any, table func(*os.File), asJSON bool, err error) {
	if has {
		if asJSON {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			_ = enc.Encode(res)
		} else {
			table(os.Stdout)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// Logf writes a progress line with a millisecond wall-clock stamp to stderr.
func Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
}
