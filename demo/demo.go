// Package demo runs the classic Structured Streaming example end to end in
// one process: an embedded broker, the open/close event files streamed one
// file per trigger, hourly counts per action in a Goka group table, and the
// complete result table shown as it fills.
package demo

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hourglass-stream/hourglass/broker"
	"github.com/hourglass-stream/hourglass/codec"
	"github.com/hourglass-stream/hourglass/ingest"
	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/hourglass-stream/hourglass/processor"
	"github.com/hourglass-stream/hourglass/report"
	"github.com/hourglass-stream/hourglass/table"
	"github.com/hourglass-stream/hourglass/windows"
)

// Names of the demo's group and topics on its embedded broker.
const (
	Group       = "demo"
	InputTopic  = "events"
	OutputTopic = "demo-counts"
)

// Options describe a demo run. The zero value runs the classic set.
type Options struct {
	Data   DataSpec // generated data, when DataDir is empty
	Dir    string   // read the user's files from here instead of generating
	Format report.Format
	// TriggerInterval is the least time between two files; 0 means 200ms.
	TriggerInterval time.Duration
	// Live redraws the table in place while it fills (a terminal); Height
	// is the terminal's height in lines (0 means 40).
	Live   bool
	Height int
	Out    io.Writer
	Logger *slog.Logger
}

// Result is what a finished demo counted.
type Result struct {
	Rows         []windows.Result
	Ingested     int64
	DeadLettered int64
	Files        int64
}

// Run runs the demo and prints its result to opts.Out.
func Run(ctx context.Context, opts Options) (Result, error) {
	if opts.Format == "" {
		opts.Format = report.Table
	}
	if opts.TriggerInterval == 0 {
		opts.TriggerInterval = 200 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	dir := opts.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "hourglass-demo-*")
		if err != nil {
			return Result{}, err
		}
		defer os.RemoveAll(tmp)
		spec := opts.Data.withDefaults()
		if _, err := WriteFiles(tmp, Generate(spec), spec.Files); err != nil {
			return Result{}, fmt.Errorf("demo: write data: %w", err)
		}
		dir = tmp
	}

	b, err := broker.Start(broker.Config{})
	if err != nil {
		return Result{}, err
	}
	defer b.Close()
	kc := kafka.Config{Brokers: []string{b.Addr()}, ClientID: "hourglass-demo"}
	sc, err := kc.Sarama()
	if err != nil {
		return Result{}, err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	agg, err := processor.NewAggregator(processor.AggregateConfig{
		Kafka: kc, Sarama: sc, Group: Group, Input: InputTopic, Output: OutputTopic,
		Key: mustPath("action"), Time: mustPath("time"), Windows: windows.Tumbling(time.Hour),
		CreateInput: true, // the demo streams its events into it after the start
		Logger:      opts.Logger,
	})
	if err != nil {
		return Result{}, err
	}
	aggDone := make(chan error, 1)
	go func() { aggDone <- agg.Run(ctx) }()
	defer func() { cancel(); <-aggDone }()

	view, err := openViewWhenReady(ctx, table.ViewConfig{Kafka: kc, Sarama: sc, Group: Group, Logger: opts.Logger}, aggDone)
	if err != nil {
		return Result{}, err
	}
	defer view.Close()

	producer, err := kc.Producer(fnv.New32a)
	if err != nil {
		return Result{}, fmt.Errorf("demo: %w", err)
	}
	defer producer.Close()
	var ingested, files atomic.Int64
	ingestDone := make(chan error, 1)
	go func() {
		// Lines, not JSON lines: the processor is the one judge of what a
		// record is worth, and dead-letters what it cannot count.
		sum, err := ingest.Run(ctx, producer, ingest.Config{
			Topic: InputTopic, Format: ingest.FormatLines, FilesPerTrigger: 1,
			TriggerInterval: opts.TriggerInterval,
			OnTrigger: func(s ingest.Summary) {
				ingested.Store(s.Records)
				files.Store(s.Files)
			},
		}, []string{dir})
		ingested.Store(sum.Records)
		files.Store(sum.Files)
		ingestDone <- err
	}()

	screen := newScreen(opts)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	ingestFinished := false
	for {
		select {
		case err := <-ingestDone:
			if err != nil {
				return Result{}, fmt.Errorf("demo: %w", err)
			}
			ingestFinished = true
		case err := <-aggDone:
			aggDone <- err // for the deferred wait
			if err == nil {
				err = errors.New("stopped early")
			}
			return Result{}, fmt.Errorf("demo: aggregate: %w", err)
		case <-ctx.Done():
			return Result{}, ctx.Err()
		case <-tick.C:
		}
		rows, err := view.Rows(table.Filter{})
		if err != nil {
			return Result{}, err
		}
		counted := int64(0)
		for _, r := range rows {
			counted += r.Count
		}
		dead := agg.Stats().DeadLettered
		screen.draw(rows, ingested.Load(), counted, dead, files.Load())
		if ingestFinished && counted+dead == ingested.Load() {
			res := Result{Rows: rows, Ingested: ingested.Load(), DeadLettered: dead, Files: files.Load()}
			return res, screen.final(res)
		}
		if counted+dead > ingested.Load() && ingestFinished {
			return Result{}, fmt.Errorf("demo: counted %d and set aside %d, more than the %d ingested", counted, dead, ingested.Load())
		}
	}
}

