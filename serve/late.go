package serve

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hourglass-stream/hourglass/table"
	"github.com/hourglass-stream/hourglass/windows"
)

// LateView is a View that exists only once its table does: serve starts
// before the aggregation that makes the table (the order a deployment
// starts them in), answers 503 until the view is Set, and /readyz says
// why.
type LateView struct {
	mu  sync.Mutex
	v   View
	why string // why there is no view yet
}

// NewLateView returns a LateView without a view; why says what it waits
// for.
func NewLateView(why string) *LateView { return &LateView{why: why} }

// Set hands over the view, once open.
func (l *LateView) Set(v View) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.v = v
}

// Waiting records why there is still no view (the last attempt's error).
func (l *LateView) Waiting(why string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.why = why
}

func (l *LateView) get() (View, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.v, l.why
}

// ErrNotYet is the error of a LateView's reads before it has a view.
var ErrNotYet = errors.New("no view of the table yet")

// Rows reads the view's rows.
func (l *LateView) Rows(f table.Filter) ([]windows.Result, error) {
	v, why := l.get()
	if v == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotYet, why)
	}
	return v.Rows(f)
}

// Select reads a page of the view's rows.
func (l *LateView) Select(q table.Query) (table.Page, error) {
	v, why := l.get()
	if v == nil {
		return table.Page{}, fmt.Errorf("%w: %s", ErrNotYet, why)
	}
	return v.Select(q)
}

// Recovered reports whether there is a view holding the whole table.
func (l *LateView) Recovered() bool {
	v, _ := l.get()
	return v != nil && v.Recovered()
}

// Lag is the view's lag.
func (l *LateView) Lag(ctx context.Context) (int64, error) {
	v, why := l.get()
	if v == nil {
		return 0, fmt.Errorf("%w: %s", ErrNotYet, why)
	}
	return v.Lag(ctx)
}

// Ready says whether there is a view and it has caught up with the table
// (recovered), and if not why.
func (l *LateView) Ready() (bool, string) {
	v, why := l.get()
	if v == nil {
		return false, why
	}
	return ready(v)
}
