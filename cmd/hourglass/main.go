// Command hourglass counts Kafka events per key and event-time window into a
// Goka group table, serves the result table, and runs the classic
// Structured Streaming example on an embedded broker (`hourglass demo`).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"

	"github.com/IBM/sarama"
	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, g := newRoot()
	err := root.ExecuteContext(ctx)
	if perr := g.stopProfile(); err == nil {
		err = perr
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "hourglass:", oneLine(kafka.Classify(err)))
		stop()
		os.Exit(1)
	}
}

// oneLine keeps an error on one line, as the CLI contract promises.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// globals are the flags every command has.
type globals struct {
	brokers    string
	logLevel   string
	logFormat  string
	configFile string
	settings   []string // -X
	instanceID string   // -X group.instance.id
	security   kafka.Security
	// passwordFile holds the SASL password; without it the password comes
	// from HOURGLASS_SASL_PASSWORD. Never a flag value: it would show in ps.
	passwordFile string
	// cpuProfile, if set, receives a pprof CPU profile of the whole run;
	// memProfile a heap profile at its end.
	cpuProfile, memProfile string
	profile                *os.File
}

func (g *globals) startProfile() error {
	if g.cpuProfile == "" {
		return nil
	}
	f, err := os.Create(g.cpuProfile)
	if err != nil {
		return fmt.Errorf("--cpu-profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("--cpu-profile: %w", err)
	}
	g.profile = f
	return nil
}

func (g *globals) stopProfile() error {
	var errs []error
	if g.profile != nil {
		pprof.StopCPUProfile()
		errs = append(errs, g.profile.Close())
	}
	if g.memProfile != "" {
		errs = append(errs, writeHeapProfile(g.memProfile))
	}
	return errors.Join(errs...)
}

// writeHeapProfile writes the heap in use at the end of the run (after a
// collection) and the allocations of the whole run, for go tool pprof
// -sample_index=inuse_space or alloc_space.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--mem-profile: %w", err)
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("--mem-profile: %w", err)
	}
	return f.Close()
}

// passwordEnv is where the SASL password comes from without
// --sasl-password-file.
const passwordEnv = "HOURGLASS_SASL_PASSWORD"

func newRoot() (*cobra.Command, *globals) {
	g := &globals{}
	root := &cobra.Command{
		Use:   "hourglass",
		Short: "Exact event-time window counts over Kafka, on Goka",
		Long: `hourglass groups Kafka events by key and event-time window into a persistent
Goka group table, serves the aggregates from a Goka view, and runs the classic
Structured Streaming example on an embedded broker (hourglass demo).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       readBuildInfo().String(),
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyConfig(cmd, g.configFile); err != nil {
				return err
			}
			if err := checkRequired(cmd); err != nil {
				return err
			}
			if err := setupLogging(g.logLevel, g.logFormat); err != nil {
				return err
			}
			return g.startProfile()
		},
	}
	root.PersistentFlags().StringVar(&g.configFile, "config", "", "read flags from this YAML, TOML or JSON file (keys are flag names); the command line, then HOURGLASS_<FLAG> environment variables, take precedence")
	root.PersistentFlags().StringVar(&g.brokers, "brokers", "", "Kafka bootstrap brokers host:port[,host:port] (env HOURGLASS_BROKERS)")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level on stderr: debug, info, warn, error")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "log lines on stderr as text (key=value) or json (one object per line, for log collectors)")
	pf := root.PersistentFlags()
	pf.StringVar(&g.security.SASLMechanism, "sasl-mechanism", "", "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (env HOURGLASS_SASL_MECHANISM)")
	pf.StringVar(&g.security.SASLUser, "sasl-user", "", "SASL user name (env HOURGLASS_SASL_USER)")
	pf.StringVar(&g.passwordFile, "sasl-password-file", "", "file holding the SASL password (default: the HOURGLASS_SASL_PASSWORD environment variable)")
	pf.BoolVar(&g.security.TLS, "tls", false, "connect to Kafka over TLS (env HOURGLASS_TLS: true or false, 1 or 0)")
	pf.StringVar(&g.security.TLSCA, "tls-ca", "", "PEM file of CA certificates to trust instead of the system's (env HOURGLASS_TLS_CA)")
	pf.StringVar(&g.security.TLSCert, "tls-cert", "", "PEM client certificate for mutual TLS (env HOURGLASS_TLS_CERT)")
	pf.StringVar(&g.security.TLSKey, "tls-key", "", "PEM client key for mutual TLS (env HOURGLASS_TLS_KEY)")
	pf.StringVar(&g.instanceID, "instance-id", "", "static consumer group membership (KIP-345): this process's name in every group it joins, stable across its restarts and unique among the group's processes (a pod name, not a host name shared by several processes), so a restart within the session timeout moves no partition (env HOURGLASS_INSTANCE_ID; -X group.instance.id)")
	pf.StringArrayVarP(&g.settings, "kafka-setting", "X", nil, "a Kafka client setting, key=value, as kcat's -X (repeatable): "+strings.Join(kafka.SettingNames(), "; "))
	pf.StringVar(&g.cpuProfile, "cpu-profile", "", "write a pprof CPU profile of the run to this file (go tool pprof FILE)")
	pf.StringVar(&g.memProfile, "mem-profile", "", "write a pprof heap profile to this file when the run ends: the heap then in use, and the run's allocations")
	root.AddCommand(newDemo(g), newBroker(g), newIngest(g), newAggregate(g), newQuery(g), newTail(g), newFilter(g), newProduceAlerts(g), newServe(g), newSink(g), newBackfill(g), newReset(g), newStatus(g), newVersion())
	root.SetVersionTemplate("{{.Version}}\n")
	return root, g
}

func setupLogging(level, format string) error {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, opts)))
	case "json":
		slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, opts)))
	default:
		return fmt.Errorf("--log-format %q: want text or json", format)
	}
	return nil
}

// kafkaConfig builds the Kafka client config from the global flags and
// checks that a broker answers and accepts its credentials, so that a wrong
// address, TLS setting or credentials end the command with one line within
// kafka.CheckTimeout (at once on SIGINT).
func (g *globals) kafkaConfig(ctx context.Context, clientID string) (kafka.Config, error) {
	kc := kafka.Config{Brokers: kafka.ParseBrokers(g.brokers), ClientID: clientID, Security: g.security}
	kvs := g.settings
	if g.instanceID != "" {
		kvs = append(slices.Clip(kvs), "group.instance.id="+g.instanceID)
	}
	settings, err := kafka.ParseSettings(kvs)
	if err != nil {
		return kc, err
	}
	kc.Settings = settings
	if kc.Security.SASLMechanism != "" {
		pw, err := kafka.ReadPassword(g.passwordFile, passwordEnv)
		if err != nil {
			return kc, fmt.Errorf("--sasl-password-file: %w", err)
		}
		kc.Security.SASLPassword = pw
	}
	if err := errors.Join(kc.Validate(), kc.Security.Validate()); err != nil {
		return kc, err
	}
	return kc, kafka.CheckBrokers(ctx, kc)
}

// sarama builds the Kafka client config and the one sarama config that
// the command injects everywhere.
func (g *globals) sarama(ctx context.Context, clientID string) (kafka.Config, *sarama.Config, error) {
	kc, err := g.kafkaConfig(ctx, clientID)
	if err != nil {
		return kc, nil, err
	}
	sc, err := kc.Sarama()
	return kc, sc, err
}
