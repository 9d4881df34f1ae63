package satoken

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// cached is one token and what it was asked for; its JSON is the file on disk.
type cached struct {
	Namespace         string    `json:"namespace"`
	Pod               string    `json:"pod"`
	PodUID            string    `json:"podUID"`
	ServiceAccount    string    `json:"serviceAccount"`
	Audiences         []string  `json:"audiences,omitempty"`
	ExpirationSeconds int64     `json:"expirationSeconds"`
	Token             string    `json:"token"`
	IssuedAt          time.Time `json:"issuedAt"`
	Expires           time.Time `json:"expires"`
}

// needsRefresh: expired, past 80% of its life, or older than maxAge.
func (c *cached) needsRefresh(now time.Time, maxAge time.Duration) bool {
	life := c.Expires.Sub(c.IssuedAt)
	return !now.Before(c.IssuedAt.Add(min(time.Duration(float64(life)*refreshAt), maxAge)))
}

// uidRE is what a pod UID may look like in a file name (the apiserver's are UUIDs).
var uidRE = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)

// fileName is "<pod UID>_<hash of the request>.json": one file per pod and request, found by
// UID when the pod goes.
func fileName(ns, pod, uid, sa string, audiences []string, exp int64) string {
	aud := slices.Clone(audiences)
	slices.Sort(aud) // audiences are a set
	h := sha256.Sum256([]byte(strings.Join(append([]string{ns, pod, uid, sa, strconv.FormatInt(exp, 10)}, aud...), "\x00")))
	return uid + "_" + hex.EncodeToString(h[:12]) + ".json"
}

func readCached(path string) (*cached, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c cached
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("satoken: %s: %w", path, err)
	}
	if c.Token == "" || c.Expires.IsZero() {
		return nil, fmt.Errorf("satoken: %s: no token", path)
	}
	return &c, nil
}

// writeCached replaces path atomically: temporary file (0600, fsynced), rename.
func writeCached(path string, c *cached) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("satoken: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(b)
	if err := errors.Join(werr, tmp.Chmod(0o600), tmp.Sync(), tmp.Close()); err != nil {
		return fmt.Errorf("satoken: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("satoken: write %s: %w", path, err)
	}
	return nil
}
