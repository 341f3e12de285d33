package codec

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

const pointSchema = `{"type":"record","name":"Point","namespace":"t","fields":[{"name":"x","type":"double"}]}`

func newFake(t *testing.T, opts ...srfake.Option) *srfake.Registry {
	t.Helper()
	reg := srfake.New(opts...)
	t.Cleanup(reg.Close)
	reg.SeedSchema("point", 1, 1, sr.Schema{Schema: pointSchema})
	// Schema 2 refers to schema 1 by its subject and version.
	reg.SeedSchema("line", 1, 2, sr.Schema{
		Schema:     `{"type":"record","name":"Line","namespace":"t","fields":[{"name":"a","type":"t.Point"},{"name":"b","type":"t.Point"}]}`,
		References: []sr.SchemaReference{{Name: "t.Point", Subject: "point", Version: 1}},
	})
	return reg
}

func resolver(t *testing.T, r Registry) *RegistryResolver {
	t.Helper()
	g, err := NewRegistryResolver(r)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestRegistryAnswers: only a definitive answer makes a record bad; every
// other failure wraps ErrUnavailable, and no message shows a password.
func TestRegistryAnswers(t *testing.T) {
	reg := newFake(t)
	var calls atomic.Int64
	reg.Intercept(func(http.ResponseWriter, *http.Request) bool { calls.Add(1); return false })
	g := resolver(t, Registry{URL: reg.URL()})
	ctx := context.Background()

	if _, err := g.Schema(ctx, 1); err != nil {
		t.Fatalf("schema 1: %v", err)
	}
	s, err := g.Schema(ctx, 2)
	if err != nil {
		t.Fatalf("schema 2 with a reference: %v", err)
	}
	if !strings.Contains(s.String(), "Line") {
		t.Fatalf("schema 2 is %s", s)
	}
	before := calls.Load()
	if _, err := g.Schema(ctx, 1); err != nil || calls.Load() != before {
		t.Fatalf("a cached schema was asked for again (%v)", err)
	}

	_, err = g.Schema(ctx, 9)
	if !errors.Is(err, ErrUnknownSchema) || errors.Is(err, ErrUnavailable) {
		t.Fatalf("unknown id: %v, want ErrUnknownSchema only", err)
	}
	before = calls.Load()
	if _, err := g.Schema(ctx, 9); !errors.Is(err, ErrUnknownSchema) || calls.Load() != before {
		t.Fatalf("a fresh 404 was asked for again (%v)", err)
	}
	g.now = func() time.Time { return time.Now().Add(notFoundTTL + time.Second) }
	if _, err := g.Schema(ctx, 9); !errors.Is(err, ErrUnknownSchema) || calls.Load() == before {
		t.Fatalf("a stale 404 was believed without asking (%v)", err)
	}

	down := resolver(t, Registry{URL: "http://127.0.0.1:1"})
	for name, err := range map[string]error{
		"connection refused": func() error { _, err := down.Schema(ctx, 1); return err }(),
		"cancelled": func() error {
			c, cancel := context.WithCancel(ctx)
			cancel()
			_, err := resolver(t, Registry{URL: reg.URL()}).Schema(c, 1)
			return err
		}(),
	} {
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s: %v, want ErrUnavailable", name, err)
		}
	}
	for _, code := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable, http.StatusTooManyRequests} {
		failing := newFake(t)
		failing.Intercept(func(w http.ResponseWriter, _ *http.Request) bool {
			http.Error(w, `{"error_code":50001,"message":"store error"}`, code)
			return true
		})
		if _, err := resolver(t, Registry{URL: failing.URL()}).Schema(ctx, 1); !errors.Is(err, ErrUnavailable) {
			t.Errorf("HTTP %d: %v, want ErrUnavailable", code, err)
		}
	}
}

// TestRegistryCredentials: credentials come from the URL or from User and
// Password, and never show in an error.
func TestRegistryCredentials(t *testing.T) {
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))
	reg := newFake(t, srfake.WithAuth(auth))
	withUserinfo := strings.Replace(reg.URL(), "http://", "http://alice:s3cret@", 1)
	ctx := context.Background()
	for name, r := range map[string]Registry{
		"in the URL":   {URL: withUserinfo},
		"as user/pass": {URL: reg.URL(), User: "alice", Password: "s3cret"},
	} {
		g := resolver(t, r)
		if _, err := g.Schema(ctx, 1); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if _, err := g.Schema(ctx, 9); err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: unknown id: %v (want an error without the password)", name, err)
		}
	}
	wrong := resolver(t, Registry{URL: reg.URL(), User: "alice", Password: "wrong"})
	_, err := wrong.Schema(ctx, 1)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "--schema-registry-user") {
		t.Errorf("wrong password: %v, want ErrUnavailable naming --schema-registry-user", err)
	}
	down := resolver(t, Registry{URL: "http://alice:s3cret@127.0.0.1:1"})
	if _, err := down.Schema(ctx, 1); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("down: %v (want an error without the password)", err)
	}
	if _, err := NewRegistryResolver(Registry{URL: "ftp://alice:s3cret@x"}); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("bad URL: %v (want an error without the password)", err)
	}
}

// TestRegistryFetchesInParallel: a slow fetch of one id does not hold up
// another id's (the old resolver fetched one id at a time behind a mutex).
func TestRegistryFetchesInParallel(t *testing.T) {
	reg := newFake(t)
	entered, release := make(chan struct{}), make(chan struct{})
	reg.Intercept(func(_ http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/ids/2") {
			close(entered)
			<-release
		}
		return false
	})
	defer close(release)
	g := resolver(t, Registry{URL: reg.URL()})
	go func() { _, _ = g.Schema(context.Background(), 2) }()
	<-entered
	done := make(chan error, 1)
	go func() { _, err := g.Schema(context.Background(), 1); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("id 1 waited behind the fetch of id 2")
	}
}
