package integration

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hourglass-stream/hourglass/alerts"
	"github.com/hourglass-stream/hourglass/codec"
	"github.com/hourglass-stream/hourglass/predicate"
	"github.com/hourglass-stream/hourglass/processor"
	"github.com/twmb/franz-go/pkg/kgo"
)

// produce sends values (nil keys) to topic and waits for the acks.
func (e *env) produce(topic string, values [][]byte) {
	e.t.Helper()
	p, err := newProducer(e)
	if err != nil {
		e.t.Fatal(err)
	}
	defer p.Close()
	var recs []*kgo.Record
	for _, v := range values {
		recs = append(recs, &kgo.Record{Topic: topic, Value: v})
	}
	if err := p.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		e.t.Fatal(err)
	}
}

type runningFilter struct {
	f      *processor.AlertFilter
	cancel context.CancelFunc
	done   chan error
}

func (e *env) startFilter(cfg processor.AlertFilterConfig) *runningFilter {
	e.t.Helper()
	cfg.Kafka, cfg.Sarama = e.kafka, e.sarama
	f, err := processor.NewAlertFilter(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningFilter{f: f, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- f.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-r.done; err != nil {
			e.t.Errorf("filter stopped with error: %v", err)
		}
	})
	return r
}

// nextAlert is the generator's next alert encoded, and whether it has
// diaSource.ra > 350: the independent evaluation, plain Go on the
// generated alert.
func nextAlert(t *testing.T, gen *alerts.Generator, enc *alerts.Encoder) ([]byte, bool) {
	t.Helper()
	a := gen.Next()
	v, err := enc.Encode(a, gen.Rng())
	if err != nil {
		t.Fatal(err)
	}
	return v, a["diaSource"].(map[string]any)["ra"].(float64) > 350
}

