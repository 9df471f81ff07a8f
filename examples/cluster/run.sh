#!/usr/bin/env bash
# examples/cluster/run.sh — `make cluster`: three real nats-server processes
# clustered with JetStream, and three custos nodes sharing one PostgreSQL, on
# this machine, for trying custos as a cluster (docs/cluster.md). A process
# that dies (kill -9 one to watch failover) is reported and the others keep
# running; type "r <name>" to start it again. Ctrl-C stops everything; the
# data stays in ./custos-cluster (rm -rf it to start afresh).
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

names=() cmds=()
# launch starts process i (names[i], cmds[i]) in the background.
launch() {
	bash -c "exec ${cmds[$1]}" &
	pids[$1]=$!
}

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
	names[$i]=nats$n
	: >"$DIR/nats$n.log"
	cmds[$i]="bin/nats-server -c $DIR/nats$n.conf >>$DIR/nats$n.log 2>&1"
	launch "$i"
done
for i in 0 1 2; do wait_port 127.0.0.1 "${NATS_PORTS[$i]}" 30; done

urls=""
for i in 0 1 2; do urls+="${urls:+,}nats://127.0.0.1:${NATS_PORTS[$i]}"; done
for i in 0 1 2; do
	n=$((i + 1))
	names[$((i + 3))]=n$n
	: >"$DIR/n$n.log"
	cmds[$((i + 3))]="bin/custos run --cluster --node-id n$n --nats-url $urls --store '$DB' --data $DIR/n$n --http 127.0.0.1:${HTTP_PORTS[$i]} --anchor=false $EXTRA >>$DIR/n$n.log 2>&1"
	launch "$((i + 3))"
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

# A process that dies (a crash, or kill -9 to try failover) is reported and
# the rest keeps running; "r <name>" (e.g. r nats2, r n1) starts it again.
# Ctrl-C stops everything.
index_of() { for i in "${!names[@]}"; do [ "${names[$i]}" = "$1" ] && echo "$i" && return 0; done; return 1; }
while :; do
	for i in "${!pids[@]}"; do
		if [ -n "${pids[$i]}" ] && ! kill -0 "${pids[$i]}" 2>/dev/null; then
			wait "${pids[$i]}" 2>/dev/null && code=0 || code=$?
			echo "${names[$i]} (pid ${pids[$i]}) exited with status $code; the others keep running (log: $DIR/${names[$i]}.log). Type: r ${names[$i]}  to start it again" >&2
			pids[$i]=""
		fi
	done
	alive=0
	for p in "${pids[@]}"; do [ -n "$p" ] && alive=$((alive + 1)); done
	if [ "$alive" -eq 0 ]; then
		echo "every process has exited" >&2
		exit 1
	fi
	rc=0
	read -r -t 1 cmd name || rc=$?
	if [ "$rc" -gt 128 ]; then # a second without input
		continue
	elif [ "$rc" -ne 0 ]; then # no terminal (end of input): just watch
		sleep 1
		continue
	fi
	if [ "$cmd" = r ] && i=$(index_of "$name"); then
		if [ -n "${pids[$i]}" ]; then
			echo "$name is running (pid ${pids[$i]})"
		else
			launch "$i"
			echo "$name started again (pid ${pids[$i]})"
		fi
	else
		echo "commands: r <name> (one of: ${names[*]}); Ctrl-C stops everything"
	fi
done
