//go:build integration

package lab

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestControlPlaneWithControllers: with the controller-manager and scheduler, namespaces get
// their default ServiceAccount and kube-root-ca.crt (pods cannot start without them), and the
// apiserver survives a stop and restart (the outage tests rely on that).
func TestControlPlaneWithControllers(t *testing.T) {
	run := ForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cp, err := run.StartControlPlane(ctx, ControlPlaneOptions{ControllerManager: true, Scheduler: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cp.Client()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, saErr := c.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		_, cmErr := c.CoreV1().ConfigMaps("default").Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		if saErr == nil && cmErr == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("controllers did not create defaults: sa=%v configmap=%v", saErr, cmErr)
		}
		time.Sleep(200 * time.Millisecond)
	}

	cp.StopAPIServer()
	if _, err := c.Discovery().ServerVersion(); err == nil {
		t.Fatal("apiserver still answers after StopAPIServer")
	}
	if err := cp.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}
