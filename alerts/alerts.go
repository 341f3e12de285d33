// Package alerts makes sample LSST-style alerts, like the alert_stream
// project's sendAlertStream.py did for the first Spark-on-Kafka notebooks:
// nested records with alertId, diaSource{ra, decl, psFlux, snr, filterName,
// ...}, prv_diaSources, diaObject and ssObject, in the shape of the
// DM-8160 era sample alert.
//
// Unlike that script, which sent one template 10 times (every alert at
// ra = 351.57), Generate varies what a filter looks at: positions uniform
// over the whole sky, fluxes, SNR, filters and the number of previous
// sources, from a seed, so that a predicate selects a known fraction (for
// diaSource.ra > 350, about 10/360 of the alerts).
package alerts

import (
	"embed"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/hamba/avro/v2"
	"github.com/hourglass-stream/hourglass/codec"
)

//go:embed schema/legacy/*.avsc
var schemaFS embed.FS

// SchemaTop is the top-level file of the embedded schema set.
const SchemaTop = "lsst.alert.avsc"

// Schema returns the Avro schema of the generated alerts: the seed-era
// alert, reconstructed (see schema/legacy/README.md).
func Schema() (avro.Schema, error) {
	sub, err := fsSub()
	if err != nil {
		return nil, err
	}
	return codec.LoadAvroSchemaFS(sub, SchemaTop)
}

// SchemaFiles returns the embedded .avsc files by name, for users who want
// them on disk (`hourglass produce-alerts --write-schema DIR`).
func SchemaFiles() (map[string][]byte, error) {
	entries, err := schemaFS.ReadDir("schema/legacy")
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, e := range entries {
		b, err := schemaFS.ReadFile("schema/legacy/" + e.Name())
		if err != nil {
			return nil, err
		}
		out[e.Name()] = b
	}
	return out, nil
}

