package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/hourglass-stream/hourglass/metrics"
	"github.com/hourglass-stream/hourglass/serve"
	"github.com/hourglass-stream/hourglass/table"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
)

func newServe(g *globals) *cobra.Command {
	var group, listen string
	cmd := &cobra.Command{
		Use:   "serve --group G [--listen 127.0.0.1:8080]",
		Short: "Serve a group's table over HTTP: JSON API, Prometheus metrics, a live chart",
		Long: `Keeps a Goka view of <group>-table current and serves it, read-only:

  GET /api/windows?key=&from=&to=&limit=&order=&cursor=
                                    rows {"key","window_start","window_end","count",<--agg
                                    columns>,"final"} (several --key: a field per key, named
                                    in "keys"),
                                    newest window first (order=oldest: oldest), at most
                                    limit (default 1000, at most 100000), "next": the cursor
                                    of the page after, "watermark": how far windows are closed
  GET /api/totals                   rows {"key","total",<--agg columns, merged>}
  GET /metrics                      Prometheus (hourglass_view_*, Go runtime)
  GET /healthz, /readyz             liveness; readiness (the view has the table)
  GET /                             a page charting counts (or an --agg column) per window per
                                    key, updated every second

Every API answer also says "recovered" (the view holds the whole table) and
"lag" (table records it has not read yet), so readers know how fresh it is.
It may start before the group's table exists (before aggregate, as a
deployment starts them): until the view has the table and has caught up,
the API answers 503 and GET /readyz says why; GET /healthz answers 200
while it runs.
It binds 127.0.0.1 unless told otherwise; the page needs nothing from the
internet.`,
		Example: `  hourglass serve --group hourly
  curl -s 'http://127.0.0.1:8080/api/windows?key=Open&from=2016-07-26T08:00:00Z'
  curl -s http://127.0.0.1:8080/api/totals`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kc, sc, err := g.sarama(cmd.Context(), "hourglass-serve")
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			reg := metrics.NewRegistry()
			v := serve.NewLateView("opening the view of " + table.Topic(group))
			octx, stop := context.WithCancel(ctx)
			var tv *table.View
			opened := make(chan struct{})
			go func() {
				defer close(opened)
				tv = openView(octx, table.ViewConfig{Kafka: kc, Sarama: sc, Group: group}, v, reg)
			}()
			defer func() {
				stop()
				<-opened
				if tv != nil {
					tv.Close()
				}
			}()
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("--listen: %w", err)
			}
			srv := &http.Server{Handler: serve.Handler(group, v, reg), ReadHeaderTimeout: 10 * time.Second}
			done := make(chan error, 1)
			go func() { done <- srv.Serve(ln) }()
			slog.Info("serving", "group", group, "url", "http://"+ln.Addr().String()+"/")
			fmt.Fprintln(cmd.OutOrStdout(), "http://"+ln.Addr().String()+"/")
			select {
			case err := <-done:
				return err
			case <-ctx.Done():
			}
			shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := srv.Shutdown(shut); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&group, "group", "", "group whose table to serve (required; it may not exist yet)")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "host:port to listen on (port 0: a free port)")
	requireFlags(cmd, "group")
	return cmd
}

// openView opens cfg's view, trying again every few seconds while the
// table does not exist or Kafka does not answer, until ctx ends (nil). The
// view goes to late too, and its metrics to reg.
func openView(ctx context.Context, cfg table.ViewConfig, late *serve.LateView, reg prometheus.Registerer) *table.View {
	logged := ""
	for {
		tv, err := table.OpenView(ctx, cfg)
		if err == nil {
			metrics.RegisterView(reg, cfg.Group, tv)
			late.Set(tv)
			if logged != "" {
				slog.Info("the table is there: serving it", "group", cfg.Group)
			}
			return tv
		}
		late.Waiting(err.Error())
		if msg := err.Error(); msg != logged {
			logged = msg
			level := slog.LevelWarn
			if errors.Is(err, table.ErrNoTable) {
				level = slog.LevelInfo
			}
			slog.Log(ctx, level, "waiting for the table; /readyz answers 503 meanwhile", "group", cfg.Group, "why", msg)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Second): // polling interval: the table appears when aggregate first runs
		}
	}
}
