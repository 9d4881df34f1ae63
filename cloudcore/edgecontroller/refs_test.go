package edgecontroller

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestReferencesOf(t *testing.T) {
	lor := func(n string) corev1.LocalObjectReference { return corev1.LocalObjectReference{Name: n} }
	tests := []struct {
		name           string
		spec           corev1.PodSpec
		cms, secrets   []string
		serviceAccount string
	}{
		{name: "nothing", serviceAccount: "default"},
		{name: "volumes", spec: corev1.PodSpec{ServiceAccountName: "sa", Volumes: []corev1.Volume{
			{VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: lor("c1")}}},
			{VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s1"}}},
			{VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{Secret: &corev1.SecretProjection{LocalObjectReference: lor("s2")}},
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: lor("c2")}},
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
			}}}},
		}}, cms: []string{"c1", "c2"}, secrets: []string{"s1", "s2"}, serviceAccount: "sa"},
		{name: "env of init and app containers, pull secrets", spec: corev1.PodSpec{
			ImagePullSecrets: []corev1.LocalObjectReference{lor("pull")},
			InitContainers:   []corev1.Container{{EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: lor("c3")}}}}},
			Containers: []corev1.Container{{Env: []corev1.EnvVar{
				{Name: "plain", Value: "v"},
				{Name: "a", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: lor("c4")}}},
				{Name: "b", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: lor("s3")}}},
			}}},
		}, cms: []string{"c3", "c4"}, secrets: []string{"s3", "pull"}, serviceAccount: "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := referencesOf(&corev1.Pod{Spec: tt.spec})
			if !slices.Equal(r.configMaps, tt.cms) || !slices.Equal(r.secrets, tt.secrets) || r.serviceAccount != tt.serviceAccount {
				t.Fatalf("refs %+v, want cms %v secrets %v sa %s", r, tt.cms, tt.secrets, tt.serviceAccount)
			}
		})
	}
}
