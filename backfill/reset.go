package backfill

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/hourglass-stream/hourglass/processor"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// ResetConfig is one reset of a stopped aggregation group.
type ResetConfig struct {
	Kafka kafka.Config
	Group string
	// Input is the input topic; empty means the topics the group's rekey
	// step has committed offsets for.
	Input string
	To    Point
	// DropState also deletes the group's table topic, moves the count step
	// to the end of the repartition topic (the replay writes the updates
	// anew), and empties StateDir, so that a replay rebuilds the table.
	DropState bool
	StateDir  string
	// Yes carries the plan out; without it Reset only returns the plan.
	Yes bool
}

// ErrNotConfirmed is returned with the plan when ResetConfig.Yes is false.
var ErrNotConfirmed = errors.New("nothing changed: add --yes to carry this out")

// Reset moves a stopped group's input offsets to cfg.To and, with
// DropState, deletes its table. It returns the plan, one step per line.
// A replay after a reset without DropState changes no count: every row
// skips the source offsets it has applied.
func Reset(ctx context.Context, cfg ResetConfig) ([]string, error) {
	if cfg.Group == "" {
		return nil, errors.New("no group: set --group")
	}
	adm, closeAdm, err := admin(cfg.Kafka)
	if err != nil {
		return nil, err
	}
	defer closeAdm()
	if err := requireStopped(ctx, adm, cfg.Group); err != nil {
		return nil, fmt.Errorf("reset %s: stop its processes first: %w", cfg.Group, err)
	}
	rekey := processor.RekeyGroup(cfg.Group)
	inputs := []string{cfg.Input}
	if cfg.Input == "" {
		inputs = nil
		resp, err := adm.FetchOffsets(ctx, rekey)
		if err != nil {
			return nil, fmt.Errorf("offsets of %s: %w", rekey, err)
		}
		for topic := range resp.Offsets() {
			inputs = append(inputs, topic)
		}
		sort.Strings(inputs)
		if len(inputs) == 0 {
			return nil, fmt.Errorf("%s has no committed offsets: name the input with --input", rekey)
		}
	}
	target := make(kadm.Offsets)
	var plan []string
	for _, in := range inputs {
		offs, err := resolve(ctx, adm, in, cfg.To, true)
		if err != nil {
			return nil, fmt.Errorf("--to: %w", err)
		}
		parts := make([]int32, 0, len(offs))
		for p := range offs {
			parts = append(parts, p)
		}
		sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
		desc := ""
		for _, p := range parts {
			target.Add(kadm.Offset{Topic: in, Partition: p, At: offs[p], LeaderEpoch: -1})
			desc += fmt.Sprintf(" %d:%d", p, offs[p])
		}
		plan = append(plan, fmt.Sprintf("move %s on %s to %s (partition:offset%s)", rekey, in, cfg.To, desc))
	}
	table, repart := processor.TableTopic(cfg.Group), processor.RepartitionTopic(cfg.Group)
	if cfg.DropState {
		plan = append(plan,
			fmt.Sprintf("delete topic %s", table),
			fmt.Sprintf("move %s on %s to its end", cfg.Group, repart))
		if cfg.StateDir != "" {
			plan = append(plan, fmt.Sprintf("empty the state directory %s", cfg.StateDir))
		}
	}
	if !cfg.Yes {
		return plan, ErrNotConfirmed
	}

	if err := adm.CommitAllOffsets(ctx, rekey, target); err != nil {
		return plan, fmt.Errorf("move %s: %w", rekey, err)
	}
	if !cfg.DropState {
		return plan, nil
	}
	if resp, err := adm.DeleteTopic(ctx, table); err != nil || (resp.Err != nil && !errors.Is(resp.Err, kerr.UnknownTopicOrPartition)) {
		return plan, fmt.Errorf("delete %s: %w", table, errors.Join(err, resp.Err))
	}
	if err := waitGone(ctx, adm, table); err != nil {
		return plan, err
	}
	ends, err := adm.ListEndOffsets(ctx, repart)
	if err == nil && ends.Error() == nil {
		if err := adm.CommitAllOffsets(ctx, cfg.Group, ends.Offsets()); err != nil {
			return plan, fmt.Errorf("move %s: %w", cfg.Group, err)
		}
	}
	if cfg.StateDir != "" {
		if err := emptyStateDir(cfg.StateDir); err != nil {
			return plan, err
		}
	}
	return plan, nil
}

func waitGone(ctx context.Context, adm *kadm.Client, topic string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		td, err := adm.ListTopics(ctx, topic)
		if err == nil && !td.Has(topic) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("topic %s still listed 30 s after its deletion", topic)
}

// emptyStateDir removes what hourglass keeps in dir, refusing a directory
// that is not an hourglass state directory.
func emptyStateDir(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, ".hourglass-lock")); err != nil {
		return fmt.Errorf("--state-dir %s does not look like an hourglass state directory (no .hourglass-lock): not emptied", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}