// WriteSchema writes the embedded .avsc files into dir, creating it.
func WriteSchema(dir string) error {
	files, err := SchemaFiles()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Spec describes a generated alert stream.
type Spec struct {
	Seed uint64 // 0 means 1
	// Stamps adds cutoutDifference and cutoutTemplate postage stamps (a few
	// KiB of bytes each); without them they are null, as --no-stamps sent.
	Stamps bool
}

// Generator makes alerts one at a time; the same Spec gives the same
// sequence.
type Generator struct {
	spec Spec
	rng  *rand.Rand
	n    int64
}

// NewGenerator returns a generator for spec.
func NewGenerator(spec Spec) *Generator {
	if spec.Seed == 0 {
		spec.Seed = 1
	}
	return &Generator{spec: spec, rng: rand.New(rand.NewPCG(spec.Seed, 0x616c65727473))} // "alerts"
}

// Rng exposes the generator's random source, for encoders that vary key
// order the way real senders did.
func (g *Generator) Rng() *rand.Rand { return g.rng }

// Epoch is midPointTai of the first alert: 2016-11-28 19:23:15 UTC, the
// seed-era sample's time.
const Epoch = 1480360995

var filters = []string{"u", "g", "r", "i", "z", "y"}

// Next returns the next alert in the package's value model.
func (g *Generator) Next() map[string]any {
	g.n++
	r := g.rng
	ra := r.Float64() * 360
	decl := math.Asin(2*r.Float64()-1) * 180 / math.Pi // uniform over the sphere
	t := int64(Epoch) + g.n*int64(1+r.IntN(60))        // about 30 s apart
	objID := int64(281323062375219201) + g.n*1000
	src := g.source(objID-1, t, ra, decl)
	var prv []any
	for i := r.IntN(6); i > 0; i-- {
		prv = append(prv, g.source(objID-int64(1+i), t-int64(i)*86400, ra+r.NormFloat64()*1e-4, decl+r.NormFloat64()*1e-4))
	}
	alert := map[string]any{
		"alertId":          int64(1231321321) + g.n,
		"l1dbId":           int64(222222222),
		"diaSource":        src,
		"prv_diaSources":   nilIfEmpty(prv),
		"diaObject":        g.object(objID, t, ra, decl),
		"ssObject":         nil,
		"diaObjectL2":      nil,
		"diaSourcesL2":     nil,
		"cutoutDifference": nil,
		"cutoutTemplate":   nil,
	}
	if r.IntN(10) == 0 {
		alert["ssObject"] = g.ssObject()
	}
	if g.spec.Stamps {
		alert["cutoutDifference"] = g.stamp("diff", g.n)
		alert["cutoutTemplate"] = g.stamp("template", g.n)
	}
	return alert
}

func nilIfEmpty(a []any) any {
	if len(a) == 0 {
		return nil
	}
	return a
}

func round(f float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(f*p) / p
}

func (g *Generator) source(id, t int64, ra, decl float64) map[string]any {
	r := g.rng
	snr := round(math.Exp(r.NormFloat64()*0.8+2.5), 2) // log-normal, median ~12
	return map[string]any{
		"diaSourceId": id,
		"ccdVisitId":  int64(100000 + r.IntN(900000)),
		"midPointTai": t,
		"filterName":  filters[r.IntN(len(filters))],
		"ra":          round(math.Mod(ra+360, 360), 9),
		"decl":        round(decl, 9),
		"ra_decl_Cov": map[string]any{"raSigma": 0.00028, "declSigma": 0.00028, "ra_decl_Cov": 0.00029},
		"x":           round(r.Float64()*4000, 1),
		"y":           round(r.Float64()*4000, 1),
		"x_y_Cov":     map[string]any{"xSigma": 1.2, "ySigma": 1.1, "x_y_Cov": 1.2},
		"snr":         snr,
		"psFlux":      round(snr*(50+r.Float64()*100), 1),
		"flags":       int64(r.IntN(4)),
	}
}

func (g *Generator) object(id, t int64, ra, decl float64) map[string]any {
	r := g.rng
	return map[string]any{
		"diaObjectId": id,
		"ra":          round(math.Mod(ra+360, 360), 9),
		"decl":        round(decl, 9),
		"ra_decl_Cov": map[string]any{"raSigma": 0.00028, "declSigma": 0.00028, "ra_decl_Cov": 0.00029},
		"radecTai":    t,
		"pmRa":        round(r.NormFloat64()*1e-4, 6),
		"pmDecl":      round(r.NormFloat64()*1e-4, 6),
		"parallax":    round(r.Float64()*3, 6),
		"pm_parallax_Cov": map[string]any{
			"pmRaSigma": 0.00013, "pmDeclSigma": 0.00013, "parallaxSigma": 0.00013,
			"pmRa_pmDecl_Cov": 0.00013, "pmRa_parallax_Cov": 0.00013, "pmDecl_parallax_Cov": 0.00013,
		},
		"pmParallaxLnL":   0.00013,
		"pmParallaxChi2":  0.00013,
		"pmParallaxNdata": int64(r.IntN(2000)),
		"flags":           int64(0),
	}
}

func (g *Generator) ssObject() map[string]any {
	r := g.rng
	return map[string]any{
		"ssObjectId": int64(r.IntN(1 << 30)),
		"oe": map[string]any{
			"q": round(r.Float64()*5, 4), "e": round(r.Float64(), 4), "i": round(r.Float64()*30, 4),
			"lan": round(r.Float64()*360, 4), "aop": round(r.Float64()*360, 4), "M": round(r.Float64()*360, 4),
			"epoch": int64(57700),
		},
		"arc": round(r.Float64()*10, 4), "orbFitLnL": 1.0, "orbFitChi2": 1.0, "orbFitNdata": int64(r.IntN(100)),
		"MOID1": 0.1, "MOID2": 0.2, "moidLon1": 10.0, "moidLon2": 20.0,
		"uH": round(10+r.Float64()*10, 3), "uHErr": 0.1, "uG1": 0.15, "uG1Err": 0.01, "uG2": 0.15, "uG2Err": 0.01,
		"flags": int64(0),
	}
}

// stamp is a small FITS-like postage stamp: a header block and pixels.
func (g *Generator) stamp(kind string, n int64) map[string]any {
	data := make([]byte, 2880+1024)
	copy(data, fmt.Sprintf("%-80s%-80s%-80s", "SIMPLE  =                    T", "BITPIX  =                  -32", "END"))
	for i := 2880; i < len(data); i++ {
		data[i] = byte(g.rng.IntN(256))
	}
	return map[string]any{"fileName": fmt.Sprintf("stamp-%s-%d.fits", kind, n), "stampData": data}
}

func fsSub() (fs.FS, error) { return fs.Sub(schemaFS, "schema/legacy") }