// writeAlertSchema writes the sample alert schema's .avsc files into dir.
func writeAlertSchema(t *testing.T, dir string) string {
	t.Helper()
	if err := alerts.WriteSchema(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func sortedStrings(b [][]byte) []string {
	out := make([]string, len(b))
	for i, x := range b {
		out[i] = string(x)
	}
	sort.Strings(out)
	return out
}

// TestFilterAlerts: alerts in each format → filter 'diaSource.ra > 350' →
// the output holds exactly the alerts a direct evaluation in Go selects,
// byte for byte; malformed records go to the dead-letter topic with
// reasons; the processor keeps running.
func TestFilterAlerts(t *testing.T) {
	schemaDir := writeAlertSchema(t, t.TempDir())
	idDir := t.TempDir()
	writeAlertSchema(t, filepath.Join(idDir, "7"))
	schema, err := alerts.Schema()
	if err != nil {
		t.Fatal(err)
	}
	registry := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/schemas/ids/7" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, `{"schema": %q}`, schema.String())
	}))
	t.Cleanup(registry.Close) // after the parallel subtests

	tests := []struct {
		format string
		spec   codec.Spec
		bad    map[string]processor.Reason // malformed value → expected reason
	}{
		{"pyliteral", codec.Spec{Name: "pyliteral"}, map[string]processor.Reason{
			`{'alertId': 1, 'diaSource': {'ra': `:         processor.ReasonDecode,
			`{"alertId": True, "diaSource": {"ra": 1.0}}`: "", // valid Python, not selected
			`{'alertId': 2, 'diaSource': {'ra': None}}`:   processor.ReasonPredicate,
			`{'alertId': 3}`: processor.ReasonPredicate,
			// Bad only where the predicate does not read: only the
			// predicate's field is built, yet all of it is checked.
			`{'alertId': 4, 'diaSource': {'ra': 351.0}, 'prv_diaSources': [{'snr': 1, 'snr': 2}]}`: processor.ReasonDecode,
			`{'alertId': 5, 'diaSource': {'ra': 351.0, 'decl': 012}}`:                              processor.ReasonDecode,
		}},
		{"json", codec.Spec{Name: "json"}, map[string]processor.Reason{
			`{'alertId': 1}`: processor.ReasonDecode,
			`{"alertId": 1, "diaSource": {"ra": 1e999}}`: processor.ReasonDecode,
			`[1, 2]`: processor.ReasonPredicate,
			`{"alertId": 6, "diaSource": {"ra": 351.0}, "prv_diaSources": [{"snr": 1, "snr": 2}]}`: processor.ReasonDecode,
		}},
		{"avro", codec.Spec{Name: "avro", Schema: filepath.Join(schemaDir, alerts.SchemaTop)}, map[string]processor.Reason{
			"\x02\x04": processor.ReasonDecode,
		}},
		{"confluent", codec.Spec{Name: "avro", SchemaDir: idDir}, map[string]processor.Reason{
			"{not wire format}":            processor.ReasonDecode,
			"\x00\x00\x00\x00\x09\x02\x04": processor.ReasonDecode, // unknown schema id 9
		}},
		{"confluent", codec.Spec{Name: "avro", Registry: registry.URL}, map[string]processor.Reason{
			"\x00\x00\x00\x00\x07\x02": processor.ReasonDecode, // truncated
		}},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.format, i), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			enc, err := alerts.NewEncoder(tt.format, 7)
			if err != nil {
				t.Fatal(err)
			}
			gen := alerts.NewGenerator(alerts.Spec{Seed: uint64(100 + i), Stamps: i%2 == 0})
			var values, want [][]byte
			for n := 0; n < 1500; n++ {
				v, far := nextAlert(t, gen, enc)
				values = append(values, v)
				if far {
					want = append(want, v)
				}
				if n%300 == 0 { // malformed records in the middle of the stream
					for bad := range tt.bad {
						values = append(values, []byte(bad))
					}
				}
			}
			input, output, group := e.name("alerts"), e.name("east"), e.name("filter")
			e.createTopic(input, 4)
			e.produce(input, values)

			dec, err := codec.NewDecoder(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			where, err := predicate.Compile("diaSource.ra > 350", dec.Schema())
			if err != nil {
				t.Fatal(err)
			}
			f := e.startFilter(processor.AlertFilterConfig{Group: group, Input: input, Output: output, Decoder: dec, Where: where})

			wantDead := 0
			for _, reason := range tt.bad {
				if reason != "" {
					wantDead += 5
				}
			}
			eventually(t, 60*time.Second, func() string {
				if st := f.f.Stats(); st.Read != int64(len(values)) || st.DeadLettered != int64(wantDead) || st.Matched != int64(len(want)) {
					return fmt.Sprintf("stats %+v: want %d read, %d matched, %d dead-lettered", st, len(values), len(want), wantDead)
				}
				return ""
			})
			var got [][]byte
			eventually(t, 30*time.Second, func() string {
				got = got[:0]
				for _, r := range e.readTopic(output) {
					if r.Key != nil {
						return fmt.Sprintf("output record has key %q; the input had none", r.Key)
					}
					got = append(got, r.Value)
				}
				if len(got) != len(want) {
					return fmt.Sprintf("%d output records, want %d", len(got), len(want))
				}
				return ""
			})
			if g, w := sortedStrings(got), sortedStrings(want); strings.Join(g, "\x00") != strings.Join(w, "\x00") {
				t.Fatalf("output differs from the %d selected alerts", len(want))
			}
			reasons := map[string]int{}
			for _, r := range e.readTopic(processor.DeadLetterTopic(group)) {
				want, ok := tt.bad[string(r.Value)]
				if !ok || want == "" {
					t.Errorf("unexpected dead letter %q", r.Value)
				}
				if kind := string(r.Headers[processor.HeaderErrorKind]); kind != string(want) {
					t.Errorf("dead letter %q: kind %s, want %s (%s)", r.Value, kind, want, r.Headers[processor.HeaderError])
				}
				if len(r.Headers[processor.HeaderError]) == 0 || string(r.Headers[processor.HeaderSourceTopic]) != input {
					t.Errorf("dead letter %q lacks its reason or source", r.Value)
				}
				reasons[string(r.Headers[processor.HeaderErrorKind])]++
			}
			t.Logf("%d alerts, %d selected, dead letters by kind %v", len(values), len(want), reasons)
		})
	}
}

