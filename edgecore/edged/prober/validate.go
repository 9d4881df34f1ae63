package prober

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Validate checks a probe independently of its kind: exactly one handler,
// a usable port, and no negative timing or threshold. A zero period,
// timeout or threshold means "unset" and gets the Kubernetes default
// (pods that went through an apiserver are already defaulted). Errors wrap
// ErrInvalidProbe (or ErrUnsupported) and name the offending field.
func Validate(p *corev1.Probe) error {
	if p == nil {
		return fmt.Errorf("%w: nil probe", ErrInvalidProbe)
	}
	if err := validateHandler(&p.ProbeHandler); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    int32
	}{
		{"initialDelaySeconds", p.InitialDelaySeconds},
		{"periodSeconds", p.PeriodSeconds},
		{"timeoutSeconds", p.TimeoutSeconds},
		{"successThreshold", p.SuccessThreshold},
		{"failureThreshold", p.FailureThreshold},
	} {
		if f.v < 0 {
			return fmt.Errorf("%w: %s must not be negative, got %d", ErrInvalidProbe, f.name, f.v)
		}
	}
	if p.TerminationGracePeriodSeconds != nil && *p.TerminationGracePeriodSeconds <= 0 {
		return fmt.Errorf("%w: terminationGracePeriodSeconds must be positive, got %d", ErrInvalidProbe, *p.TerminationGracePeriodSeconds)
	}
	return nil
}

// ValidateFor is Validate plus the rules that depend on the kind: liveness
// and startup probes must have successThreshold 1, as in Kubernetes.
func ValidateFor(kind Kind, p *corev1.Probe) error {
	if err := Validate(p); err != nil {
		return fmt.Errorf("%s probe: %w", kind, err)
	}
	switch kind {
	case Liveness, Startup:
		if p.SuccessThreshold > 1 {
			return fmt.Errorf("%s probe: %w: successThreshold must be 1, got %d", kind, ErrInvalidProbe, p.SuccessThreshold)
		}
	case Readiness:
		if p.TerminationGracePeriodSeconds != nil {
			return fmt.Errorf("%s probe: %w: terminationGracePeriodSeconds is not allowed", kind, ErrInvalidProbe)
		}
	default:
		return fmt.Errorf("%w: unknown probe kind %q", ErrInvalidProbe, kind)
	}
	return nil
}

func validateHandler(h *corev1.ProbeHandler) error {
	var set []string
	if h.Exec != nil {
		set = append(set, "exec")
	}
	if h.HTTPGet != nil {
		set = append(set, "httpGet")
	}
	if h.TCPSocket != nil {
		set = append(set, "tcpSocket")
	}
	if h.GRPC != nil {
		set = append(set, "grpc")
	}
	switch len(set) {
	case 0:
		return fmt.Errorf("%w: no handler: set one of exec, httpGet, tcpSocket, grpc", ErrInvalidProbe)
	case 1:
	default:
		return fmt.Errorf("%w: more than one handler (%s): set exactly one", ErrInvalidProbe, strings.Join(set, ", "))
	}
	switch {
	case h.Exec != nil:
		if len(h.Exec.Command) == 0 {
			return fmt.Errorf("%w: exec.command is empty", ErrInvalidProbe)
		}
	case h.HTTPGet != nil:
		if err := validatePort("httpGet.port", h.HTTPGet.Port); err != nil {
			return err
		}
		switch h.HTTPGet.Scheme {
		case "", corev1.URISchemeHTTP, corev1.URISchemeHTTPS:
		default:
			return fmt.Errorf("%w: httpGet.scheme must be HTTP or HTTPS, got %q", ErrInvalidProbe, h.HTTPGet.Scheme)
		}
		if h.HTTPGet.Path != "" && !strings.HasPrefix(h.HTTPGet.Path, "/") {
			return fmt.Errorf("%w: httpGet.path must start with /, got %q", ErrInvalidProbe, h.HTTPGet.Path)
		}
		for _, hd := range h.HTTPGet.HTTPHeaders {
			if hd.Name == "" || strings.ContainsAny(hd.Name, " :\r\n") || strings.ContainsAny(hd.Value, "\r\n") {
				return fmt.Errorf("%w: httpGet.httpHeaders: bad header %q", ErrInvalidProbe, hd.Name)
			}
		}
	case h.TCPSocket != nil:
		if err := validatePort("tcpSocket.port", h.TCPSocket.Port); err != nil {
			return err
		}
	case h.GRPC != nil:
		if h.GRPC.Port < 1 || h.GRPC.Port > 65535 {
			return fmt.Errorf("%w: grpc.port must be 1-65535, got %d", ErrInvalidProbe, h.GRPC.Port)
		}
	}
	return nil
}

func validatePort(field string, port intstr.IntOrString) error {
	if port.Type == intstr.String {
		if port.StrVal == "" {
			return fmt.Errorf("%w: %s is not set", ErrInvalidProbe, field)
		}
		if msgs := validation.IsValidPortName(port.StrVal); len(msgs) > 0 {
			return fmt.Errorf("%w: %s %q: %s", ErrInvalidProbe, field, port.StrVal, strings.Join(msgs, "; "))
		}
		return nil
	}
	if port.IntVal < 1 || port.IntVal > 65535 {
		return fmt.Errorf("%w: %s must be 1-65535 or a port name, got %d", ErrInvalidProbe, field, port.IntVal)
	}
	return nil
}

// ValidatePorts checks that a probe's port (httpGet, tcpSocket), when named, is one the
// container declares. The apiserver accepts any well-formed name, so such a pod passes its
// validation, yet the probe could never run: the readiness probe would keep the container
// unready and the liveness probe restart it forever, with nothing in the status saying why.
// Errors wrap ErrInvalidProbe and ErrPortNotFound.
func ValidatePorts(p *corev1.Probe, ports []corev1.ContainerPort) error {
	if p == nil {
		return nil
	}
	var field string
	var port intstr.IntOrString
	switch {
	case p.HTTPGet != nil:
		field, port = "httpGet.port", p.HTTPGet.Port
	case p.TCPSocket != nil:
		field, port = "tcpSocket.port", p.TCPSocket.Port
	default:
		return nil // exec has none; grpc.port is a number
	}
	if _, err := resolvePort(port, ports); err != nil {
		return fmt.Errorf("%w: %s: %w: the container declares no such port", ErrInvalidProbe, field, err)
	}
	return nil
}
