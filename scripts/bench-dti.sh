#!/usr/bin/env bash
# Time the DTI/ADR SQL functions on N generated pairs (default 10000) in the installed extension, and the first
# call of a fresh backend. Needs scripts/install.sh (cluster 15/main running). Results go to BENCHMARKS.md by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
db=crag_bench
runuser -u postgres -- dropdb --if-exists "$db"
runuser -u postgres -- createdb "$db"
runuser -u postgres -- psql -qX -d "$db" -c "CREATE EXTENSION IF NOT EXISTS crag" -c "SELECT count(*) FROM crag.import_default_models()" >/dev/null
echo "== first call in a fresh backend (x3), each in its own connection =="
for _ in 1 2 3; do
  runuser -u postgres -- psql -qX -d "$db" <<'SQL' | grep Time
\timing on
SELECT crag.crag_dti(ARRAY(SELECT (i % 7 = 0)::int::real FROM generate_series(1, 2048) i),
                     ARRAY(SELECT (i % 10 / 100.0)::real FROM generate_series(1, 420) i));
SQL
done
echo "== $n pairs =="
runuser -u postgres -- psql -qX -d "$db" -v n="$n" < benches/dti_sql.sql
