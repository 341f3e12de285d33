package backfill

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// progress shows how far the rekey step has read into [Start, End): on a
// terminal one line redrawn in place, otherwise a plain line every Every.
type progress struct {
	w        io.Writer
	terminal bool
	every    time.Duration
	sum      Summary
	began    time.Time
	lastAt   time.Time
	lastDone int64
	rate     float64 // records/s, smoothed
	drawn    bool
	last     string
}

func newProgress(cfg Config, sum Summary) *progress {
	every := cfg.Every
	if every == 0 {
		every = 5 * time.Second
		if cfg.Terminal {
			every = 200 * time.Millisecond
		}
	}
	now := time.Now()
	return &progress{w: cfg.Progress, terminal: cfg.Terminal, every: every, sum: sum, began: now, lastAt: now}
}

func (p *progress) update(committed map[int32]int64) {
	if p.w == nil {
		return
	}
	now := time.Now()
	if now.Sub(p.lastAt) < p.every && p.drawn {
		return
	}
	var done int64
	parts := make([]int32, 0, len(p.sum.End))
	for part := range p.sum.End {
		parts = append(parts, part)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	var per []string
	for _, part := range parts {
		start, end := p.sum.Start[part], p.sum.End[part]
		at := min(max(committed[part], start), end)
		done += at - start
		pct := 100.0
		if end > start {
			pct = 100 * float64(at-start) / float64(end-start)
		}
		per = append(per, fmt.Sprintf("p%d %3.0f%%", part, pct))
	}
	if secs := now.Sub(p.lastAt).Seconds(); secs > 0 && p.drawn {
		r := float64(done-p.lastDone) / secs
		if p.rate == 0 {
			p.rate = r
		} else {
			p.rate = 0.7*p.rate + 0.3*r
		}
	}
	p.lastAt, p.lastDone, p.drawn = now, done, true
	p.last = p.line(done, per)
	if p.terminal {
		fmt.Fprintf(p.w, "\r\033[K%s", p.last)
	} else {
		fmt.Fprintln(p.w, p.last)
	}
}

func (p *progress) line(done int64, per []string) string {
	total := p.sum.Records
	pct := 100.0
	if total > 0 {
		pct = 100 * float64(done) / float64(total)
	}
	eta := "—"
	if p.rate > 0 && done < total {
		eta = (time.Duration(float64(total-done)/p.rate) * time.Second).Round(time.Second).String()
	} else if done >= total {
		eta = "0s"
	}
	return fmt.Sprintf("backfill %5.1f%%  %d/%d records  %.0f/s  ETA %s  [%s]", pct, done, total, p.rate, eta, strings.Join(per, " "))
}

// complete draws the final line, whatever the interval.
func (p *progress) complete() {
	if p.w == nil {
		return
	}
	p.drawn = false
	p.update(p.sum.End)
}

func (p *progress) finish() {
	if p.w != nil && p.terminal && p.drawn {
		fmt.Fprintln(p.w)
	}
}
