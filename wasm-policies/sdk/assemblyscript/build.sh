#!/bin/sh
# Builds the AssemblyScript contracts next to their sources. Needs the
# pinned compiler: run `npm ci` in this directory first. Reproducible: the
# same compiler and sources give the same bytes (tests check the committed
# .wasm files against a rebuild). Usage (from anywhere):
#   wasm-policies/sdk/assemblyscript/build.sh
# CUSTOS_AS_OUT=dir writes the modules into dir instead (tests).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here" # asc records paths relative to the working directory
asc=./node_modules/.bin/asc
[ -x "$asc" ] || { echo "asc not found: run 'npm ci' in $here" >&2; exit 1; }
# --runtime minimal: the GC without automatic collection (the SDK collects
# between calls); --use abort=: assertion failures trap (unreachable)
# instead of importing env.abort, so the modules import nothing at all.
flags="-O3 --noAssert --runtime minimal --use abort="
for src in ../../coldchain/assemblyscript/coldchain.ts; do
	out="${src%.ts}.wasm"
	if [ -n "${CUSTOS_AS_OUT:-}" ]; then out="$CUSTOS_AS_OUT/$(basename "$out")"; fi
	"$asc" "$src" -o "$out" $flags
	echo "built wasm-policies/${out#../../} ($(wc -c < "$out") bytes)"
done
