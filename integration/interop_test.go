package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hourglass-stream/hourglass/windows"
)

// interopPython is the Python that has confluent-kafka (librdkafka), a
// Kafka client nobody here wrote: HOURGLASS_PYTHON, or the virtual
// environment `make interop-client` makes in .cache/.
func interopPython(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("HOURGLASS_PYTHON"); p != "" {
		return p
	}
	p, err := filepath.Abs("../.cache/interop/bin/python")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Skip("no confluent-kafka client: run `make interop-client` (make test does) or set HOURGLASS_PYTHON")
	}
	return p
}

// rdkafka runs the librdkafka client script and returns its stdout.
func rdkafka(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(interopPython(t), append([]string{"testdata/interop/rdkafka_client.py"}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("rdkafka_client.py %s: %v: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// TestRealClientInterop: librdkafka's idempotent producer writes the
// input, hourglass counts it, and a librdkafka consumer reading the
// complete-mode output topic as a compacted table sees exactly the
// expected counts.
func TestRealClientInterop(t *testing.T) {
	t.Parallel()
	interopPython(t)
	e := newEnv(t)
	events, dir := writeData(t, 6000, 3, 91)
	input, group, output := e.name("events"), e.name("hourly"), e.name("counts")
	e.createTopic(input, 4)
	brokers := strings.Join(cluster, ",")

	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) != 3 {
		t.Fatalf("data files %v, %v", files, err)
	}
	out, err := rdkafka(t, append([]string{"produce", brokers, input}, files...)...)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out); got != "6000" {
		t.Fatalf("librdkafka delivered %s records, want 6000", got)
	}

	agg := startProc(t, "aggregate", "--brokers="+brokers, "--group", group, "--input", input,
		"--key", "action", "--time", "time", "--window", "1h", "--output", output, "--log-level", "warn")
	want := expected(events)
	eventually(t, 90*time.Second, func() string {
		// Until the aggregator has created the output topic, the script
		// fails; the condition then reports why.
		out, err := rdkafka(t, "table", brokers, output)
		if err != nil {
			return err.Error()
		}
		var rows map[string]int64
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			return err.Error()
		}
		got := map[string]int64{}
		for rowKey, n := range rows {
			key, start, err := windows.ParseRowKey(rowKey)
			if err != nil {
				return err.Error()
			}
			got[fmt.Sprintf("%s|%d", key, start.Unix())] = n
		}
		return diff(got, want)
	})
	agg.stop(t)
}
