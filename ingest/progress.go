package ingest

import (
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progressBar shows bytes sent; a nil *progressBar does nothing, so the
// send loop needs no checks.
type progressBar struct{ bar *progressbar.ProgressBar }

func newProgressBar(w io.Writer, total int64) *progressBar {
	return &progressBar{bar: progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("ingest"),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)}
}

func (p *progressBar) add(n int64) {
	if p != nil {
		_ = p.bar.Add64(n)
	}
}

func (p *progressBar) finish() {
	if p != nil {
		_ = p.bar.Finish()
	}
}
