package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/outpostmesh/outpost/test/lab"
)

// edgeResult is the edge footprint: a process holding the metastore and the metaserver with
// 100 pods, 100 configmaps and 50 services (edgecore/metaserver/testdata/footprint, which fills
// them, serves lists and watches of them and prints its own RSS).
type edgeResult struct {
	Program string `json:"program"`
	RSS     int64  `json:"rssBytes"`
	Line    string `json:"line"`
}

var rssLine = regexp.MustCompile(`RSS (\d+) kB`)

func edgeFootprint(ctx context.Context, r *lab.Run) (*edgeResult, error) {
	const pkg = "./edgecore/metaserver/testdata/footprint"
	bin := filepath.Join(r.Dir, "edge-footprint")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
	cmd.Dir = lab.RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build %s: %w\n%s", pkg, err, out)
	}
	p, err := r.Start(nil, "edge-footprint", []string{bin}, lab.ProcOptions{Quiet: true})
	if err != nil {
		return nil, err
	}
	select {
	case <-p.Done():
	case <-time.After(60 * time.Second):
		p.Stop(time.Second)
		return nil, fmt.Errorf("edge footprint: no result in 60 s")
	case <-ctx.Done():
		p.Stop(time.Second)
		return nil, ctx.Err()
	}
	if err := p.Err(); err != nil {
		return nil, fmt.Errorf("edge footprint: %w\n%s", err, p.Tail(10))
	}
	var line string
	var m []string
	for _, l := range strings.Split(p.Tail(50), "\n") {
		if mm := rssLine.FindStringSubmatch(l); mm != nil {
			line, m = l, mm
		}
	}
	if m == nil {
		return nil, fmt.Errorf("edge footprint: no RSS line in\n%s", p.Tail(10))
	}
	kb, _ := strconv.ParseInt(m[1], 10, 64)
	return &edgeResult{Program: pkg, RSS: kb << 10, Line: line}, nil
}
