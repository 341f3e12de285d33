package gokautil

import (
	"fmt"
	"log/slog"
	"strings"
)

// Logger sends goka's printf-style logs to slog at debug level: goka
// narrates every rebalance, which an operator rarely needs. With
// WarnErrors, goka's error and retry lines (a view reconnecting after a
// broker went away) are warnings instead.
type Logger struct {
	Log        *slog.Logger
	WarnErrors bool
}

func (l Logger) Print(v ...any)   { l.emit(fmt.Sprint(v...)) }
func (l Logger) Println(v ...any) { l.emit(fmt.Sprintln(v...)) }
func (l Logger) Printf(format string, v ...any) {
	l.emit(fmt.Sprintf(format, v...))
}

func (l Logger) emit(msg string) {
	msg = strings.TrimSpace(msg)
	// goka prefixes its lines with a context such as "[View t > PartTable-3] ".
	body := msg
	if i := strings.Index(msg, "] "); strings.HasPrefix(msg, "[") && i > 0 {
		body = msg[i+2:]
	}
	if l.WarnErrors && (strings.HasPrefix(body, "Error") || strings.HasPrefix(body, "Will retry")) {
		l.Log.Warn(msg)
		return
	}
	l.Log.Debug(msg)
}
