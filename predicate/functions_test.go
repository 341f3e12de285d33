package predicate

import (
	"math"
	"os"
	"strings"
	"testing"

	"github.com/hourglass-stream/hourglass/codec"
)

// TestAngularSeparation: hand-worked separations, across ra = 0/360, at
// the pole, antipodal, and at arc-second scale (the sample alert against
// the cone centre, 2.1547635 arcsec by the flat-sky approximation, which
// is exact to far below a milliarcsecond there).
func TestAngularSeparation(t *testing.T) {
	for _, tc := range []struct {
		ra1, dec1, ra2, dec2, want, tol float64
	}{
		{0, 0, 1, 0, 1, 1e-12},
		{359.9995, 0, 0.0005, 0, 0.001, 1e-12},
		{0.0005, 0, 359.9995, 0, 0.001, 1e-12},
		{10, 89.9, 190, 89.9, 0.2, 1e-12},
		{0, 0, 180, 0, 180, 1e-12},
		{0, 0, 179.9999, 0, 179.9999, 1e-9},
		{20, -30, 20, -30, 0, 0},
		{351.570546978, 0.126243049656, 351.57, 0.126, 2.1547635068 / 3600, 1e-6 / 3600}, // a µas
		{10, 45, 10, 45 + 1.0/3600/1000, 1.0 / 3600 / 1000, 1e-9 / 3600},                 // a mas along a meridian
	} {
		if got := AngularSeparation(tc.ra1, tc.dec1, tc.ra2, tc.dec2); math.Abs(got-tc.want) > tc.tol {
			t.Errorf("angsep(%v, %v, %v, %v) = %.15g, want %.15g ± %g", tc.ra1, tc.dec1, tc.ra2, tc.dec2, got, tc.want, tc.tol)
		}
	}
}

// TestConeSearch: the sample alert (ra 351.570546978, decl 0.126243049656)
// is 2.15 arcsec from (351.57, 0.126): inside a 2.5 arcsec cone, outside a
// 2 arcsec one; the trigonometric functions work on its fields; a function
// with the wrong number of arguments is a start-up error, and one given a
// string an evaluation error.
func TestConeSearch(t *testing.T) {
	raw, err := os.ReadFile("../codec/testdata/legacy_alert.json")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := codec.DecodeJSON(raw)
	if err != nil {
		t.Fatal(err)
	}
	for src, want := range map[string]bool{
		"angsep(diaSource.ra, diaSource.decl, 351.57, 0.126) < 2.5/3600":            true,
		"angsep(diaSource.ra, diaSource.decl, 351.57, 0.126) < 2/3600":              false,
		"angsep(diaSource.ra, diaSource.decl, 351.57 - 360, 0.126) < 2.5/3600":      true, // the same place
		"abs(degrees(asin(sin(radians(diaSource.decl)))) - diaSource.decl) < 1e-12": true,
		"abs(degrees(atan2(sin(radians(30)), cos(radians(30)))) - 30) < 1e-12":      true,
		"sqrt(diaSource.ra) > 18 && tan(radians(45)) > 0.999 && acos(1) == 0":       true,
		"cos(radians(diaSource.ra)) > 0.98":                                         true,
		"angsep(diaSource.ra, diaSource.decl, diaSource.ra, diaSource.decl) == 0":   true,
	} {
		p, err := Compile(src, nil)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		got, err := p.Match(rec)
		if err != nil || got != want {
			t.Errorf("%s: %v, %v; want %v", src, got, err, want)
		}
	}
	if _, err := Compile("angsep(diaSource.ra, diaSource.decl, 351.57) < 1", nil); err == nil || !strings.Contains(err.Error(), "takes 4 arguments") {
		t.Errorf("angsep with 3 arguments: %v", err)
	}
	p, err := Compile(`sin(diaSource.filterName) > 0`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Match(map[string]any{"diaSource": map[string]any{"filterName": "r"}}); err == nil || !strings.Contains(err.Error(), "not a number") {
		t.Errorf("sin of a string: %v", err)
	}
}
