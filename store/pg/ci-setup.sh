#!/usr/bin/env bash
# ci-setup.sh starts the local PostgreSQL 15 cluster and creates the custos
# role and test database, idempotently. It prints the export line for
# CUSTOS_TEST_DATABASE on stdout (everything else goes to stderr), so a caller
# can do:  eval "$(bash store/pg/ci-setup.sh)"
set -euo pipefail

PG_VERSION=${PG_VERSION:-15}
PG_CLUSTER=${PG_CLUSTER:-main}
PG_PORT=${PG_PORT:-5432}
DB_USER=${DB_USER:-custos}
DB_PASS=${DB_PASS:-custos}
DB_NAME=${DB_NAME:-custos_test}

if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ ! -x "/usr/lib/postgresql/${PG_VERSION}/bin/postgres" ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "ci-setup: installing postgresql-${PG_VERSION}" >&2
		DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-${PG_VERSION}" >&2
	else
		echo "ci-setup: PostgreSQL ${PG_VERSION} is not installed (apt-get install postgresql-${PG_VERSION})" >&2
		exit 1
	fi
fi

if ! pg_lsclusters -h | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1==v && $2==c {found=1} END {exit !found}'; then
	echo "ci-setup: creating cluster ${PG_VERSION}/${PG_CLUSTER}" >&2
	pg_createcluster "$PG_VERSION" "$PG_CLUSTER" --port "$PG_PORT" >&2
fi

if ! pg_lsclusters -h | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1==v && $2==c && $4=="online" {found=1} END {exit !found}'; then
	echo "ci-setup: starting cluster ${PG_VERSION}/${PG_CLUSTER}" >&2
	pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start >&2
fi

# Wait until the server accepts connections (a fresh start can take a moment).
for _ in $(seq 1 60); do
	if pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; then
		break
	fi
	sleep 0.5
done
pg_isready -h 127.0.0.1 -p "$PG_PORT" >&2

as_postgres() { su postgres -c "$1"; }

if [ "$(as_postgres "psql -p $PG_PORT -tAc \"SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER'\"")" != "1" ]; then
	as_postgres "psql -p $PG_PORT -q -c \"CREATE ROLE $DB_USER LOGIN SUPERUSER PASSWORD '$DB_PASS'\"" >&2
fi
if [ "$(as_postgres "psql -p $PG_PORT -tAc \"SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'\"")" != "1" ]; then
	as_postgres "createdb -p $PG_PORT -O $DB_USER $DB_NAME" >&2
fi

echo "export CUSTOS_TEST_DATABASE='postgres://${DB_USER}:${DB_PASS}@127.0.0.1:${PG_PORT}/${DB_NAME}?sslmode=disable'"
