#!/usr/bin/env bash
# The README's first command: set up a fresh Debian 12 machine (as root), build and install CRAG into
# PostgreSQL 15, load the default models and run the demo queries.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-deps.sh
bash scripts/install.sh
db=crag_demo
runuser -u postgres -- psql -qXtA -c "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 \
  || runuser -u postgres -- createdb "$db"
runuser -u postgres -- psql -X -d "$db" < scripts/demo.sql

echo '== first call in a fresh backend (loads the model from crag.models), then a warm call =='
runuser -u postgres -- psql -X -d "$db" <<'SQL'
\timing on
SELECT round(crag.crag_dti(ARRAY(SELECT (i % 7 = 0)::int::real FROM generate_series(1, 1024) i),
                           ARRAY(SELECT (i % 10 / 100.0)::real FROM generate_series(1, 420) i))::numeric, 4) AS p_bind_first_call;
SELECT round(crag.crag_dti(ARRAY(SELECT (i % 7 = 0)::int::real FROM generate_series(1, 1024) i),
                           ARRAY(SELECT (i % 10 / 100.0)::real FROM generate_series(1, 420) i))::numeric, 4) AS p_bind_warm_call;
SQL
