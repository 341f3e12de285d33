package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/hourglass-stream/hourglass/table"
	"github.com/hourglass-stream/hourglass/windows"
)

func TestRows(t *testing.T) {
	start := time.Date(2016, 7, 26, 8, 0, 0, 0, time.UTC)
	rows := []windows.Result{
		{Key: "Open", WindowStart: start, WindowEnd: start.Add(time.Hour), Count: 1077},
		{Key: `a "quoted", key`, WindowStart: start, WindowEnd: start.Add(time.Hour), Count: 1},
	}
	tests := []struct {
		format Format
		want   string
	}{
		{CSV, "key,window_start,window_end,count\n" +
			"Open,2016-07-26T08:00:00Z,2016-07-26T09:00:00Z,1077\n" +
			`"a ""quoted"", key",2016-07-26T08:00:00Z,2016-07-26T09:00:00Z,1` + "\n"},
		{JSON, `{"key":"Open","window_start":"2016-07-26T08:00:00Z","window_end":"2016-07-26T09:00:00Z","count":1077}` + "\n" +
			`{"key":"a \"quoted\", key","window_start":"2016-07-26T08:00:00Z","window_end":"2016-07-26T09:00:00Z","count":1}` + "\n"},
		{Table, "key              window_start          window_end            count\n" +
			"Open             2016-07-26T08:00:00Z  2016-07-26T09:00:00Z   1077\n" +
			`a "quoted", key  2016-07-26T08:00:00Z  2016-07-26T09:00:00Z      1` + "\n"},
	}
	for _, tt := range tests {
		t.Run(string(tt.format), func(t *testing.T) {
			var b bytes.Buffer
			if err := Rows(&b, tt.format, rows); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Fatalf("got\n%s\nwant\n%s", b.String(), tt.want)
			}
		})
	}
}

func TestTotals(t *testing.T) {
	var b bytes.Buffer
	if err := Totals(&b, CSV, []table.Total{{Key: "Close", Total: 50000}, {Key: "Open", Total: 50000}}); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != "key,total\nClose,50000\nOpen,50000\n" {
		t.Fatalf("got %q", got)
	}
}

func TestParseFormat(t *testing.T) {
	for _, ok := range []string{"table", "csv", "json"} {
		if _, err := ParseFormat(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	if _, err := ParseFormat("xml"); err == nil || !strings.Contains(err.Error(), "table, csv or json") {
		t.Errorf("xml: %v", err)
	}
}

func TestQuery(t *testing.T) {
	cols := []string{"key", "total", "mean", "note"}
	rows := [][]any{{"Close", int64(4), 1.5, nil}, {"Open", int64(12), 2.0, []byte("x")}}
	for f, want := range map[Format]string{
		CSV:   "key,total,mean,note\nClose,4,1.5,\nOpen,12,2,x\n",
		JSON:  `{"key":"Close","total":4,"mean":1.5,"note":null}` + "\n" + `{"key":"Open","total":12,"mean":2,"note":"x"}` + "\n",
		Table: "key    total  mean  note\nClose  4      1.5       \nOpen   12     2        x\n",
	} {
		var b strings.Builder
		if err := Query(&b, f, cols, rows); err != nil {
			t.Fatal(err)
		}
		if b.String() != want {
			t.Errorf("%s:\ngot  %q\nwant %q", f, b.String(), want)
		}
	}
}

// TestTableEscapesControlCharacters: table output never passes a control
// character to the terminal (a key "\x1b]0;PWNED\x07\x1b[2J" retitled and
// cleared it before); CSV and JSON keep the key exact.
func TestTableEscapesControlCharacters(t *testing.T) {
	evil := "\x1b]0;PWNED\x07\x1b[2J"
	rows := []windows.Result{{Key: evil, WindowStart: time.Unix(0, 0).UTC(), WindowEnd: time.Unix(3600, 0).UTC(), Count: 1}, {Key: "Öffnen", Count: 2}}
	var table, csv bytes.Buffer
	if err := Rows(&table, Table, rows); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(table.String(), "\x1b\x07") || !strings.Contains(table.String(), `\x1b]0;PWNED\a\x1b[2J`) || !strings.Contains(table.String(), "Öffnen") {
		t.Fatalf("table output:\n%q", table.String())
	}
	if err := Rows(&csv, CSV, rows); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(csv.String(), evil) {
		t.Fatalf("CSV output lost the exact key:\n%q", csv.String())
	}
}
