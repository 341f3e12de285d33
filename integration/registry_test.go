package integration

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hourglass-stream/hourglass/alerts"
	"github.com/hourglass-stream/hourglass/codec"
	"github.com/hourglass-stream/hourglass/predicate"
	"github.com/hourglass-stream/hourglass/processor"
)

// flakyRegistry serves the sample alert schema as id 7 while up; while
// down it fails every request, alternately with HTTP 503 and a dropped
// connection. It counts the requests it failed.
type flakyRegistry struct {
	*httptest.Server
	up     atomic.Bool
	failed atomic.Int64
}

func newFlakyRegistry(t *testing.T) *flakyRegistry {
	t.Helper()
	schema, err := alerts.Schema()
	if err != nil {
		t.Fatal(err)
	}
	r := &flakyRegistry{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !r.up.Load() {
			if r.failed.Add(1)%2 == 0 {
				http.Error(w, `{"error_code":50001,"message":"store error"}`, http.StatusServiceUnavailable)
				return
			}
			if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
				c.Close()
			}
			return
		}
		if req.URL.Path != "/schemas/ids/7" {
			http.NotFound(w, req)
			return
		}
		fmt.Fprintf(w, `{"schema": %q}`, schema.String())
	}))
	t.Cleanup(r.Close)
	return r
}

// TestRegistryOutage: while the schema registry fails (503, dropped
// connections) records wait, uncommitted, in the filter and in the
// aggregation; once it answers every record is processed and nothing was
// dead-lettered. Before the fix all 500 records went to the dead-letter
// topic and their offsets were committed.
func TestRegistryOutage(t *testing.T) {
	t.Parallel()
	enc, err := alerts.NewEncoder("confluent", 7)
	if err != nil {
		t.Fatal(err)
	}
	gen := alerts.NewGenerator(alerts.Spec{Seed: 77})
	var values [][]byte
	matching := 0
	perFilter := map[string]int64{}
	for range 500 {
		a := gen.Next()
		v, err := enc.Encode(a, gen.Rng())
		if err != nil {
			t.Fatal(err)
		}
		values = append(values, v)
		src := a["diaSource"].(map[string]any)
		if src["ra"].(float64) > 350 {
			matching++
		}
		sec := src["midPointTai"].(int64)
		perFilter[fmt.Sprintf("%s|%d", src["filterName"], sec-sec%3600)]++
	}
	decoder := func(t *testing.T, reg *flakyRegistry) codec.Decoder {
		dec, err := codec.NewDecoder(codec.Spec{Name: "avro", Registry: reg.URL})
		if err != nil {
			t.Fatal(err)
		}
		return dec
	}
	// waitDown waits until the registry has failed some requests, and
	// checks that nothing was dead-lettered meanwhile.
	waitDown := func(t *testing.T, reg *flakyRegistry, dead func() int64) {
		eventually(t, 30*time.Second, func() string {
			if n := reg.failed.Load(); n < 3 {
				return fmt.Sprintf("%d failed registry requests, waiting for 3", n)
			}
			return ""
		})
		if n := dead(); n != 0 {
			t.Fatalf("%d records dead-lettered while the registry was down", n)
		}
	}

	t.Run("filter", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		reg := newFlakyRegistry(t)
		input, output, group := e.name("alerts"), e.name("east"), e.name("filter")
		e.createTopic(input, 2)
		e.produce(input, values)
		dec := decoder(t, reg)
		where, err := predicate.Compile("diaSource.ra > 350", nil)
		if err != nil {
			t.Fatal(err)
		}
		f := e.startFilter(processor.AlertFilterConfig{Group: group, Input: input, Output: output, Decoder: dec, Where: where, MaxOutage: time.Minute})
		waitDown(t, reg, func() int64 { return f.f.Stats().DeadLettered })
		reg.up.Store(true)
		eventually(t, 60*time.Second, func() string {
			if st := f.f.Stats(); st.Matched+st.Rejected != int64(len(values)) || st.Matched != int64(matching) || st.DeadLettered != 0 {
				return fmt.Sprintf("stats %+v: want %d matched of %d, none dead-lettered", st, matching, len(values))
			}
			return ""
		})
		eventually(t, 30*time.Second, func() string {
			if n := len(e.readTopic(output)); n < matching {
				return fmt.Sprintf("%d output records, want %d", n, matching)
			}
			return ""
		})
		if dl, err := e.tryReadTopic(processor.DeadLetterTopic(group)); err == nil && len(dl) != 0 {
			t.Fatalf("%d dead letters", len(dl))
		}
	})

	t.Run("aggregate", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		reg := newFlakyRegistry(t)
		input, group := e.name("alerts"), e.name("per-filter")
		e.createTopic(input, 2)
		e.produce(input, values)
		cfg := e.aggregateConfig(group, input, "")
		cfg.Key, cfg.Time, cfg.Decoder = mustPath(t, "diaSource.filterName"), mustPath(t, "diaSource.midPointTai"), decoder(t, reg)
		cfg.MaxOutage = time.Minute
		r := e.startAggregator(cfg)
		waitDown(t, reg, func() int64 { return r.agg.Stats().DeadLettered })
		reg.up.Store(true)
		eventually(t, 60*time.Second, viewMatches(e.openView(group), perFilter))
		if st := r.agg.Stats(); st.DeadLettered != 0 {
			t.Fatalf("stats %+v: records dead-lettered", st)
		}
	})
}
