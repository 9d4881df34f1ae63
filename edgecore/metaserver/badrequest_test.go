package metaserver

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/outpostmesh/outpost/edgecore/metastore"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestBadRequests: every refused request gets a metav1.Status with the
// Kubernetes code and reason, and the server keeps serving.
func TestBadRequests(t *testing.T) {
	e := startEnv(t, "", "", metastore.Options{ChangeLogSize: 2}, Options{})
	for i := 0; i < 5; i++ {
		e.apply(pod("a", fmt.Sprintf("p%d", i), fmt.Sprint(i+1), "n", ""))
	}
	client := &http.Client{Timeout: 5 * time.Second}
	for _, tc := range []struct {
		method, path string
		code         int
		reason       metav1.StatusReason
	}{
		{"GET", "/api/v1/widgets", 404, metav1.StatusReasonNotFound},
		{"GET", "/apis/example.com/v1/widgets", 404, metav1.StatusReasonNotFound},
		{"GET", "/api/v2/pods", 404, metav1.StatusReasonNotFound},
		{"GET", "/api/v1/namespaces/a/pods/nope", 404, metav1.StatusReasonNotFound},
		{"GET", "/api/v1/namespaces/a/pods/p1/log", 404, metav1.StatusReasonNotFound},
		{"GET", "/api/v1/pods/p1", 404, metav1.StatusReasonNotFound},            // namespaced, no namespace
		{"GET", "/api/v1/namespaces/a/nodes", 404, metav1.StatusReasonNotFound}, // cluster-scoped in a namespace
		{"GET", "/api/v1/namespaces/a/pods/p1/status/x", 404, metav1.StatusReasonNotFound},
		{"GET", "/nothing/here", 404, metav1.StatusReasonNotFound},
		{"GET", "/apis/nogroup", 404, metav1.StatusReasonNotFound},
		{"GET", "/api/v1/pods?labelSelector=a%20in%20(", 400, metav1.StatusReasonBadRequest},
		{"GET", "/api/v1/pods?labelSelector=%3D%3Dx", 400, metav1.StatusReasonBadRequest},
		{"GET", "/api/v1/pods?fieldSelector=spec.nodeName", 400, metav1.StatusReasonBadRequest},
		{"GET", "/api/v1/pods?fieldSelector=spec.containers=x", 400, metav1.StatusReasonBadRequest},
		{"GET", "/api/v1/services?fieldSelector=spec.nodeName=n", 400, metav1.StatusReasonBadRequest},
		{"GET", "/api/v1/pods?resourceVersion=abc", 400, metav1.StatusReasonBadRequest},
		{"GET", "/api/v1/pods?watch=true&resourceVersion=-1", 400, metav1.StatusReasonBadRequest},
		{"GET", "/api/v1/pods?watch=true&resourceVersion=x1", 400, metav1.StatusReasonBadRequest},
		{"GET", "/api/v1/pods?timeoutSeconds=abc", 400, metav1.StatusReasonBadRequest},
		{"GET", "/api/v1/pods?watch=1&resourceVersion=1", 410, metav1.StatusReasonExpired},
		{"GET", "/api/v1/pods?watch=1&resourceVersion=1000", 410, metav1.StatusReasonExpired},
		{"GET", "/api/v1/pods?resourceVersion=1&resourceVersionMatch=Exact", 410, metav1.StatusReasonExpired},
		{"POST", "/api/v1/namespaces/a/pods", 405, metav1.StatusReasonMethodNotAllowed},
		{"PUT", "/api/v1/namespaces/a/pods/p1", 405, metav1.StatusReasonMethodNotAllowed},
		{"PATCH", "/api/v1/namespaces/a/pods/p1/status", 405, metav1.StatusReasonMethodNotAllowed},
		{"DELETE", "/api/v1/namespaces/a/pods", 405, metav1.StatusReasonMethodNotAllowed},
		{"POST", "/api", 405, metav1.StatusReasonMethodNotAllowed},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, "http://"+e.addr+tc.path, strings.NewReader(`{"kind":"Pod"}`))
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			var st metav1.Status
			if err := json.Unmarshal(body, &st); err != nil {
				t.Fatalf("body %q is not JSON: %v", body, err)
			}
			if resp.StatusCode != tc.code || st.Code != int32(tc.code) || st.Reason != tc.reason || st.Kind != "Status" ||
				st.Status != metav1.StatusFailure || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("%d %s, want %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), tc.code, tc.reason, body)
			}
			t.Logf("%d %s", st.Code, st.Message)
		})
	}
	// Still serving.
	resp, err := client.Get("http://" + e.addr + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz = %v, %v", resp, err)
	}
	resp.Body.Close()
	client.CloseIdleConnections()
}

// TestStoreClosed: once the store is closed, open watches end and requests
// get 503 (the server does not crash, and /readyz says it is not ready).
func TestStoreClosed(t *testing.T) {
	e := startEnv(t, "", "", metastoreOpts(), Options{})
	e.apply(pod("a", "p1", "1", "n", ""))
	ch, _ := rawWatch(t, e.addr, "resourceVersion=1")
	e.store.Close()
	select {
	case ev, ok := <-ch:
		if ok {
			t.Fatalf("unexpected event %v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch did not end when the store closed")
	}
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	for path, code := range map[string]int{"/api/v1/pods": 503, "/api/v1/namespaces/a/pods/p1": 503, "/readyz": 503, "/healthz": 200} {
		resp, err := client.Get("http://" + e.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != code {
			t.Errorf("%s = %d, want %d", path, resp.StatusCode, code)
		}
	}
}
