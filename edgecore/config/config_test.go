package config

import (
	"errors"
	"strings"
	"testing"
)

func TestRoundTripAndValidate(t *testing.T) {
	c := ForDirs("/d", "/data")
	c.NodeName = "edge-1"
	c.Hub.URL = "wss://cloud:10000/hub"
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse(%s): %v", b, err)
	}
	if *got != *c || got.MetaServer.Addr != "127.0.0.1:10350" || got.Hub.KeyFile != "/d/pki/node.key" {
		t.Fatalf("round trip: %+v", got)
	}
	for _, bad := range []string{
		strings.Replace(string(b), "outpost.dev/v1alpha1", "v2", 1),
		strings.Replace(string(b), "wss://", "http://", 1),
		strings.Replace(string(b), "nodeName: edge-1", "nodeName: \"\"", 1),
		string(b) + "surprise: 1\n",
	} {
		if _, err := Parse([]byte(bad)); !errors.Is(err, ErrInvalid) {
			t.Errorf("accepted %q: %v", bad, err)
		}
	}
}
