package predicate

import (
	"errors"
	"strings"
	"testing"

	"github.com/hourglass-stream/hourglass/alerts"
	"github.com/hourglass-stream/hourglass/codec"
)

func TestMatch(t *testing.T) {
	rec, err := codec.DecodePyLiteral([]byte(`{'alertId': 1, 'diaSource': {'ra': 351.57, 'snr': 41.1, 'filterName': 'r', 'diaSourceId': 281323062375219200, 'flux': None}, 'prv_diaSources': [{'snr': 3.0}, {'snr': 7}]}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		where string
		want  bool
		err   bool
	}{
		{"diaSource.ra > 350", true, false},
		{"diaSource.ra > 350 && diaSource.snr > 50", false, false},
		{"diaSource.filterName in ['g', 'r']", true, false},
		{"any(prv_diaSources, .snr > 5)", true, false},
		{"all(prv_diaSources, .snr > 5)", false, false},
		{"diaSource.diaSourceId == 281323062375219200", true, false},
		{"diaSource.flux > 1", false, true},
		{"diaSource.flux == nil", true, false},
		{"nosuch.field > 1", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.where, func(t *testing.T) {
			p, err := Compile(tt.where, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Match(rec)
			if tt.err {
				if !errors.Is(err, ErrEval) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("Match = %v, %v; want a one-line ErrEval", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Match = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	if _, err := (&Predicate{}).Match([]any{}); err == nil {
		t.Error("an array record matched")
	}
}

func TestCompileChecksFieldsAgainstTheSchema(t *testing.T) {
	schema, err := alerts.Schema()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		where string
		err   string // empty: compiles
	}{
		{"diaSource.ra > 350", ""},
		{"diaSource.ra > 350 && diaSource.snr > 5", ""},
		{"any(prv_diaSources, .snr > 5)", ""},
		{"diaObject.pm_parallax_Cov.pmRaSigma < 1", ""},
		{"diaObject?.ra > 1", ""},
		{"prv_diaSources[0].ra > 1", ""},
		{"let s = diaSource.snr; s > 5", ""},
		{"len(prv_diaSources ?? []) > 2", ""},
		{"diaSource.rra > 350", "unknown field diaSource.rra in the schema (diaSource has: ccdVisitId"},
		{"diasource.ra > 350", "unknown field diasource in the schema (the record has: alertId"},
		{"any(prv_diaSources, .snrr > 5)", "unknown field the element.snrr"},
		{"diaSource.ra.deg > 1", "diaSource.ra is a double: it has no field \"deg\""},
		{"diaSource.ra >", "unexpected token EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.where, func(t *testing.T) {
			_, err := Compile(tt.where, schema)
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("Compile error = %v, want one containing %q", err, tt.err)
			}
		})
	}
}

// TestUnknownFunctions: a call of anything but a builtin or a function of
// functions.go is a start-up error; before, `sinh(x)` compiled and
// dead-lettered every record.
func TestUnknownFunctions(t *testing.T) {
	for _, src := range []string{"sinh(x) > 0", "diaSource.ra > 350 && foo(diaSource)", "diaSource.flux() > 1"} {
		if _, err := Compile(src, nil); !errors.Is(err, ErrUnknownFunction) {
			t.Errorf("%s: %v, want ErrUnknownFunction", src, err)
		}
	}
	for _, src := range []string{"abs(x) > 1", "len(prv_diaSources) > 2", "any(prv_diaSources, .snr > 5)", "upper(band) == \"R\"", "sin(radians(x)) > 0.5"} {
		if _, err := Compile(src, nil); err != nil {
			t.Errorf("%s: %v", src, err)
		}
	}
}
