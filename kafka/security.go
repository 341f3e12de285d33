package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/IBM/sarama"
	"github.com/hourglass-stream/hourglass/internal/certs"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	kscram "github.com/twmb/franz-go/pkg/sasl/scram"
	"github.com/xdg-go/scram"
)

// SASL mechanisms hourglass speaks.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// Security is how a client authenticates to a secured cluster. The zero
// value is a plaintext, unauthenticated connection.
type Security struct {
	// SASLMechanism is empty (no SASL), PLAIN, SCRAM-SHA-256 or
	// SCRAM-SHA-512.
	SASLMechanism string
	SASLUser      string
	// SASLPassword never comes from a flag value (it would show in ps):
	// the CLI reads it from an environment variable or a file.
	SASLPassword string

	// TLS turns on TLS. TLSCA is a PEM file of CAs to trust instead of the
	// system's; TLSCert and TLSKey are a PEM client certificate and key for
	// mutual TLS (both or neither).
	TLS     bool
	TLSCA   string
	TLSCert string
	TLSKey  string
}

// Enabled reports whether s asks for anything beyond plaintext.
func (s Security) Enabled() bool { return s.SASLMechanism != "" || s.TLS }

// Validate rejects incomplete settings with a message naming the flag.
func (s Security) Validate() error {
	var errs []error
	switch s.SASLMechanism {
	case "":
		if s.SASLUser != "" {
			errs = append(errs, errors.New("--sasl-user needs --sasl-mechanism PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"))
		}
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		if s.SASLUser == "" {
			errs = append(errs, fmt.Errorf("--sasl-mechanism %s needs --sasl-user", s.SASLMechanism))
		}
		if s.SASLPassword == "" {
			errs = append(errs, fmt.Errorf("--sasl-mechanism %s needs a password: set HOURGLASS_SASL_PASSWORD or --sasl-password-file", s.SASLMechanism))
		}
	default:
		errs = append(errs, fmt.Errorf("--sasl-mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.SASLMechanism))
	}
	if !s.TLS && (s.TLSCA != "" || s.TLSCert != "" || s.TLSKey != "") {
		errs = append(errs, errors.New("--tls-ca, --tls-cert and --tls-key need --tls"))
	}
	if (s.TLSCert == "") != (s.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	return errors.Join(errs...)
}

// TLSConfig loads the files s names. It returns nil when TLS is off.
func (s Security) TLSConfig() (*tls.Config, error) {
	if !s.TLS {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.TLSCA != "" {
		pool, err := certs.Pool(s.TLSCA, "--tls-ca")
		if err != nil {
			return nil, err
		}
		c.RootCAs = pool
	}
	if s.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(s.TLSCert, s.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// ReadPassword returns the SASL password from the file path when one is
// given (trailing newlines dropped), else from the environment variable
// env.
func ReadPassword(path, env string) (string, error) {
	if path == "" {
		return os.Getenv(env), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read the password: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// applySarama sets the SASL and TLS parts of a sarama config.
func (s Security) applySarama(cfg *sarama.Config) error {
	if err := s.Validate(); err != nil {
		return err
	}
	tc, err := s.TLSConfig()
	if err != nil {
		return err
	}
	if tc != nil {
		cfg.Net.TLS.Enable = true
		cfg.Net.TLS.Config = tc
	}
	if s.SASLMechanism == "" {
		return nil
	}
	cfg.Net.SASL.Enable = true
	cfg.Net.SASL.Handshake = true
	cfg.Net.SASL.Version = sarama.SASLHandshakeV1
	cfg.Net.SASL.User = s.SASLUser
	cfg.Net.SASL.Password = s.SASLPassword
	switch s.SASLMechanism {
	case SASLPlain:
		cfg.Net.SASL.Mechanism = sarama.SASLTypePlaintext
	case SASLScramSHA256:
		cfg.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA256
		cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{hash: scram.SHA256} }
	case SASLScramSHA512:
		cfg.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA512
		cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{hash: scram.SHA512} }
	}
	return nil
}

// scramClient adapts xdg-go/scram to sarama's SCRAMClient.
type scramClient struct {
	hash scram.HashGeneratorFcn
	conv *scram.ClientConversation
}

func (c *scramClient) Begin(user, password, authzID string) error {
	client, err := c.hash.NewClient(user, password, authzID)
	if err != nil {
		return err
	}
	c.conv = client.NewConversation()
	return nil
}

func (c *scramClient) Step(challenge string) (string, error) { return c.conv.Step(challenge) }
func (c *scramClient) Done() bool                            { return c.conv.Done() }

// Classify wraps err with ErrAuth when it says Kafka refused the
// credentials or the TLS handshake, so callers stop instead of retrying.
// Other errors come back unchanged.
func Classify(err error) error {
	if err == nil || errors.Is(err, ErrAuth) || errors.Is(err, ErrInstanceFenced) {
		return err
	}
	var (
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		record    tls.RecordHeaderError
		alert     tls.AlertError
		verify    *tls.CertificateVerificationError
		opErr     *net.OpError
	)
	switch {
	case errors.Is(err, sarama.ErrSASLAuthenticationFailed),
		errors.Is(err, sarama.ErrUnsupportedSASLMechanism),
		errors.Is(err, sarama.ErrIllegalSASLState),
		errors.Is(err, sarama.ErrTopicAuthorizationFailed),
		errors.Is(err, sarama.ErrGroupAuthorizationFailed),
		errors.Is(err, sarama.ErrClusterAuthorizationFailed),
		errors.Is(err, kerr.SaslAuthenticationFailed), errors.Is(err, kerr.UnsupportedSaslMechanism),
		errors.Is(err, kerr.IllegalSaslState), errors.Is(err, kerr.TopicAuthorizationFailed),
		errors.Is(err, kerr.ClusterAuthorizationFailed),
		errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &invalid),
		errors.As(err, &record), errors.As(err, &alert), errors.As(err, &verify):
		return fmt.Errorf("%w: %w", ErrAuth, err)
	case errors.As(err, &opErr) && strings.Contains(opErr.Error(), "tls:"):
		return fmt.Errorf("%w: %w", ErrAuth, err)
	}
	// sarama flattens some broker errors into text on the way up.
	msg := err.Error()
	if errors.Is(err, sarama.ErrFencedInstancedId) || errors.Is(err, kerr.FencedInstanceID) || strings.Contains(msg, "same group.instance.id") {
		return fmt.Errorf("%w: %w", ErrInstanceFenced, err)
	}
	for _, s := range []string{"SASL Authentication failed", "Authentication failed", "SASL_AUTHENTICATION_FAILED", "tls: ", "x509: "} {
		if strings.Contains(msg, s) {
			return fmt.Errorf("%w: %w", ErrAuth, err)
		}
	}
	return err
}

// Kgo returns the franz-go client options for c: seed brokers, client ID,
// SASL and TLS.
func (c Config) Kgo() ([]kgo.Opt, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	s := c.Security
	if err := s.Validate(); err != nil {
		return nil, err
	}
	id := c.ClientID
	if id == "" {
		id = "hourglass"
	}
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...), kgo.ClientID(id)}
	set, err := c.Settings.kgoOpts(false)
	if err != nil {
		return nil, err
	}
	opts = append(opts, set...)
	tc, err := s.TLSConfig()
	if err != nil {
		return nil, err
	}
	if tc != nil {
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	switch s.SASLMechanism {
	case SASLPlain:
		opts = append(opts, kgo.SASL(plain.Auth{User: s.SASLUser, Pass: s.SASLPassword}.AsMechanism()))
	case SASLScramSHA256:
		opts = append(opts, kgo.SASL(kscram.Auth{User: s.SASLUser, Pass: s.SASLPassword}.AsSha256Mechanism()))
	case SASLScramSHA512:
		opts = append(opts, kgo.SASL(kscram.Auth{User: s.SASLUser, Pass: s.SASLPassword}.AsSha512Mechanism()))
	}
	return opts, nil
}

// CheckTimeout bounds CheckBrokers: a command that cannot reach Kafka, or
// reaches it with the wrong security, says so within this time.
const CheckTimeout = 15 * time.Second

// checkAttempt bounds one connection attempt of CheckBrokers: the dial, the
// TLS handshake and each request.
const checkAttempt = 5 * time.Second

// ErrUnreachable is wrapped when no bootstrap broker answered as a Kafka
// broker within CheckTimeout.
var ErrUnreachable = errors.New("no Kafka broker reachable")

// CheckBrokers connects to the bootstrap brokers until one answers a
// metadata request, trying again for up to CheckTimeout, and returns nil
// then. It ends early with an error wrapping ErrAuth when a broker refuses
// the connection's security: wrong SASL credentials or mechanism, a
// certificate that does not verify, or a broker that hangs up at once (it
// wants TLS or SASL that the client did not offer, or, as the embedded
// broker does, it closes the connection on a failed SASL exchange instead
// of answering). When no broker answered in time it returns an error
// wrapping ErrUnreachable that names each broker's likely cause: nothing
// listening, a TLS handshake to a plaintext listener, a port that does not
// speak Kafka. It returns at once when ctx ends (SIGINT). Commands call it
// first, so that a wrong address or wrong credentials end them with one
// clear line instead of minutes of retries.
func CheckBrokers(ctx context.Context, c Config) error {
	sc, err := c.Sarama()
	if err != nil {
		return err
	}
	sc.Metadata.Retry.Max = 0
	sc.Net.DialTimeout, sc.Net.ReadTimeout, sc.Net.WriteTimeout = checkAttempt, checkAttempt, checkAttempt
	check, cancel := context.WithTimeout(ctx, CheckTimeout)
	defer cancel()
	last := make([]error, len(c.Brokers))
	for {
		for i, addr := range c.Brokers {
			err := checkBroker(check, c.Security, sc, addr)
			if err == nil {
				return nil
			}
			if errors.Is(err, ErrAuth) {
				return err
			}
			last[i] = err
		}
		select {
		case <-check.Done():
		case <-time.After(500 * time.Millisecond):
			continue
		}
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted while connecting to Kafka at %s: %w", strings.Join(c.Brokers, ","), ctx.Err())
		}
		msgs := make([]string, len(c.Brokers))
		for i, addr := range c.Brokers {
			msgs[i] = fmt.Sprintf("%s: %s", addr, unreachableHint(last[i], c.Security))
		}
		return fmt.Errorf("%w within %s: %s", ErrUnreachable, CheckTimeout, strings.Join(msgs, "; "))
	}
}

// checkBroker makes one attempt at addr: connect, then a metadata request.
// It returns nil when the broker answered, an error wrapping ErrAuth when
// it refused the connection's security, or what went wrong. It returns
// when ctx ends, leaving the attempt to time out on its own.
func checkBroker(ctx context.Context, sec Security, sc *sarama.Config, addr string) error {
	done := make(chan error, 1)
	go func() {
		b := sarama.NewBroker(addr)
		if err := b.Open(sc); err != nil {
			done <- err
			return
		}
		defer func() { _ = b.Close() }()
		if ok, err := b.Connected(); !ok || err != nil {
			if err == nil {
				err = errors.New("not connected")
			}
			done <- err
			return
		}
		// A broker that wants SASL or TLS the client did not offer accepts
		// the connection and hangs up at the first request. (ApiVersions is
		// allowed before authentication; Metadata is not.)
		_, err := b.GetMetadata(&sarama.MetadataRequest{Version: 4})
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err == nil {
		return nil
	}
	if cerr := Classify(err); errors.Is(cerr, ErrAuth) {
		return fmt.Errorf("%s: %w", addr, cerr)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		hint := "does it want TLS (--tls) or SASL (--sasl-mechanism)?"
		switch {
		case sec.TLS && sec.SASLMechanism == "":
			hint = "is it a plaintext listener (drop --tls), or does it want SASL (--sasl-mechanism)?"
		case sec.SASLMechanism != "" && sec.TLS:
			hint = "check --sasl-user, the password and --sasl-mechanism"
		case sec.SASLMechanism != "":
			hint = "check --sasl-user, the password and --sasl-mechanism, and whether it wants --tls"
		}
		return fmt.Errorf("%w: %s closed the connection during the handshake (%v); %s", ErrAuth, addr, err, hint)
	}
	return err
}

// unreachableHint says what an attempt's error most likely means.
func unreachableHint(err error, sec Security) string {
	var netErr net.Error
	switch {
	case err == nil:
		return "no answer"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused: nothing listens there; check --brokers and that Kafka runs"
	case errors.As(err, &netErr) && netErr.Timeout() && sec.TLS:
		return fmt.Sprintf("no TLS handshake within %s: is it a plaintext listener (drop --tls) or the wrong port?", checkAttempt)
	case errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Sprintf("no answer within %s: is it the wrong port, or does it want --tls?", checkAttempt)
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer in time"
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return fmt.Sprintf("unknown host (%v); check --brokers", err)
	}
	return fmt.Sprintf("it does not answer as a Kafka broker (%v): is it the wrong port?", err)
}
