#!/usr/bin/env sh
# Starts `geth --dev` for the anchor tests and prints the line to export.
#
#   eval "$(anchor/ci-geth.sh)"     # sets CUSTOS_TEST_GETH_RPC
#
# Installs geth v1.17.10 with `go install` when it is not on PATH (a few
# minutes the first time), runs it in the background on 127.0.0.1:18545
# with a fresh data directory under /tmp, waits until it answers JSON-RPC
# and prints `export CUSTOS_TEST_GETH_RPC=http://127.0.0.1:18545`.
# Stop it with: kill "$(cat /tmp/custos-geth/geth.pid)"
#
# Fork rules: by default the chain runs the rules public networks run today
# (Prague + Osaka; a genesis from anchor/devchain/genesis is written with
# `geth init`, which `geth --dev` keeps). CUSTOS_GETH_FORKS=all runs geth's
# own --dev genesis (every fork, including unreleased ones).
set -eu
GETH_VERSION=v1.17.10
PORT=${CUSTOS_GETH_PORT:-18545}
DIR=${CUSTOS_GETH_DIR:-/tmp/custos-geth}
GETH=$(command -v geth || true)
if [ -z "$GETH" ]; then
	GOBIN_DIR=$(go env GOPATH)/bin
	if [ ! -x "$GOBIN_DIR/geth" ]; then
		echo "installing geth $GETH_VERSION ..." >&2
		GOFLAGS= go install "github.com/ethereum/go-ethereum/cmd/geth@$GETH_VERSION" >&2
	fi
	GETH=$GOBIN_DIR/geth
fi
if [ -f "$DIR/geth.pid" ] && kill -0 "$(cat "$DIR/geth.pid")" 2>/dev/null; then
	kill "$(cat "$DIR/geth.pid")" 2>/dev/null || true
	sleep 1
fi
rm -rf "$DIR"
mkdir -p "$DIR"
if [ "${CUSTOS_GETH_FORKS:-today}" != all ]; then
	# geth --dev's account: its well-known developer key when the keystore is empty.
	(cd "$(dirname "$0")/.." && GOFLAGS= go run ./anchor/devchain/genesis 0x71562b71999873DB5b286dF957af199Ec94617F7) >"$DIR/genesis.json"
	"$GETH" init --datadir "$DIR/data" "$DIR/genesis.json" >"$DIR/init.log" 2>&1
fi
"$GETH" --dev --datadir "$DIR/data" --http --http.api eth,net,web3 --http.addr 127.0.0.1 --http.port "$PORT" \
	--ipcdisable --nodiscover --port 0 --authrpc.port 0 >"$DIR/geth.log" 2>&1 &
echo $! >"$DIR/geth.pid"
i=0
until curl -sf -H 'Content-Type: application/json' \
	-d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "http://127.0.0.1:$PORT" >/dev/null 2>&1; do
	i=$((i + 1))
	if [ "$i" -gt 60 ]; then
		echo "geth did not answer on 127.0.0.1:$PORT; log:" >&2
		tail -20 "$DIR/geth.log" >&2
		exit 1
	fi
	sleep 0.5
done
echo "export CUSTOS_TEST_GETH_RPC=http://127.0.0.1:$PORT"
