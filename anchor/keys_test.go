package anchor

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/crypto"
)

func TestLoadKeystore(t *testing.T) {
	dir := t.TempDir()
	ks := keystore.NewKeyStore(dir, keystore.LightScryptN, keystore.LightScryptP)
	acc, err := ks.NewAccount("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	pf := filepath.Join(t.TempDir(), "pass")
	os.WriteFile(pf, []byte("s3cret\n"), 0o600)
	pass, err := Passphrase(pf, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, acc.URL.Path} {
		k, err := LoadKeystore(p, pass)
		if err != nil {
			t.Fatal(err)
		}
		if crypto.PubkeyToAddress(k.PublicKey) != acc.Address {
			t.Fatal("wrong key")
		}
	}
	if _, err := LoadKeystore(dir, "wrong"); err == nil {
		t.Fatal("wrong passphrase accepted")
	}
	t.Setenv("CUSTOS_TEST_PASS", "x")
	if p, err := Passphrase("", "CUSTOS_TEST_PASS"); err != nil || p != "x" {
		t.Fatalf("env passphrase %q %v", p, err)
	}
	if _, err := Passphrase("", "CUSTOS_TEST_UNSET_PASS"); err == nil {
		t.Fatal("no passphrase accepted")
	}
}
