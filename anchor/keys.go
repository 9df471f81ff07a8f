package anchor

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/keystore"
)

// LoadKeystore decrypts a go-ethereum encrypted keystore (V3 JSON) file
// with passphrase. path may also be a keystore directory holding exactly
// one key file.
func LoadKeystore(path, passphrase string) (*ecdsa.PrivateKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	if fi.IsDir() {
		ents, err := os.ReadDir(path)
		if err != nil {
			return nil, fmt.Errorf("keystore: %w", err)
		}
		var files []string
		for _, e := range ents {
			if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
		if len(files) != 1 {
			return nil, fmt.Errorf("keystore: %s holds %d key files, want 1", path, len(files))
		}
		path = files[0]
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	k, err := keystore.DecryptKey(b, passphrase)
	if err != nil {
		return nil, fmt.Errorf("keystore %s: %w", filepath.Base(path), err)
	}
	return k.PrivateKey, nil
}

// Passphrase returns the keystore passphrase from file (trailing newline
// removed) if file is not empty, else from the environment variable env.
func Passphrase(file, env string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("passphrase: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	if v, ok := os.LookupEnv(env); ok && env != "" {
		return v, nil
	}
	return "", errors.New("passphrase: give a passphrase file or set " + env)
}
