#!/usr/bin/env bash
# examples/cluster/run.sh — `make cluster`: three real nats-server processes
# clustered with JetStream, and three custos nodes sharing one PostgreSQL, on
# this machine, for trying custos as a cluster (docs/cluster.md). Ctrl-C stops
# everything; the data stays in ./custos-cluster (rm -rf it to start afresh).
#
# Environment:
#   CUSTOS_CLUSTER_DATABASE  postgres:// URL of the shared store
#                            (default postgres://custos:custos@127.0.0.1:5432/custos?sslmode=disable)
#   CUSTOS_CLUSTER_DIR       data directory (default ./custos-cluster)
#   CUSTOS_CLUSTER_ARGS      extra flags for every custos node
set -euo pipefail

DB=${CUSTOS_CLUSTER_DATABASE:-postgres://custos:custos@127.0.0.1:5432/custos?sslmode=disable}
DIR=${CUSTOS_CLUSTER_DIR:-./custos-cluster}
EXTRA=${CUSTOS_CLUSTER_ARGS:-}
NATS_PORTS=(4301 4302 4303)
ROUTE_PORTS=(6301 6302 6303)
MON_PORTS=(8301 8302 8303)
HTTP_PORTS=(8081 8082 8083)

mkdir -p "$DIR" bin
echo "building bin/custos and bin/nats-server (the version pinned in go.mod)…"
go build -o bin/custos ./cmd/custos
go build -o bin/nats-server github.com/nats-io/nats-server/v2

pids=()
stop() {
	trap - EXIT INT TERM
	echo; echo "stopping…"
	# custos nodes first (they drain and release their leases), then NATS.
	for i in 5 4 3; do [ -n "${pids[$i]:-}" ] && kill -TERM "${pids[$i]}" 2>/dev/null || true; done
	for i in 5 4 3; do [ -n "${pids[$i]:-}" ] && wait "${pids[$i]}" 2>/dev/null || true; done
	for i in 2 1 0; do [ -n "${pids[$i]:-}" ] && kill -TERM "${pids[$i]}" 2>/dev/null || true; done
	wait 2>/dev/null || true
	echo "stopped; data in $DIR"
}
trap stop EXIT
trap 'stop; exit 0' INT TERM

wait_port() { # host port seconds
	for _ in $(seq 1 $(( $3 * 10 ))); do
		(exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "nothing listens on $1:$2 after $3 s (see $DIR/*.log)" >&2
	return 1
}

routes=""
for i in 0 1 2; do routes+="${routes:+, }nats-route://127.0.0.1:${ROUTE_PORTS[$i]}"; done
for i in 0 1 2; do
	n=$((i + 1))
	mkdir -p "$DIR/nats$n"
	cat >"$DIR/nats$n.conf" <<CONF
server_name: nats$n
listen: 127.0.0.1:${NATS_PORTS[$i]}
http: 127.0.0.1:${MON_PORTS[$i]}
jetstream { store_dir: "$DIR/nats$n" }
cluster {
  name: custos
  listen: 127.0.0.1:${ROUTE_PORTS[$i]}
  routes: [ $routes ]
}
CONF
	bin/nats-server -c "$DIR/nats$n.conf" >"$DIR/nats$n.log" 2>&1 &
	pids[$i]=$!
done
for i in 0 1 2; do wait_port 127.0.0.1 "${NATS_PORTS[$i]}" 30; done

urls=""
for i in 0 1 2; do urls+="${urls:+,}nats://127.0.0.1:${NATS_PORTS[$i]}"; done
for i in 0 1 2; do
	n=$((i + 1))
	# shellcheck disable=SC2086
	bin/custos run --cluster --node-id "n$n" --nats-url "$urls" --store "$DB" \
		--data "$DIR/n$n" --http "127.0.0.1:${HTTP_PORTS[$i]}" --anchor=false $EXTRA >"$DIR/n$n.log" 2>&1 &
	pids[$((i + 3))]=$!
done
for i in 0 1 2; do
	if ! wait_port 127.0.0.1 "${HTTP_PORTS[$i]}" 60; then tail -5 "$DIR/n$((i + 1)).log" >&2; exit 1; fi
done

cat <<INFO

custos cluster running (Ctrl-C stops it):
  NATS servers   $urls   (monitoring http://127.0.0.1:${MON_PORTS[0]}/ …${MON_PORTS[2]})
  custos nodes   n1 http://127.0.0.1:${HTTP_PORTS[0]}/   n2 http://127.0.0.1:${HTTP_PORTS[1]}/   n3 http://127.0.0.1:${HTTP_PORTS[2]}/
  store          $DB
  logs           $DIR/*.log
try:
  bin/custos sim --api http://127.0.0.1:${HTTP_PORTS[1]} --nats-url nats://127.0.0.1:${NATS_PORTS[0]} --nats-creds ""
  curl -s http://127.0.0.1:${HTTP_PORTS[1]}/readyz ; curl -s http://127.0.0.1:${HTTP_PORTS[2]}/metrics | grep custos_partition
INFO
wait -n "${pids[@]}" || true
echo "a process exited; see $DIR/*.log" >&2
