package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/hourglass-stream/hourglass/processor"
	"github.com/hourglass-stream/hourglass/table"
	"github.com/hourglass-stream/hourglass/windows"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// status is what `hourglass status` reports of a group.
type status struct {
	Group       string       `json:"group"`
	Steps       []stepStatus `json:"steps"`
	Table       tableStatus  `json:"table"`
	DeadLetters int64        `json:"dead_letters"`
	LateTopic   string       `json:"late_topic,omitempty"`
	Late        int64        `json:"late,omitempty"`
	EventTime   *eventTime   `json:"event_time,omitempty"`
}

type stepStatus struct {
	Step          string            `json:"step"` // rekey or count
	ConsumerGroup string            `json:"consumer_group"`
	Topic         string            `json:"topic"` // what it reads
	State         string            `json:"state"`
	Members       []memberStatus    `json:"members"`
	Lag           int64             `json:"lag"`
	Partitions    []partitionStatus `json:"partitions"`
}

type memberStatus struct {
	ID         string  `json:"id"`
	ClientID   string  `json:"client_id"`
	Host       string  `json:"host"`
	Partitions []int32 `json:"partitions"`
}

type partitionStatus struct {
	Partition int32  `json:"partition"`
	Committed int64  `json:"committed"` // -1: nothing committed
	End       int64  `json:"end"`
	Lag       int64  `json:"lag"`
	Member    string `json:"member,omitempty"`
}

type tableStatus struct {
	Topic      string `json:"topic"`
	Exists     bool   `json:"exists"`
	Rows       int    `json:"rows"`
	Recovered  bool   `json:"recovered"`
	Unreadable int    `json:"unreadable,omitempty"`
}

type eventTime struct {
	ClosedTo string           `json:"closed_to"`
	Latest   map[int32]string `json:"latest"` // per input partition: the largest event time
	Ended    []int32          `json:"ended,omitempty"`
}

