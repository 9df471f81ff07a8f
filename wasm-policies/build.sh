#!/bin/sh
# Builds the built-in WebAssembly policies into wasm-policies/builtin/.
# Reproducible: same Go toolchain + same sources => same bytes
# (builtin's TestCommittedWasmUpToDate checks it). Usage (from anywhere):
#   wasm-policies/build.sh
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 go build -buildmode=c-shared -trimpath -buildvcs=false \
	-o wasm-policies/builtin/coldchain.wasm ./wasm-policies/coldchain
echo "built wasm-policies/builtin/coldchain.wasm ($(wc -c < wasm-policies/builtin/coldchain.wasm) bytes)"