// openViewWhenReady opens the group's view as soon as the aggregator has
// created its table.
func openViewWhenReady(ctx context.Context, cfg table.ViewConfig, aggDone chan error) (*table.View, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, err := table.OpenView(ctx, cfg)
		if err == nil {
			return v, nil
		}
		if !errors.Is(err, table.ErrNoTable) || time.Now().After(deadline) {
			return nil, err
		}
		select {
		case err := <-aggDone:
			aggDone <- err
			return nil, fmt.Errorf("demo: aggregate stopped: %v", err)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond): // polling the broker for the table topic
		}
	}
}

func mustPath(s string) codec.Path {
	p, err := codec.ParsePath(s)
	if err != nil {
		panic(err) // constant paths above
	}
	return p
}

// screen shows the table as it fills.
type screen struct {
	opts  Options
	drawn bool
}

func newScreen(opts Options) *screen { return &screen{opts: opts} }

// draw redraws the live table in place: the most recent windows that fit
// the terminal, under a status line.
func (s *screen) draw(rows []windows.Result, ingested, counted, dead, files int64) {
	if !s.opts.Live {
		return
	}
	height := s.opts.Height
	if height <= 0 {
		height = 40
	}
	shown := rows
	if keep := height - 6; keep > 0 && len(shown) > keep {
		shown = shown[len(shown)-keep:]
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "hourglass demo: %d files, %d events ingested, %d counted, %d set aside; %d rows (last %d shown)\n\n",
		files, ingested, counted, dead, len(rows), len(shown))
	_ = report.Rows(&sb, report.Table, shown)
	// Overwrite the previous frame line by line (cursor home, erase to the
	// end of each line, erase below) instead of clearing the screen, which
	// flickers.
	frame := "\x1b[H" + strings.ReplaceAll(sb.String(), "\n", "\x1b[K\n") + "\x1b[J"
	if !s.drawn {
		frame = "\x1b[2J" + frame
	}
	fmt.Fprint(s.opts.Out, frame)
	s.drawn = true
}

// final prints the whole result: the table and totals for people, or only
// the table in CSV or JSON for scripts.
func (s *screen) final(res Result) error {
	out := s.opts.Out
	if s.opts.Format != report.Table {
		return report.Rows(out, s.opts.Format, res.Rows)
	}
	if s.drawn {
		fmt.Fprint(out, "\x1b[H\x1b[2J")
	}
	fmt.Fprintf(out, "Hourly counts per action (complete result table, %d rows)\n\n", len(res.Rows))
	if err := report.Rows(out, report.Table, res.Rows); err != nil {
		return err
	}
	fmt.Fprintln(out, "\nTotals")
	if err := report.Totals(out, report.Table, table.Totals(res.Rows)); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n%d events from %d files counted exactly; %d bad records set aside in %s.\n",
		res.Ingested-res.DeadLettered, res.Files, res.DeadLettered, processor.DeadLetterTopic(Group))
	return nil
}
