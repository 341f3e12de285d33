package codec

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/hourglass-stream/hourglass/internal/certs"
	"github.com/twmb/franz-go/pkg/sr"
	"golang.org/x/sync/singleflight"
)

// ErrUnavailable is wrapped when a record could not be decoded because
// something it depends on did not answer: the schema registry is down,
// slow, answered 5xx or refused the credentials, or the fetch was
// interrupted. The record is not bad: a caller retries it and must not
// dead-letter or commit it.
var ErrUnavailable = errors.New("schema registry unavailable")

// Registry is how to reach a Confluent-compatible schema registry.
type Registry struct {
	// URL is the registry's base URL. Credentials in it (user:pass@) are
	// taken as User and Password and never printed.
	URL string
	// User and Password are HTTP basic-auth credentials; empty means none.
	User, Password string
	// CA is a PEM file of CAs to trust for an https URL instead of the
	// system's.
	CA string
	// Timeout bounds one request; zero means 10 s.
	Timeout time.Duration
}

// notFoundTTL is how long a registry's "no such schema id" is believed:
// records naming the id meanwhile are dead-lettered without asking again,
// and a schema registered since is found after it.
const notFoundTTL = 10 * time.Second

// RegistryResolver resolves ids with a Confluent-compatible schema registry
// (franz-go's sr client: GET /schemas/ids/{id}, and the subjects and
// versions a schema references), caching each schema for the life of the
// process: a registered id never changes its schema. Concurrent lookups of
// one id share a fetch; lookups of different ids do not wait for each
// other. Only a definitive answer makes a record bad (404: the registry
// does not know the id; a schema that is not Avro or does not parse);
// everything else wraps ErrUnavailable.
type RegistryResolver struct {
	client *sr.Client
	where  string // the URL without credentials, for messages

	schemaCache
	flight   singleflight.Group
	mu       sync.Mutex // notFound
	notFound map[uint32]time.Time
	now      func() time.Time
}

// NewRegistryResolver checks r and builds its client.
func NewRegistryResolver(r Registry) (*RegistryResolver, error) {
	u, err := url.Parse(r.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--schema-registry %s: want an http:// or https:// URL", redactURL(r.URL))
	}
	user, pass := r.User, r.Password
	if u.User != nil {
		if user == "" {
			user = u.User.Username()
			pass, _ = u.User.Password()
		}
		u.User = nil
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	opts := []sr.ClientOpt{sr.URLs(u.String()), sr.HTTPClient(&http.Client{Timeout: timeout}), sr.UserAgent("hourglass")}
	if user != "" {
		opts = append(opts, sr.BasicAuth(user, pass))
	}
	if r.CA != "" {
		pool, err := certs.Pool(r.CA, "--schema-registry-ca")
		if err != nil {
			return nil, err
		}
		opts = append(opts, sr.DialTLSConfig(&tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}))
	}
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("--schema-registry: %w", err)
	}
	return &RegistryResolver{client: cl, where: u.String(), notFound: map[uint32]time.Time{}, now: time.Now}, nil
}

// redactURL is s with any password in it replaced by xxxxx.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Schema implements SchemaResolver.
func (g *RegistryResolver) Schema(ctx context.Context, id uint32) (avro.Schema, error) {
	if s, ok := g.cache.Load(id); ok {
		return s.(avro.Schema), nil
	}
	g.mu.Lock()
	until, known := g.notFound[id]
	g.mu.Unlock()
	if known && g.now().Before(until) {
		return nil, g.unknown(id)
	}
	v, err, _ := g.flight.Do(fmt.Sprint(id), func() (any, error) {
		s, err := g.fetch(ctx, id)
		if err == nil {
			g.cache.Store(id, s)
		}
		return s, err
	})
	if err != nil {
		return nil, err
	}
	return v.(avro.Schema), nil
}

func (g *RegistryResolver) unknown(id uint32) error {
	return fmt.Errorf("%w %d: the registry at %s does not know it", ErrUnknownSchema, id, g.where)
}

// fetch asks the registry for schema id and the schemas it references.
func (g *RegistryResolver) fetch(ctx context.Context, id uint32) (avro.Schema, error) {
	got, err := g.client.SchemaByID(ctx, int(id))
	if err != nil {
		if notFound(err) {
			g.mu.Lock()
			g.notFound[id] = g.now().Add(notFoundTTL)
			g.mu.Unlock()
			return nil, g.unknown(id)
		}
		return nil, g.unavailable(err)
	}
	if got.Type != sr.TypeAvro {
		return nil, fmt.Errorf("schema %d is %s, not Avro", id, got.Type)
	}
	cache := &avro.SchemaCache{}
	if err := g.references(ctx, cache, got.References, map[string]bool{}); err != nil {
		return nil, fmt.Errorf("schema %d: %w", id, err)
	}
	s, err := avro.ParseWithCache(got.Schema, "", cache)
	if err != nil {
		return nil, fmt.Errorf("schema %d from the registry: %w", id, err)
	}
	return s, nil
}

// references parses the schemas refs name (and theirs, depth first) into
// cache, so that the schema referring to them parses.
func (g *RegistryResolver) references(ctx context.Context, cache *avro.SchemaCache, refs []sr.SchemaReference, seen map[string]bool) error {
	for _, ref := range refs {
		key := fmt.Sprintf("%s/%d", ref.Subject, ref.Version)
		if seen[key] {
			continue
		}
		seen[key] = true
		got, err := g.client.SchemaByVersion(ctx, ref.Subject, ref.Version)
		if err != nil {
			if notFound(err) {
				return fmt.Errorf("%w: referenced schema %s version %d is not in the registry at %s", ErrUnknownSchema, ref.Subject, ref.Version, g.where)
			}
			return g.unavailable(err)
		}
		if err := g.references(ctx, cache, got.References, seen); err != nil {
			return err
		}
		if _, err := avro.ParseWithCache(got.Schema.Schema, "", cache); err != nil {
			return fmt.Errorf("referenced schema %s version %d: %w", ref.Subject, ref.Version, err)
		}
	}
	return nil
}

// notFound reports a registry's definitive "no such schema".
func notFound(err error) bool {
	var re *sr.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound
}

// unavailable wraps a failed request in ErrUnavailable with what an
// operator needs to know.
func (g *RegistryResolver) unavailable(err error) error {
	var re *sr.ResponseError
	if errors.As(err, &re) {
		hint := ""
		if re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden {
			hint = "; check --schema-registry-user and its password"
		}
		return fmt.Errorf("%w at %s: HTTP %d: %s%s", ErrUnavailable, g.where, re.StatusCode, trimText(re.Error(), 200), hint)
	}
	return fmt.Errorf("%w at %s: %w", ErrUnavailable, g.where, err)
}

// trimText caps s at n bytes for a message.
func trimText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
