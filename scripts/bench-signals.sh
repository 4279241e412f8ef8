#!/usr/bin/env bash
# crag_signals over a generated 1M-report table vs a plain SQL query (needs scripts/install.sh). Prints timings
# and the backend's peak memory (VmHWM).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
db=crag_bench
runuser -u postgres -- dropdb --if-exists "$db"
runuser -u postgres -- createdb "$db"
runuser -u postgres -- psql -qX -d "$db" -c "CREATE EXTENSION IF NOT EXISTS crag" >/dev/null
runuser -u postgres -- psql -X -d "$db" -v n_reports="$n" < benches/signals_sql.sql
