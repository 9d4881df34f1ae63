package main

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The bench's pod template: what a small real workload has — an image already on the node, a
// readiness probe, a ConfigMap volume and an env var from the same ConfigMap. No service
// account token (automountServiceAccountToken false): edgecore's token path is measured
// separately, if at all.
const (
	image     = "outpost.local/testapp:v1"
	appPort   = 8080
	runLabel  = "bench.outpost.dev/run"
	podLabel  = "app"
	podLabelV = "bench-edged"
)

// benchPod is pod i of a round, bound to node (no scheduler: both runtimes get their pods the
// same way).
func benchPod(round string, i int, node string) *corev1.Pod {
	no := false
	grace := int64(5)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      fmt.Sprintf("%s-%02d", round, i),
			Namespace: namespace,
			Labels:    map[string]string{podLabel: podLabelV, runLabel: round},
		},
		Spec: corev1.PodSpec{
			NodeName:                      node,
			AutomountServiceAccountToken:  &no,
			TerminationGracePeriodSeconds: &grace,
			Tolerations:                   []corev1.Toleration{{Key: edgeTaint, Operator: corev1.TolerationOpExists}},
			Volumes: []corev1.Volume{{
				Name: "config",
				VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: configMap},
				}},
			}},
			Containers: []corev1.Container{{
				Name:            "app",
				Image:           image,
				ImagePullPolicy: corev1.PullNever,
				Ports:           []corev1.ContainerPort{{Name: "http", ContainerPort: appPort}},
				Env: []corev1.EnvVar{{
					Name: "GREETING",
					ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
						LocalObjectReference: corev1.LocalObjectReference{Name: configMap}, Key: "greeting",
					}},
				}},
				VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/bench", ReadOnly: true}},
				ReadinessProbe: &corev1.Probe{
					ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
						Path: "/ready", Port: intstr.FromInt32(appPort),
					}},
					PeriodSeconds:    1,
					FailureThreshold: 3,
					SuccessThreshold: 1,
					TimeoutSeconds:   1,
				},
			}},
		},
	}
}

// ready is the measured state: phase Running and every container ready.
func ready(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning || len(p.Status.ContainerStatuses) != len(p.Spec.Containers) {
		return false
	}
	for _, cs := range p.Status.ContainerStatuses {
		if !cs.Ready {
			return false
		}
	}
	return true
}

// describe summarises a pod's status for an error message.
func describe(p *corev1.Pod) string {
	s := fmt.Sprintf("%s: phase %s", p.Name, p.Status.Phase)
	for _, c := range p.Status.Conditions {
		if c.Status != corev1.ConditionTrue && c.Message != "" {
			s += fmt.Sprintf(", %s=%s (%s)", c.Type, c.Status, c.Message)
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		switch {
		case cs.State.Waiting != nil:
			s += fmt.Sprintf(", %s waiting %s: %s", cs.Name, cs.State.Waiting.Reason, cs.State.Waiting.Message)
		case cs.State.Terminated != nil:
			s += fmt.Sprintf(", %s terminated %s (%d)", cs.Name, cs.State.Terminated.Reason, cs.State.Terminated.ExitCode)
		default:
			s += fmt.Sprintf(", %s ready=%v", cs.Name, cs.Ready)
		}
	}
	return s
}
