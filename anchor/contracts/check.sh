#!/usr/bin/env sh
# CI: regenerates TwinAnchor's ABI, bytecode and bindings and fails if that
# changes anything committed.
set -eu
cd "$(dirname "$0")"
./gen.sh
git diff --exit-code -- build twinanchor || {
	echo "anchor/contracts: generated files are stale; run make contracts (anchor/contracts/gen.sh) and commit" >&2
	exit 1
}
