package integration

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStatus: `status` of a running group reports both steps with their
// member and every partition, lag 0 once all is counted, the table's rows,
// the watermark, and the dead letters; as a table too. Of a group that
// never ran it says the table does not exist.
func TestStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	events, input, brokers := e.ingestCLI(t, 2000, 2, 71)
	bad := filepath.Join(t.TempDir(), "bad.txt")
	writeFile(t, bad, "not json\n{\"action\": \"Close\"}\n")
	group := e.name("hourly")
	run(t, "ingest", brokers, "--topic", input, "--format", "lines", bad)
	parts, err := e.partitions(input)
	if err != nil {
		t.Fatal(err)
	}
	agg := startProc(t, "aggregate", brokers, "--group", group, "--input", input, "--key", "action", "--time", "time",
		"--window", "1h", "--watermark", "10m", "--log-level", "error")
	rows := len(expected(events))

	var st struct {
		Steps []struct {
			Step       string                         `json:"step"`
			State      string                         `json:"state"`
			Lag        int64                          `json:"lag"`
			Members    []struct{ Partitions []int32 } `json:"members"`
			Partitions []struct{ Partition int32 }    `json:"partitions"`
		} `json:"steps"`
		Table struct {
			Exists bool `json:"exists"`
			Rows   int  `json:"rows"`
		} `json:"table"`
		DeadLetters int64 `json:"dead_letters"`
		EventTime   *struct {
			ClosedTo string            `json:"closed_to"`
			Latest   map[string]string `json:"latest"`
		} `json:"event_time"`
	}
	eventually(t, 60*time.Second, func() string {
		out, err := exec.Command(binary(t), "status", brokers, "--group", group, "--format", "json").Output()
		if err != nil {
			return fmt.Sprintf("status: %v", err)
		}
		if err := json.Unmarshal(out, &st); err != nil {
			return err.Error()
		}
		if len(st.Steps) != 2 || st.Table.Rows != rows || st.DeadLetters != 2 || st.EventTime == nil {
			return fmt.Sprintf("status %s; want 2 steps, %d rows, 2 dead letters, event time", out, rows)
		}
		for _, s := range st.Steps {
			if s.State != "Stable" || s.Lag != 0 || len(s.Members) != 1 || len(s.Members[0].Partitions) != int(parts) || len(s.Partitions) != int(parts) {
				return fmt.Sprintf("step %s: %s", s.Step, out)
			}
		}
		return ""
	})
	// The input's other partitions are empty: they hold the watermark back
	// until --idle-timeout, and windows are closed to none yet.
	if st.EventTime.ClosedTo == "" || len(st.EventTime.Latest) == 0 {
		t.Errorf("event time %+v", st.EventTime)
	}
	out := run(t, "status", brokers, "--group", group)
	for _, want := range []string{"rekey  " + group + "-rekey", fmt.Sprintf("table              %s-table: %d rows", group, rows), "dead letters       2 in " + group + "-dlq", "windows closed to"} {
		if !strings.Contains(out, want) {
			t.Errorf("status table lacks %q:\n%s", want, out)
		}
	}
	agg.stop(t)

	if out := run(t, "status", brokers, "--group", e.name("never")); !strings.Contains(out, e.name("never")+"-table does not exist yet") || !strings.Contains(out, "not started") {
		t.Errorf("status of a group that never ran:\n%s", out)
	}
}
