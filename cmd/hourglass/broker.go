package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"

	"github.com/hourglass-stream/hourglass/broker"
	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/spf13/cobra"
)

func newBroker(g *globals) *cobra.Command {
	var cfg broker.Config
	cmd := &cobra.Command{
		Use:   "broker",
		Short: "Run a standalone embedded Kafka-protocol broker",
		Long: `Runs a single-node Kafka-protocol broker (franz-go's kfake) in this process
until SIGINT or SIGTERM. Any Kafka client can use it. Topics are created on
first use with --partitions partitions; with --data-dir they survive restarts.

The global security flags secure it: --sasl-mechanism and --sasl-user (password
from HOURGLASS_SASL_PASSWORD or --sasl-password-file) make that the one user
clients must authenticate as; --tls with --tls-cert and --tls-key serves TLS
only, with that certificate.`,
		Example: `  hourglass broker --listen 127.0.0.1:9092 --data-dir ./kafka-data
  HOURGLASS_BROKERS=127.0.0.1:9092 hourglass ingest --topic events data/
  HOURGLASS_SASL_PASSWORD=s3cret hourglass broker --sasl-mechanism SCRAM-SHA-512 --sasl-user alice \
      --tls --tls-cert server.pem --tls-key server-key.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.brokerSecurity(&cfg); err != nil {
				return err
			}
			b, err := broker.Start(cfg)
			if err != nil {
				return err
			}
			defer b.Close()
			slog.Info("broker listening", "addr", b.Addr(), "data_dir", cfg.DataDir, "sasl", g.security.SASLMechanism, "tls", cfg.TLS != nil)
			fmt.Fprintln(cmd.OutOrStdout(), b.Addr())
			<-cmd.Context().Done()
			slog.Info("broker stopping")
			return nil
		},
	}
	cmd.Flags().StringVar(&cfg.Listen, "listen", "127.0.0.1:9092", "host:port to listen on (port 0: a free port)")
	cmd.Flags().StringVar(&cfg.DataDir, "data-dir", "", "keep topics and offsets in this directory across restarts (default: memory only)")
	cmd.Flags().IntVar(&cfg.Partitions, "partitions", broker.DefaultPartitions, "partitions of topics created on first use")
	return cmd
}

// brokerSecurity turns the global security flags into the embedded
// broker's SASL user and TLS certificate.
func (g *globals) brokerSecurity(cfg *broker.Config) error {
	sec := g.security
	if sec.SASLMechanism != "" {
		pw, err := kafka.ReadPassword(g.passwordFile, passwordEnv)
		if err != nil {
			return err
		}
		sec.SASLPassword = pw
	}
	if err := sec.Validate(); err != nil {
		return err
	}
	if sec.SASLMechanism != "" {
		cfg.Users = []broker.User{{Mechanism: sec.SASLMechanism, Name: sec.SASLUser, Password: sec.SASLPassword}}
	}
	if sec.TLS {
		if sec.TLSCert == "" {
			return errors.New("broker --tls needs --tls-cert and --tls-key: the server's certificate")
		}
		tc, err := sec.TLSConfig()
		if err != nil {
			return err
		}
		cfg.TLS = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: tc.Certificates}
		if sec.TLSCA != "" {
			// A CA on the broker side means: ask clients for certificates
			// signed by it (mutual TLS).
			cfg.TLS.ClientCAs = tc.RootCAs
			cfg.TLS.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	return nil
}