// TestAggregateAlerts counts Avro alerts per diaSource.filterName per hour
// of diaSource.midPointTai: the aggregate processor with --codec avro.
func TestAggregateAlerts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := writeAlertSchema(t, t.TempDir())
	enc, err := alerts.NewEncoder("avro", 0)
	if err != nil {
		t.Fatal(err)
	}
	gen := alerts.NewGenerator(alerts.Spec{Seed: 9})
	want := map[string]int64{}
	var values [][]byte
	for i := 0; i < 3000; i++ {
		a := gen.Next()
		v, err := enc.Encode(a, gen.Rng())
		if err != nil {
			t.Fatal(err)
		}
		values = append(values, v)
		src := a["diaSource"].(map[string]any)
		sec := src["midPointTai"].(int64)
		want[fmt.Sprintf("%s|%d", src["filterName"], sec-sec%3600)]++
	}
	input, group := e.name("alerts"), e.name("per-filter")
	e.createTopic(input, 4)
	e.produce(input, values)
	dec, err := codec.NewDecoder(codec.Spec{Name: "avro", Schema: dir})
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.aggregateConfig(group, input, "")
	cfg.Key, cfg.Time, cfg.Decoder = mustPath(t, "diaSource.filterName"), mustPath(t, "diaSource.midPointTai"), dec
	e.startAggregator(cfg)
	v := e.openView(group)
	eventually(t, 60*time.Second, viewMatches(v, want))
}

// TestFilterOutputJSON: with --output-codec json a matching alert, of
// which only diaSource.ra was built to match it, is written whole as JSON;
// a record bad beside the predicate's field is still dead-lettered.
func TestFilterOutputJSON(t *testing.T) {
	e := newEnv(t)
	enc, err := alerts.NewEncoder("pyliteral", 0)
	if err != nil {
		t.Fatal(err)
	}
	gen := alerts.NewGenerator(alerts.Spec{Seed: 41})
	var values [][]byte
	var want []string
	for range 600 {
		v, far := nextAlert(t, gen, enc)
		values = append(values, v)
		if far {
			whole, err := codec.DecodePyLiteral(v)
			if err != nil {
				t.Fatal(err)
			}
			j, err := codec.EncodeJSON(whole)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, string(j))
		}
	}
	values = append(values, []byte(`{'diaSource': {'ra': 351.0}, 'x': [1, 2,, 3]}`))
	input, output, group := e.name("alerts"), e.name("json"), e.name("filter")
	e.createTopic(input, 2)
	e.produce(input, values)
	dec, err := codec.NewDecoder(codec.Spec{Name: "pyliteral"})
	if err != nil {
		t.Fatal(err)
	}
	where, err := predicate.Compile("diaSource.ra > 350", nil)
	if err != nil {
		t.Fatal(err)
	}
	f := e.startFilter(processor.AlertFilterConfig{Group: group, Input: input, Output: output, Decoder: dec, Where: where, OutputCodec: processor.OutputJSON})
	eventually(t, 60*time.Second, func() string {
		if st := f.f.Stats(); st.Read != int64(len(values)) || st.Matched != int64(len(want)) || st.DeadLettered != 1 {
			return fmt.Sprintf("stats %+v: want %d read, %d matched, 1 dead-lettered", st, len(values), len(want))
		}
		return ""
	})
	var got [][]byte
	eventually(t, 30*time.Second, func() string {
		got = got[:0]
		for _, r := range e.readTopic(output) {
			got = append(got, r.Value)
		}
		if len(got) != len(want) {
			return fmt.Sprintf("%d output records, want %d", len(got), len(want))
		}
		return ""
	})
	sort.Strings(want)
	if g := sortedStrings(got); strings.Join(g, "\n") != strings.Join(want, "\n") {
		t.Fatalf("JSON output differs from the %d selected alerts decoded in full", len(want))
	}
	if len(want) == 0 {
		t.Fatal("no alert selected: the test checks nothing")
	}
}