func newStatus(g *globals) *cobra.Command {
	var (
		group, lateTopic, format string
		timeout                  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "status --group G [--late-topic T] [--format table|json]",
		Short: "Show a group's members, partitions, lag, event time, table rows and dead letters",
		Long: `The first command to run on a deployed group. For both steps of the
aggregation (the rekey step, consumer group <group>-rekey on the input, and
the count step, consumer group <group> on <group>-repartition) it shows the
group's state, its members and their partitions, and per partition the
committed offset, the end offset and the lag (records not yet committed; a
partition holding nothing but transaction markers past the commit is caught
up, lag 0). Then the table's rows, read through a Goka view; how far windows
are closed and the latest event time per input partition (with --watermark);
and the records in <group>-dlq (and in --late-topic).`,
		Example: `  hourglass status --group hourly
  hourglass status --group hourly --late-topic hourly-late --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "table" && format != "json" {
				return fmt.Errorf("--format %q: want table or json", format)
			}
			kc, sc, err := g.sarama(cmd.Context(), "hourglass-status")
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			st, err := readStatus(ctx, kc, table.ViewConfig{Kafka: kc, Sarama: sc, Group: group}, lateTopic)
			if err != nil {
				return err
			}
			if format == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			return st.print(cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&group, "group", "", "the group")
	f.StringVar(&lateTopic, "late-topic", "", "also count the records of this late topic (the group's --late-topic)")
	f.StringVar(&format, "format", "table", "table or json")
	f.DurationVar(&timeout, "timeout", time.Minute, "give up after this long (the table is read whole)")
	requireFlags(cmd, "group")
	return cmd
}

// readStatus gathers the status of cfg.Group.
func readStatus(ctx context.Context, kc kafka.Config, cfg table.ViewConfig, lateTopic string) (*status, error) {
	opts, err := kc.Kgo()
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	group := cfg.Group
	st := &status{Group: group, Table: tableStatus{Topic: table.Topic(group)}}
	lags, err := adm.Lag(ctx, processor.RekeyGroup(group), group)
	if err != nil {
		return nil, fmt.Errorf("describe the groups of %s: %w", group, err)
	}
	for _, s := range []struct{ step, consumerGroup string }{{"rekey", processor.RekeyGroup(group)}, {"count", group}} {
		step, err := stepOf(ctx, kc, s.step, s.consumerGroup, lags[s.consumerGroup])
		if err != nil {
			return nil, err
		}
		if s.step == "count" && step.Topic == "" {
			step.Topic = processor.RepartitionTopic(group)
		}
		st.Steps = append(st.Steps, step)
	}
	if st.DeadLetters, err = countRecords(ctx, kc, adm, processor.DeadLetterTopic(group)); err != nil {
		return nil, err
	}
	if lateTopic != "" {
		st.LateTopic = lateTopic
		if st.Late, err = countRecords(ctx, kc, adm, lateTopic); err != nil {
			return nil, err
		}
	}
	v, err := table.OpenView(ctx, cfg)
	if errors.Is(err, table.ErrNoTable) {
		return st, nil
	}
	if err != nil {
		return nil, err
	}
	defer v.Close()
	st.Table.Exists = true
	if err := v.WaitRecovered(ctx); err != nil {
		return nil, fmt.Errorf("read %s: %w", st.Table.Topic, err)
	}
	// The rows and the watermark rows, in one pass over the table.
	page, err := v.Select(table.Query{})
	if err != nil {
		return nil, err
	}
	st.Table.Rows, st.Table.Recovered, st.Table.Unreadable = len(page.Rows), v.Recovered(), v.Unreadable()
	if p := page.Progress; p.Partitions > 0 {
		et := &eventTime{ClosedTo: formatOrNone(p.ClosedTo), Latest: map[int32]string{}, Ended: p.Ended}
		for src, t := range p.Latest {
			et.Latest[src] = formatOrNone(t)
		}
		st.EventTime = et
	}
	return st, nil
}

func formatOrNone(t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return windows.FormatTime(t)
}

// stepOf is the status of one step from its group's lag. A partition
// whose commit is short of the end only by transaction markers (a topic
// written in transactions) is caught up.
func stepOf(ctx context.Context, kc kafka.Config, step, consumerGroup string, l kadm.DescribedGroupLag) (stepStatus, error) {
	s := stepStatus{Step: step, ConsumerGroup: consumerGroup, State: l.State, Members: []memberStatus{}, Partitions: []partitionStatus{}}
	if l.State == "" {
		s.State = "unknown"
	}
	if err := l.Error(); errors.Is(err, kerr.GroupIDNotFound) {
		s.State = "not started"
		return s, nil
	} else if err != nil {
		return s, fmt.Errorf("group %s: %w", consumerGroup, err)
	}
	for _, m := range l.Members {
		ms := memberStatus{ID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost, Partitions: []int32{}}
		if a, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range a.Topics {
				ms.Partitions = append(ms.Partitions, t.Partitions...)
			}
			slices.Sort(ms.Partitions)
		}
		s.Members = append(s.Members, ms)
	}
	for topic, parts := range l.Lag {
		s.Topic = topic
		for p, ml := range parts {
			ps := partitionStatus{Partition: p, Committed: ml.Commit.At, End: ml.End.Offset, Lag: max(ml.Lag, 0)}
			if ml.Member != nil {
				ps.Member = ml.Member.MemberID
			}
			if ps.Lag > 0 && ps.Committed >= 0 {
				done, err := kafka.Consumed(ctx, kc, topic, map[int32]int64{p: ps.Committed}, map[int32]int64{p: ps.End})
				if err != nil {
					return s, err
				}
				if done {
					ps.Lag = 0
				}
			}
			s.Lag += ps.Lag
			s.Partitions = append(s.Partitions, ps)
		}
	}
	slices.SortFunc(s.Partitions, func(a, b partitionStatus) int { return int(a.Partition - b.Partition) })
	return s, nil
}

// countRecords counts the committed records of topic (0 if it does not
// exist), reading it: end minus start offsets would count transaction
// markers too.
func countRecords(ctx context.Context, kc kafka.Config, adm *kadm.Client, topic string) (int64, error) {
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return 0, err
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, err
	}
	var n int64
	var rerr error
	ends.Each(func(e kadm.ListedOffset) {
		if e.Err != nil || rerr != nil {
			return
		}
		s, _ := starts.Lookup(topic, e.Partition)
		rerr = kafka.ReadRange(ctx, kc, topic, e.Partition, s.Offset, e.Offset, kgo.ReadCommitted(), func(*kgo.Record) { n++ })
	})
	return n, rerr
}

// print writes st as tables.
func (st *status) print(out io.Writer) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "group %s\n\n", st.Group)
	fmt.Fprintln(w, "step\tconsumer group\treads\tstate\tmembers\tlag")
	for _, s := range st.Steps {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%d\n", s.Step, s.ConsumerGroup, s.Topic, s.State, len(s.Members), s.Lag)
	}
	fmt.Fprintln(w, "\nstep\tmember\tclient\thost\tpartitions")
	for _, s := range st.Steps {
		for _, m := range s.Members {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", s.Step, m.ID, m.ClientID, m.Host, joinInts(m.Partitions))
		}
	}
	fmt.Fprintln(w, "\nstep\tpartition\tcommitted\tend\tlag")
	for _, s := range st.Steps {
		for _, p := range s.Partitions {
			fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\n", s.Step, p.Partition, p.Committed, p.End, p.Lag)
		}
	}
	fmt.Fprintln(w)
	switch {
	case !st.Table.Exists:
		fmt.Fprintf(w, "table\t%s does not exist yet\n", st.Table.Topic)
	default:
		fmt.Fprintf(w, "table\t%s: %d rows", st.Table.Topic, st.Table.Rows)
		if st.Table.Unreadable > 0 {
			fmt.Fprintf(w, ", %d unreadable", st.Table.Unreadable)
		}
		fmt.Fprintln(w)
	}
	if et := st.EventTime; et != nil {
		latest := make([]string, 0, len(et.Latest))
		for p, t := range et.Latest {
			latest = append(latest, fmt.Sprintf("%d: %s", p, t))
		}
		slices.Sort(latest)
		fmt.Fprintf(w, "windows closed to\t%s\n", et.ClosedTo)
		fmt.Fprintf(w, "latest event\t%s\n", strings.Join(latest, ", "))
		if len(et.Ended) > 0 {
			fmt.Fprintf(w, "ended\tinput partitions %s\n", joinInts(et.Ended))
		}
	}
	fmt.Fprintf(w, "dead letters\t%d in %s\n", st.DeadLetters, processor.DeadLetterTopic(st.Group))
	if st.LateTopic != "" {
		fmt.Fprintf(w, "late events\t%d in %s\n", st.Late, st.LateTopic)
	}
	return w.Flush()
}

func joinInts(ns []int32) string {
	if len(ns) == 0 {
		return "-"
	}
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, " ")
}
