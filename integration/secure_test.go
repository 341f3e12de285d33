package integration

import (
	"bytes"
	"crypto/tls"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hourglass-stream/hourglass/broker"
	"github.com/hourglass-stream/hourglass/internal/testcert"
)

// secureCluster is a broker that demands SASL, and TLS when ca is set.
type secureCluster struct {
	brokers      string
	mechanism    string
	user         string
	passwordFile string
	ca           string // PEM file of the CA that signed the broker's certificate; "" without TLS
}

// flags are the security flags of every command for c.
func (c secureCluster) flags() []string {
	f := []string{"--brokers=" + c.brokers, "--sasl-mechanism", c.mechanism, "--sasl-user", c.user, "--sasl-password-file", c.passwordFile}
	if c.ca != "" {
		f = append(f, "--tls", "--tls-ca", c.ca)
	}
	return f
}

// secureClusters are the secured brokers of this run: on the embedded
// broker, SCRAM-SHA-512 over TLS (what Rubin's alert stream uses) and PLAIN
// without TLS; against real Kafka, its SCRAM-SHA-512 listener when
// scripts/kafka-test.sh started one.
func secureClusters(t *testing.T) map[string]secureCluster {
	dir := t.TempDir()
	password := filepath.Join(dir, "password")
	if os.Getenv("HOURGLASS_TEST_BROKERS") != "" {
		addr := os.Getenv("HOURGLASS_TEST_SASL_BROKERS")
		if addr == "" {
			t.Skip("HOURGLASS_TEST_BROKERS is set without HOURGLASS_TEST_SASL_BROKERS")
		}
		writeFile(t, password, os.Getenv("HOURGLASS_TEST_SASL_PASSWORD")+"\n")
		return map[string]secureCluster{"scram-sha-512": {
			brokers: addr, mechanism: "SCRAM-SHA-512", user: os.Getenv("HOURGLASS_TEST_SASL_USER"), passwordFile: password,
		}}
	}
	writeFile(t, password, "s3cret-pässword\n")
	ca, cert, err := testcert.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	scram, err := broker.Start(broker.Config{
		Users: []broker.User{{Mechanism: "SCRAM-SHA-512", Name: "alice", Password: "s3cret-pässword"}},
		TLS:   &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(scram.Close)
	plain, err := broker.Start(broker.Config{
		Users: []broker.User{{Mechanism: "PLAIN", Name: "bob", Password: "s3cret-pässword"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(plain.Close)
	return map[string]secureCluster{
		"scram-sha-512+tls": {brokers: scram.Addr(), mechanism: "SCRAM-SHA-512", user: "alice", passwordFile: password, ca: ca},
		"plain":             {brokers: plain.Addr(), mechanism: "PLAIN", user: "bob", passwordFile: password},
	}
}

// TestSecureCluster runs the hourly-counts pipeline through the binary
// against brokers that demand SASL (and TLS), and checks that wrong
// credentials end a command at once with one clear line.
func TestSecureCluster(t *testing.T) {
	t.Parallel()
	for name, c := range secureClusters(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			events, dir := writeData(t, 3000, 2, 77)
			input, group := e.name("events"), e.name("hourly")
			sec := c.flags()

			out := run(t, append([]string{"ingest", "--topic", input}, append(sec, dir)...)...)
			if !strings.HasPrefix(out, "ingested 3000 records") {
				t.Fatalf("ingest printed %q", out)
			}
			agg := startProc(t, append([]string{"aggregate", "--group", group, "--input", input,
				"--key", "action", "--time", "time", "--window", "1h", "--log-level", "warn"}, sec...)...)
			want := expectedCSV(events)
			eventually(t, 60*time.Second, func() string {
				got, err := exec.Command(binary(t), append([]string{"query", "--group", group, "--format", "csv"}, sec...)...).Output()
				if err != nil {
					return "query: " + err.Error()
				}
				if string(got) != want {
					return "query csv:\n" + string(got)
				}
				return ""
			})
			agg.stopWithin(t, 60*time.Second)
			if got := run(t, append([]string{"tail", "--topic", input, "--max", "2", "--format", "json"}, sec...)...); strings.Count(got, "\n") != 2 {
				t.Errorf("tail printed %q", got)
			}

			wrong := filepath.Join(t.TempDir(), "wrong")
			writeFile(t, wrong, "not-the-password")
			bad := append(append([]string{}, sec...), "--sasl-password-file", wrong)
			for _, args := range [][]string{
				append([]string{"aggregate", "--group", group + "-x", "--input", input, "--key", "action", "--time", "time", "--window", "1h"}, bad...),
				append([]string{"query", "--group", group}, bad...),
				append([]string{"tail", "--topic", input}, bad...),
				append([]string{"ingest", "--topic", input}, append(bad, dir)...),
			} {
				expectAuthFailure(t, args, "authentication")
			}
			// No security flags at all: the broker hangs up, and the
			// command says what it may want.
			expectAuthFailure(t, []string{"aggregate", "--brokers=" + c.brokers, "--group", group + "-y", "--input", input,
				"--key", "action", "--time", "time", "--window", "1h"}, "--sasl-mechanism")
			if c.ca != "" {
				// The system roots do not know the test CA: a TLS failure,
				// reported as such, also without retrying.
				expectAuthFailure(t, []string{"tail", "--topic", input, "--brokers=" + c.brokers, "--tls",
					"--sasl-mechanism", c.mechanism, "--sasl-user", c.user, "--sasl-password-file", c.passwordFile}, "x509")
			}
		})
	}
}

// expectAuthFailure runs the binary and wants a non-zero exit within 30 s
// with one stderr line that mentions want.
func expectAuthFailure(t *testing.T, args []string, want string) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatalf("hourglass %s succeeded with wrong credentials", args[0])
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("hourglass %s still running 30 s after being given wrong credentials:\n%s", args[0], stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "hourglass: ") || !strings.Contains(last, want) {
		t.Errorf("hourglass %s: last stderr line %q, want one mentioning %q", args[0], last, want)
	}
	if strings.Count(stderr.String(), "restarting") > 0 {
		t.Errorf("hourglass %s retried wrong credentials:\n%s", args[0], stderr.String())
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
