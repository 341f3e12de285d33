package processor

import (
	"fmt"
	"log/slog"
	"strings"
)

// gokaLogger sends goka's printf-style logs to slog at debug level: goka
// narrates every rebalance, which an operator rarely needs.
type gokaLogger struct{ log *slog.Logger }

func (l gokaLogger) Print(v ...any)   { l.log.Debug(strings.TrimSpace(fmt.Sprint(v...))) }
func (l gokaLogger) Println(v ...any) { l.log.Debug(strings.TrimSpace(fmt.Sprintln(v...))) }
func (l gokaLogger) Printf(format string, v ...any) {
	l.log.Debug(strings.TrimSpace(fmt.Sprintf(format, v...)))
}
