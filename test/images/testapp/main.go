// Command testapp is the lab's test application. Without arguments (or with "serve") it is
// an HTTP server on $PORT (default 8080):
//
//	/healthz   200, or 500 once /tmp/unhealthy exists or $FAIL_LIVENESS_AFTER seconds passed
//	/ready     200, or 500 once /tmp/unready exists or $FAIL_READINESS_AFTER seconds passed
//	/file?path=P  the contents of file P (mounted configMap, secret and token volumes)
//	/env       the environment as a JSON object
//	/hostname  the hostname
//
// It logs a startup line to stdout and stderr and one line per request to stdout, and exits 0
// on SIGTERM or SIGINT. Other modes (also useful through exec, since the image has no shell):
//
//	testapp sleep [SECONDS]   sleep (forever without SECONDS), exit 0 on SIGTERM
//	testapp exit CODE         print a line and exit with CODE (restart back-off tests)
//	testapp touch PATH        create an empty file
//	testapp rm PATH           remove a file
//	testapp cat PATH          print a file
//	testapp echo ARGS...      print the arguments
//	testapp env               print the environment, one variable per line
package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		return serve()
	}
	mode, rest := args[0], args[1:]
	switch mode {
	case "serve":
		return serve()
	case "sleep":
		return sleep(rest)
	case "exit":
		code := 0
		if len(rest) > 0 {
			c, err := strconv.Atoi(rest[0])
			if err != nil {
				fmt.Fprintf(os.Stderr, "testapp: exit: bad code %q\n", rest[0])
				return 2
			}
			code = c
		}
		fmt.Printf("testapp: exiting with %d\n", code)
		return code
	case "touch":
		return eachPath(rest, func(p string) error { return os.WriteFile(p, nil, 0o644) })
	case "rm":
		return eachPath(rest, os.Remove)
	case "cat":
		return eachPath(rest, func(p string) error {
			b, err := os.ReadFile(p)
			os.Stdout.Write(b)
			return err
		})
	case "echo":
		fmt.Println(strings.Join(rest, " "))
		return 0
	case "env":
		for _, e := range os.Environ() {
			fmt.Println(e)
		}
		return 0
	default:
		fmt.Fprintf(os.Stderr, "testapp: unknown mode %q\n", mode)
		return 2
	}
}

func sleep(args []string) int {
	fmt.Println("testapp: sleeping")
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	var timeout <-chan time.Time
	if len(args) > 0 {
		s, err := strconv.ParseFloat(args[0], 64)
		if err != nil || s < 0 {
			fmt.Fprintf(os.Stderr, "testapp: sleep: bad seconds %q\n", args[0])
			return 2
		}
		timeout = time.After(time.Duration(s * float64(time.Second)))
	}
	select {
	case s := <-sigs:
		fmt.Printf("testapp: %v, exiting\n", s)
	case <-timeout:
	}
	return 0
}

func eachPath(paths []string, f func(string) error) int {
	if len(paths) == 0 {
		fmt.Fprintln(os.Stderr, "testapp: missing path")
		return 2
	}
	code := 0
	for _, p := range paths {
		if err := f(p); err != nil {
			fmt.Fprintf(os.Stderr, "testapp: %v\n", err)
			code = 1
		}
	}
	return code
}
