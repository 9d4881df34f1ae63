package prober

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestValidate(t *testing.T) {
	exec := corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}
	grace := int64(0)
	svc := "x"
	for _, tc := range []struct {
		name  string
		kind  Kind
		probe *corev1.Probe
		err   string // "" = valid
	}{
		{"exec", Liveness, &corev1.Probe{ProbeHandler: exec}, ""},
		{"nil", Liveness, nil, "nil probe"},
		{"no handler", Liveness, &corev1.Probe{}, "no handler"},
		{"two handlers", Readiness, &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: exec.Exec, TCPSocket: &corev1.TCPSocketAction{Port: port(1)}}}, "more than one handler (exec, tcpSocket)"},
		{"empty command", Liveness, &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{}}}, "exec.command is empty"},
		{"http port unset", Readiness, &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{}}}, "httpGet.port must be 1-65535"},
		{"http port too big", Readiness, &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: port(70000)}}}, "must be 1-65535"},
		{"http bad port name", Readiness, &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromString("Not_A_Name")}}}, "httpGet.port \"Not_A_Name\""},
		{"http named port", Readiness, &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromString("http")}}}, ""},
		{"http bad scheme", Readiness, &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: port(80), Scheme: "FTP"}}}, "scheme must be HTTP or HTTPS"},
		{"http relative path", Readiness, &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: port(80), Path: "healthz"}}}, "must start with /"},
		{"http bad header", Readiness, &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: port(80), HTTPHeaders: []corev1.HTTPHeader{{Name: "a b"}}}}}, "bad header"},
		{"tcp", Startup, &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: port(5432)}}}, ""},
		{"tcp no port", Startup, &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}}}, "tcpSocket.port"},
		{"grpc", Liveness, &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9000, Service: &svc}}}, ""},
		{"grpc no port", Liveness, &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{}}}, "grpc.port"},
		{"negative period", Liveness, &corev1.Probe{ProbeHandler: exec, PeriodSeconds: -1}, "periodSeconds must not be negative"},
		{"negative failure threshold", Liveness, &corev1.Probe{ProbeHandler: exec, FailureThreshold: -3}, "failureThreshold"},
		{"liveness success threshold", Liveness, &corev1.Probe{ProbeHandler: exec, SuccessThreshold: 2}, "successThreshold must be 1"},
		{"startup success threshold", Startup, &corev1.Probe{ProbeHandler: exec, SuccessThreshold: 3}, "successThreshold must be 1"},
		{"readiness success threshold", Readiness, &corev1.Probe{ProbeHandler: exec, SuccessThreshold: 3}, ""},
		{"grace period zero", Liveness, &corev1.Probe{ProbeHandler: exec, TerminationGracePeriodSeconds: &grace}, "terminationGracePeriodSeconds must be positive"},
		{"unknown kind", Kind("sideways"), &corev1.Probe{ProbeHandler: exec}, "unknown probe kind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateFor(tc.kind, tc.probe)
			if tc.err == "" {
				if err != nil {
					t.Fatalf("ValidateFor = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("ValidateFor = %v, want an error containing %q", err, tc.err)
			}
			if !errors.Is(err, ErrInvalidProbe) {
				t.Errorf("error %v does not wrap ErrInvalidProbe", err)
			}
		})
	}
}

func TestValidatePorts(t *testing.T) {
	ports := []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}
	httpOn := func(p intstr.IntOrString) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: p}}}
	}
	tcpOn := func(p intstr.IntOrString) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: p}}}
	}
	for _, tc := range []struct {
		name  string
		probe *corev1.Probe
		bad   bool
	}{
		{"nil", nil, false},
		{"http named", httpOn(intstr.FromString("http")), false},
		{"http number", httpOn(intstr.FromInt32(9000)), false},
		{"http number as string", httpOn(intstr.FromString("9000")), false},
		{"http undeclared name", httpOn(intstr.FromString("metrics")), true},
		{"tcp undeclared name", tcpOn(intstr.FromString("metrics")), true},
		{"exec", &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}, false},
	} {
		err := ValidatePorts(tc.probe, ports)
		if tc.bad != (err != nil) {
			t.Errorf("%s: %v", tc.name, err)
		}
		if tc.bad && (!errors.Is(err, ErrInvalidProbe) || !errors.Is(err, ErrPortNotFound) || !strings.Contains(err.Error(), `"metrics"`)) {
			t.Errorf("%s: error %v does not name the port", tc.name, err)
		}
	}
}
