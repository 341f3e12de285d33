package kafka_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hourglass-stream/hourglass/broker"
	"github.com/hourglass-stream/hourglass/internal/testcert"
	"github.com/hourglass-stream/hourglass/kafka"
)

func TestCheckBrokers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca, cert, err := testcert.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	start := func(cfg broker.Config) string {
		b, err := broker.Start(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Close)
		return b.Addr()
	}
	scram := start(broker.Config{Users: []broker.User{{Mechanism: kafka.SASLScramSHA512, Name: "alice", Password: "right"}}})
	secured := start(broker.Config{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}})
	open := start(broker.Config{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := l.Addr().String()
	l.Close()

	sasl := func(pw string) kafka.Security {
		return kafka.Security{SASLMechanism: kafka.SASLScramSHA512, SASLUser: "alice", SASLPassword: pw}
	}
	for _, tc := range []struct {
		name   string
		addr   string
		sec    kafka.Security
		reject string // "" when accepted
	}{
		{"right password", scram, sasl("right"), ""},
		{"wrong password", scram, sasl("wrong"), "check --sasl-user"},
		{"wrong mechanism", scram, kafka.Security{SASLMechanism: kafka.SASLPlain, SASLUser: "alice", SASLPassword: "right"}, "authentication"},
		{"no SASL offered", scram, kafka.Security{}, "SASL (--sasl-mechanism)"},
		{"TLS with the CA", secured, kafka.Security{TLS: true, TLSCA: ca}, ""},
		{"TLS without the CA", secured, kafka.Security{TLS: true}, "x509"},
		{"plaintext to a TLS listener", secured, kafka.Security{}, "TLS (--tls)"},
		{"plaintext", open, kafka.Security{}, ""},
		{"broker down", down, kafka.Security{}, "connection refused"},
		// The old check waited out sarama's 45 s read timeout, again and
		// again: about 4 minutes, deaf to SIGINT.
		{"TLS to a plaintext listener", open, kafka.Security{TLS: true}, "plaintext listener"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			began := time.Now()
			err := kafka.CheckBrokers(context.Background(), kafka.Config{Brokers: []string{tc.addr}, Security: tc.sec})
			if took := time.Since(began); took > kafka.CheckTimeout+2*time.Second {
				t.Errorf("took %v", took)
			}
			switch {
			case tc.reject == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.reject != "" && !errors.Is(err, kafka.ErrAuth) && !errors.Is(err, kafka.ErrUnreachable):
				t.Fatalf("got %v, want ErrAuth or ErrUnreachable", err)
			case tc.reject != "" && !strings.Contains(err.Error(), tc.reject):
				t.Fatalf("error %q does not mention %q", err, tc.reject)
			}
		})
	}
}

// TestCheckBrokersObeysContext: SIGINT during the start-up check ends it at
// once, even while a TLS handshake with a plaintext listener hangs.
func TestCheckBrokersObeysContext(t *testing.T) {
	b, err := broker.Start(broker.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel) // the "SIGINT"
	began := time.Now()
	err = kafka.CheckBrokers(ctx, kafka.Config{Brokers: []string{b.Addr()}, Security: kafka.Security{TLS: true}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if took := time.Since(began); took > 3*time.Second {
		t.Fatalf("returned %v after the cancel", took-500*time.Millisecond)
	}
}

func TestSecurityValidate(t *testing.T) {
	for _, tc := range []struct {
		sec  kafka.Security
		want string
	}{
		{kafka.Security{SASLMechanism: "GSSAPI", SASLUser: "u", SASLPassword: "p"}, "want PLAIN"},
		{kafka.Security{SASLMechanism: kafka.SASLPlain, SASLPassword: "p"}, "needs --sasl-user"},
		{kafka.Security{SASLMechanism: kafka.SASLPlain, SASLUser: "u"}, "HOURGLASS_SASL_PASSWORD"},
		{kafka.Security{SASLUser: "u"}, "needs --sasl-mechanism"},
		{kafka.Security{TLSCA: "ca.pem"}, "need --tls"},
		{kafka.Security{TLS: true, TLSCert: "c.pem"}, "go together"},
	} {
		if err := tc.sec.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error mentioning %q", tc.sec, err, tc.want)
		}
	}
	if err := (kafka.Security{TLS: true, TLSCA: "ca.pem"}).Validate(); err != nil {
		t.Errorf("valid TLS settings: %v", err)
	}
}

func TestReadPassword(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(path, []byte("sëcret \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if pw, err := kafka.ReadPassword(path, "UNUSED"); err != nil || pw != "sëcret " {
		t.Errorf("from file: %q, %v", pw, err)
	}
	t.Setenv("HOURGLASS_TEST_PW", "from-env")
	if pw, _ := kafka.ReadPassword("", "HOURGLASS_TEST_PW"); pw != "from-env" {
		t.Errorf("from env: %q", pw)
	}
	if _, err := kafka.ReadPassword(filepath.Join(t.TempDir(), "missing"), ""); err == nil {
		t.Error("a missing password file is not an error")
	}
}
