package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/syncd/syncd/config"
	"github.com/syncd/syncd/load/duckdb"
	"github.com/syncd/syncd/load/duckdb/sqlguard"
)

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:5433": true, "[::1]:5433": true, "localhost:5433": true,
		"0.0.0.0:5433": false, ":5433": false, "10.0.0.5:5433": false, "db.example.com:5433": false,
	} {
		if got := loopback(addr); got != want {
			t.Errorf("loopback(%q) = %v", addr, got)
		}
	}
}

// writeCert writes a self-signed certificate for 127.0.0.1 and its key as
// PEM files, as an operator would set postgres.tls_cert and tls_key.
func writeCert(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "syncd"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// TestPostgresWiring: the postgres section's listener, TLS files and
// password reach the endpoint; bad key files are a config error naming the
// keys; an empty listen is no endpoint.
func TestPostgresWiring(t *testing.T) {
	dir := t.TempDir()
	sink, err := duckdb.Open(t.Context(), filepath.Join(dir, "w.duckdb"), duckdb.Sandboxed())
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	clients, err := sink.ClientDB()
	if err != nil {
		t.Fatal(err)
	}
	guard := sqlguard.New(clients)
	newApp := func(pc config.Postgres) *app {
		return &app{cfg: &config.Config{Postgres: pc}, log: zerolog.Nop(), redact: func(s string) string { return s }}
	}
	if srv, err := newPostgres(newApp(config.Postgres{User: "syncd"}), guard, nil); srv != nil || err != nil {
		t.Fatalf("listen empty: %v %v", srv, err)
	}
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = newPostgres(newApp(config.Postgres{Listen: "127.0.0.1:0", User: "syncd", Password: "pw-12345", TLSCert: bad, TLSKey: bad}), guard, nil)
	var ce *config.Error
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "postgres.tls_cert") {
		t.Fatalf("bad key files: %v", err)
	}

	cert, key := writeCert(t, dir)
	srv, err := newPostgres(newApp(config.Postgres{Listen: "127.0.0.1:0", User: "bi", Password: "pw-12345", TLSCert: cert, TLSKey: key}), guard, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	defer func() { cancel(); <-done }()
	url := fmt.Sprintf("postgres://bi:pw-12345@%s/x?sslmode=require", srv.Addr())
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM _syncd_state").Scan(&n); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close(ctx)
	if _, err := pgx.Connect(ctx, strings.Replace(url, "require", "disable", 1)); err == nil || !strings.Contains(err.Error(), "requires TLS") {
		t.Errorf("without TLS: %v", err)
	}
}
