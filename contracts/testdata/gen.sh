#!/bin/sh
# Rebuilds the committed test modules from their WAT sources.
# Needs wat2wasm (Debian package wabt). Tests use the committed .wasm files.
set -eu
cd "$(dirname "$0")"
for f in *.wat; do wat2wasm "$f" -o "${f%.wat}.wasm"; done
