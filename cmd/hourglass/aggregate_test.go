package main

import (
	"strings"
	"testing"
)

// TestFieldPath: --key and --time take dotted field paths; a list or an
// expression is a start-up error instead of a dead letter per record.
func TestFieldPath(t *testing.T) {
	for _, ok := range []string{"action", "diaSource.filterName", "prv_diaSources.0.snr", "user-agent"} {
		if p, err := fieldPath("--key", ok); err != nil || p.String() != ok {
			t.Errorf("%q: %v, %v", ok, p, err)
		}
	}
	for bad, says := range map[string]string{
		"action,site":  "repeat --key",
		"action site":  "not a field path",
		"snr > 5":      "not a field path",
		"a..b":         "empty step",
		"":             "empty field path",
		"len(x)":       "not a field path",
		`"action"`:     "not a field path",
		"diaSource[0]": "not a field path",
	} {
		if _, err := fieldPath("--key", bad); err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("%q: %v, want an error saying %q", bad, err, says)
		}
	}
}

// TestLogFormat: --log-format takes text or json; anything else is an
// error naming both.
func TestLogFormat(t *testing.T) {
	defer func() { _ = setupLogging("info", "text") }()
	for _, ok := range []string{"text", "json"} {
		if err := setupLogging("info", ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	if err := setupLogging("info", "yaml"); err == nil || !strings.Contains(err.Error(), "want text or json") {
		t.Errorf("yaml: %v", err)
	}
}
