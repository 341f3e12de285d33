package metrics

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hourglass-stream/hourglass/broker"
	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func scrape(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestLagSurvivesBrokerOutage: while Kafka cannot be asked for lag,
// /metrics still answers 200 with every other metric, hourglass_lag_up 0 and
// the read error counted; once Kafka is back the lag series return. Before
// the fix every scrape answered HTTP 500 while the lag read failed.
func TestLagSurvivesBrokerOutage(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	start := func() *broker.Broker {
		b, err := broker.Start(broker.Config{Listen: addr})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := start()
	kc := kafka.Config{Brokers: []string{addr}}
	// A group with committed offsets and 3 records not yet consumed.
	commit := func() {
		t.Helper()
		opts, err := kc.Kgo()
		if err != nil {
			t.Fatal(err)
		}
		cl, err := kgo.NewClient(append(opts, kgo.DefaultProduceTopic("t"), kgo.AllowAutoTopicCreation(), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		for range 3 {
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		offsets := kadm.Offsets{}
		offsets.Add(kadm.Offset{Topic: "t", Partition: 0, At: 0, LeaderEpoch: -1})
		if _, err := kadm.NewClient(cl).CommitOffsets(ctx, "g", offsets); err != nil {
			t.Fatal(err)
		}
	}
	commit()
	lag, err := NewLag(kc, "g")
	if err != nil {
		t.Fatal(err)
	}
	defer lag.Close()
	reg := NewRegistry()
	reg.MustRegister(lag)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hourglass_other"}, func() float64 { return 7 }))
	srv := httptest.NewServer(Handler(reg))
	defer srv.Close()
	url := srv.URL

	code, body := scrape(t, url)
	if code != 200 || !strings.Contains(body, `hourglass_partition_lag{group="g",partition="0",topic="t"} 3`) || !strings.Contains(body, "hourglass_lag_up 1") {
		t.Fatalf("before the outage: HTTP %d\n%s", code, body)
	}

	b.Close()
	code, body = scrape(t, url)
	if code != 200 {
		t.Fatalf("broker down: HTTP %d, want 200:\n%s", code, body)
	}
	for _, want := range []string{"hourglass_other 7", "hourglass_lag_up 0", "hourglass_lag_read_errors_total 1", "go_goroutines"} {
		if !strings.Contains(body, want) {
			t.Errorf("broker down: no %q in:\n%s", want, body)
		}
	}
	if strings.Contains(body, "hourglass_partition_lag{") {
		t.Errorf("broker down: stale lag series served:\n%s", body)
	}

	b = start() // a new, empty broker on the same address
	defer b.Close()
	commit()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body = scrape(t, url)
		if code == 200 && strings.Contains(body, `hourglass_partition_lag{group="g",partition="0",topic="t"} 3`) && strings.Contains(body, "hourglass_lag_up 1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lag not back 30 s after the broker: HTTP %d\n%s", code, body)
		}
		time.Sleep(200 * time.Millisecond) // polling the scrape, not synchronising
	}
}
