package main

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestBenchPod(t *testing.T) {
	p := benchPod("kb", 7, "node-a")
	if p.Name != "kb-07" || p.Spec.NodeName != "node-a" || p.Labels[runLabel] != "kb" {
		t.Fatalf("identity: %s on %s, labels %v", p.Name, p.Spec.NodeName, p.Labels)
	}
	if p.Spec.AutomountServiceAccountToken == nil || *p.Spec.AutomountServiceAccountToken {
		t.Error("the service account token must be off")
	}
	c := p.Spec.Containers[0]
	if c.ImagePullPolicy != corev1.PullNever || c.ReadinessProbe == nil || c.ReadinessProbe.PeriodSeconds != 1 ||
		c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/ready" {
		t.Errorf("container: %+v", c)
	}
	if len(c.Env) != 1 || c.Env[0].ValueFrom.ConfigMapKeyRef.Name != configMap ||
		len(p.Spec.Volumes) != 1 || p.Spec.Volumes[0].ConfigMap.Name != configMap {
		t.Errorf("configMap env/volume: %+v %+v", c.Env, p.Spec.Volumes)
	}
	if len(p.Spec.Tolerations) != 1 || p.Spec.Tolerations[0].Key != edgeTaint {
		t.Errorf("tolerations: %+v", p.Spec.Tolerations)
	}
}

func TestReady(t *testing.T) {
	base := benchPod("x", 0, "n")
	for _, tc := range []struct {
		name  string
		phase corev1.PodPhase
		cs    []corev1.ContainerStatus
		want  bool
	}{
		{"pending", corev1.PodPending, nil, false},
		{"running, no container status", corev1.PodRunning, nil, false},
		{"running, not ready", corev1.PodRunning, []corev1.ContainerStatus{{Name: "app"}}, false},
		{"running and ready", corev1.PodRunning, []corev1.ContainerStatus{{Name: "app", Ready: true}}, true},
		{"succeeded", corev1.PodSucceeded, []corev1.ContainerStatus{{Name: "app", Ready: true}}, false},
	} {
		p := base.DeepCopy()
		p.Status.Phase, p.Status.ContainerStatuses = tc.phase, tc.cs
		if got := ready(p); got != tc.want {
			t.Errorf("%s: ready = %v, want %v", tc.name, got, tc.want)
		}
	}
}
