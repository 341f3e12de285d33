// Package certs loads the PEM files that hourglass's TLS clients (Kafka,
// the schema registry) trust.
package certs

import (
	"crypto/x509"
	"fmt"
	"os"
)

// Pool reads a PEM file of CA certificates into a pool. flag names the
// setting in errors ("--tls-ca").
func Pool(path, flag string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s %s: no PEM certificates in it", flag, path)
	}
	return pool, nil
}
