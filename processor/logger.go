package processor

import (
	"fmt"
	"log/slog"
	"strings"
)

// gokaLogger sends goka's printf-style logs to slog at debug level: goka
// narrates every rebalance, which an operator rarely needs. With warnErrors,
// goka's error and retry lines (a view reconnecting after a broker went
// away) are warnings instead.
type gokaLogger struct {
	log        *slog.Logger
	warnErrors bool
}

func (l gokaLogger) Print(v ...any)   { l.emit(fmt.Sprint(v...)) }
func (l gokaLogger) Println(v ...any) { l.emit(fmt.Sprintln(v...)) }
func (l gokaLogger) Printf(format string, v ...any) {
	l.emit(fmt.Sprintf(format, v...))
}

func (l gokaLogger) emit(msg string) {
	msg = strings.TrimSpace(msg)
	// goka prefixes its lines with a context such as "[View t > PartTable-3] ".
	body := msg
	if i := strings.Index(msg, "] "); strings.HasPrefix(msg, "[") && i > 0 {
		body = msg[i+2:]
	}
	if l.warnErrors && (strings.HasPrefix(body, "Error") || strings.HasPrefix(body, "Will retry")) {
		l.log.Warn(msg)
		return
	}
	l.log.Debug(msg)
}
