package oci

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ErrPlainHTTP is in the error when a request would have gone over plain
// HTTP to a registry not marked insecure (Options.Insecure).
var ErrPlainHTTP = errors.New("plain HTTP is allowed only to a registry marked insecure")

// parseRef parses a registry reference strictly: the registry and the tag or
// digest must be written out, so neither Docker Hub nor "latest" is ever
// implied, and the cache name derived from the reference (see Pull) always
// has the tag the user typed.
func parseRef(ref string, opts Options) (name.Reference, error) {
	nopts := []name.Option{name.StrictValidation}
	if opts.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	r, err := name.ParseReference(ref, nopts...)
	if err != nil {
		return nil, fmt.Errorf("oci: reference %q (want REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:...): %w", ref, err)
	}
	return r, nil
}

func remoteOptions(ctx context.Context, r name.Reference, opts Options) []remote.Option {
	kc := opts.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	inner := opts.Transport
	if inner == nil {
		inner = remote.DefaultTransport
	}
	guard := &httpsOnly{inner: inner}
	if opts.Insecure {
		guard.insecureHost = r.Context().RegistryStr()
	}
	return []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc), remote.WithTransport(guard)}
}

// httpsOnly refuses every plain-HTTP request except to the one registry the
// caller marked insecure. go-containerregistry on its own falls back to
// HTTP for localhost, loopback and RFC 1918 addresses (name.Registry.Scheme
// and transport.Ping), so anyone who can block HTTPS to such a registry
// could serve the image in the clear. go-containerregistry wraps this
// transport below its own scheme selection, so the URL seen here is the
// one that would really be sent, redirects included; a refused request
// never reaches the network.
type httpsOnly struct {
	inner        http.RoundTripper
	insecureHost string // host:port that may be spoken to over HTTP; "" for none
}

func (t *httpsOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "https" || req.URL.Scheme == "http" && t.insecureHost != "" && req.URL.Host == t.insecureHost {
		return t.inner.RoundTrip(req)
	}
	if req.Body != nil {
		req.Body.Close() // a RoundTripper closes the body, even when it fails
	}
	return nil, ErrPlainHTTP
}

// remoteErr wraps an error of go-containerregistry for the action what
// ("pull REF", "push FILE to REF"), saying why a plain-HTTP fallback failed.
func remoteErr(what string, r name.Reference, err error) error {
	if errors.Is(err, ErrPlainHTTP) {
		return fmt.Errorf("oci: %s: refused to fall back to plain HTTP, registry %s is not marked insecure: %w", what, r.Context().RegistryStr(), err)
	}
	return fmt.Errorf("oci: %s: %w", what, err)
}
