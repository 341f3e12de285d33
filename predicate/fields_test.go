package predicate

import (
	"os"
	"strings"
	"testing"

	"github.com/hourglass-stream/hourglass/codec"
)

func TestFields(t *testing.T) {
	for _, tt := range []struct {
		src  string
		want string // paths joined by spaces; "-" for the whole record
	}{
		{`diaSource.ra > 350`, "diaSource.ra"},
		{`diaSource.ra > 350 && diaSource.snr > 5 || alertId == 3`, "alertId diaSource.ra diaSource.snr"},
		{`diaSource["ra"] > 350`, "diaSource.ra"},
		{`diaSource?.ra > 350`, "diaSource.ra"},
		{`any(prv_diaSources, .snr > 5)`, "prv_diaSources"},
		{`prv_diaSources[0].snr > 5`, "prv_diaSources"},
		{`diaSource[k] > 1`, "diaSource k"},
		{`len(diaSource) > 3 && diaSource.ra > 1`, "diaSource"},
		{`angsep(diaSource.ra, diaSource.decl, 351.57, 0.126) < 2.5/3600`, "diaSource.decl diaSource.ra"},
		{`let x = diaSource.ra; x > 350`, "diaSource.ra x"},
		{`"ra" in diaSource`, "diaSource"},
		{`$env.diaSource.ra > 1`, "-"},
		{`diaSource.ra > 350 ? true : ssObject.ssObjectId == 0`, "diaSource.ra ssObject.ssObjectId"},
	} {
		p, err := Compile(tt.src, nil)
		if err != nil {
			t.Fatalf("%s: %v", tt.src, err)
		}
		paths, ok := p.Fields()
		got := "-"
		if ok {
			var s []string
			for _, p := range paths {
				s = append(s, p.String())
			}
			got = strings.Join(s, " ")
		}
		if got != tt.want {
			t.Errorf("%s: fields %q, want %q", tt.src, got, tt.want)
		}
	}
}

// TestMatchValuesIsMatch: on every record that has the fields an
// expression reads, MatchValues of those fields answers as Match of the
// whole record, errors included.
func TestMatchValuesIsMatch(t *testing.T) {
	raw, err := os.ReadFile("../codec/testdata/legacy_alert.json")
	if err != nil {
		t.Fatal(err)
	}
	records := []string{string(raw),
		`{"diaSource": {"ra": 351.0, "decl": 0.12, "snr": 6}, "alertId": 3, "prv_diaSources": [{"snr": 6}], "ssObject": null, "k": "ra", "x": 1}`,
		`{"diaSource": {"ra": "text", "decl": null}, "alertId": 3, "prv_diaSources": null, "ssObject": {"ssObjectId": 0}, "k": "decl", "x": 2}`,
		`{"diaSource": [1, 2], "alertId": "3", "prv_diaSources": [1], "ssObject": {"ssObjectId": 1}, "k": 5, "x": null}`,
	}
	exprs := []string{
		`diaSource.ra > 350`,
		`diaSource.ra > 350 && diaSource.snr > 5 || alertId == 3`,
		`diaSource["ra"] > 350`,
		`diaSource?.ra > 350`,
		`any(prv_diaSources, .snr > 5)`,
		`prv_diaSources[0].snr > 5`,
		`diaSource[k] > 1`,
		`len(diaSource) > 3 && diaSource.ra > 1`,
		`angsep(diaSource.ra, diaSource.decl, 351.57, 0.126) < 2.5/3600`,
		`"ra" in diaSource`,
		`diaSource.ra > 350 ? true : ssObject.ssObjectId == 0`,
		`let x = diaSource.ra; x > 350`,
		`ssObject == nil`,
		`alertId in [3, 4]`,
	}
	compared := 0
	for _, src := range exprs {
		p, err := Compile(src, nil)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		paths, ok := p.Fields()
		if !ok {
			t.Fatalf("%s: no fields", src)
		}
		for _, r := range records {
			rec, err := codec.DecodeJSON([]byte(r))
			if err != nil {
				t.Fatal(err)
			}
			vals := make([]any, len(paths))
			found := true
			for i, path := range paths {
				if vals[i], err = path.Lookup(rec); err != nil {
					found = false // Extract falls back to the whole record
				}
			}
			if !found {
				continue
			}
			compared++
			want, wantErr := p.Match(rec)
			got, gotErr := p.MatchValues(vals)
			if got != want || (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
				t.Errorf("%s on %.60s: MatchValues %v, %v; Match %v, %v", src, r, got, gotErr, want, wantErr)
			}
		}
	}
	if compared < 30 {
		t.Fatalf("only %d comparisons", compared)
	}
}
