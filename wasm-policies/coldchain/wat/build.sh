#!/bin/sh
# Builds coldchain.wasm from coldchain.wat. Needs wat2wasm (Debian package
# wabt). The conformance tests check the committed .wasm against a rebuild.
set -eu
cd "$(dirname "$0")"
wat2wasm coldchain.wat -o coldchain.wasm
echo "built wasm-policies/coldchain/wat/coldchain.wasm ($(wc -c < coldchain.wasm) bytes)"
