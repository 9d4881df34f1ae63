package relay

import (
	"fmt"

	"github.com/pion/logging"
	"k8s.io/klog/v2"
)

// NewPionLoggerFactory adapts a klog.Logger to pion's LoggerFactory. pion logs a lot at debug
// and trace, so those go to V(4) and V(5); warnings and errors to V(1) because pion reports
// routine network events (a closed socket, an expired allocation) as errors.
func NewPionLoggerFactory(log klog.Logger) logging.LoggerFactory { return newPionLoggerFactory(log) }

func newPionLoggerFactory(log klog.Logger) pionFactory { return pionFactory{log: log} }

type pionFactory struct{ log klog.Logger }

func (f pionFactory) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{log: f.log.WithName(scope)}
}

type pionLogger struct{ log klog.Logger }

// logf formats only when level v is enabled: pion/turn calls Debugf and Tracef for every
// relayed packet (client and server side), and formatting those eagerly (fmt.Sprintf plus the
// arguments' String methods) was about a tenth of all bytes allocated on the relay path.
func (l pionLogger) logf(v int, format string, args []any) {
	if lv := l.log.V(v); lv.Enabled() {
		lv.Info(fmt.Sprintf(format, args...))
	}
}

func (l pionLogger) Trace(msg string)                  { l.log.V(5).Info(msg) }
func (l pionLogger) Tracef(format string, args ...any) { l.logf(5, format, args) }
func (l pionLogger) Debug(msg string)                  { l.log.V(4).Info(msg) }
func (l pionLogger) Debugf(format string, args ...any) { l.logf(4, format, args) }
func (l pionLogger) Info(msg string)                   { l.log.V(3).Info(msg) }
func (l pionLogger) Infof(format string, args ...any)  { l.logf(3, format, args) }
func (l pionLogger) Warn(msg string)                   { l.log.V(1).Info(msg) }
func (l pionLogger) Warnf(format string, args ...any)  { l.logf(1, format, args) }
func (l pionLogger) Error(msg string)                  { l.log.V(1).Info(msg) }
func (l pionLogger) Errorf(format string, args ...any) { l.logf(1, format, args) }
