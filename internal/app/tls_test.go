package app_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/custos-dev/custos/internal/app"
)

// With --tls-cert/--tls-key both NATS and HTTP speak TLS only.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "custos test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)

	a := startWith(t, filepath.Join(dir, "data"), func(c *app.Config) { c.TLSCert, c.TLSKey = certFile, keyFile })
	defer a.Close()

	if _, err := nats.Connect(a.NATS.ClientURL(), a.AdminOption(), nats.MaxReconnects(0)); err == nil {
		t.Error("NATS without TLS: connected")
	}
	nc, err := nats.Connect(a.NATS.ClientURL(), a.AdminOption(), nats.RootCAs(certFile))
	if err != nil {
		t.Fatalf("NATS with TLS: %v", err)
	}
	nc.Close()

	if resp, err := http.Get("http://" + a.HTTPAddr + "/healthz"); err == nil && resp.StatusCode == 200 {
		t.Error("plain HTTP served")
	}
	pool := x509.NewCertPool()
	pool.AddCert(mustParse(t, der))
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.Get("https://" + a.HTTPAddr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("HTTPS: %v %v", resp, err)
	}
	resp.Body.Close()
}

func mustParse(t *testing.T, der []byte) *x509.Certificate {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
