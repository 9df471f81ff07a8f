#!/usr/bin/env sh
# Regenerates TwinAnchor's ABI, bytecode and go-ethereum v2 bindings from
# TwinAnchor.sol with the solc version pinned in package-lock.json.
# Deterministic: running it twice changes nothing (CI checks with git diff).
set -eu
cd "$(dirname "$0")"
if [ ! -d node_modules/solc ]; then
	npm ci --no-audit --no-fund >/dev/null
fi
node compile.js
GOFLAGS= go run github.com/ethereum/go-ethereum/cmd/abigen@v1.17.10 --v2 \
	--abi build/TwinAnchor.abi --bin build/TwinAnchor.bin \
	--pkg twinanchor --type TwinAnchor --out twinanchor/twinanchor.go
