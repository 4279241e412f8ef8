#!/usr/bin/env bash
# Relation-model throughput: the same N pairs (default 1000: the first annotated pairs of ADE Corpus V2, mentions
# marked) scored (1) by a standalone Rust program over ONNX Runtime (cargo bench -p crag-core --bench relation; same
# session code, batch 256, 1 thread) and (2) from SQL with crag_score per row and crag_score_batch
# (crag.batch_size = 256, crag.threads = 1). Needs scripts/install.sh (cluster 15/main running, default models).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
db=crag_bench
tsv=/tmp/crag-relation-pairs.tsv
echo "== standalone: cargo bench -p crag-core --bench relation ($n pairs) =="
CRAG_BENCH_PAIRS=$n CRAG_BENCH_TSV=$tsv cargo bench -q -p crag-core --bench relation 2>&1 | grep -v '^$'
chmod a+r "$tsv"
runuser -u postgres -- dropdb --if-exists "$db"
runuser -u postgres -- createdb "$db"
runuser -u postgres -- psql -qX -d "$db" -c "CREATE EXTENSION IF NOT EXISTS crag" \
  -c "SELECT count(*) FROM crag.import_default_models()" >/dev/null
echo "== SQL ($n pairs) =="
runuser -u postgres -- psql -qX -d "$db" -v tsv="$tsv" <<'SQL'
CREATE TABLE rel_pairs (id serial, drug_ctx text, adr_ctx text);
\set copy '\\copy rel_pairs (drug_ctx, adr_ctx) FROM ' :'tsv'
:copy
SET crag.threads = 1;
SET crag.batch_size = 256;
SET max_parallel_workers_per_gather = 0;
SELECT round(crag.crag_score(drug_ctx, adr_ctx)::numeric, 4) AS warm_up FROM rel_pairs LIMIT 1;
\timing on
SELECT count(*) AS pairs, round(avg(crag.crag_score(drug_ctx, adr_ctx))::numeric, 4) AS mean_p_per_row FROM rel_pairs;
SELECT cardinality(p) AS pairs, round((SELECT avg(x) FROM unnest(p) x)::numeric, 4) AS mean_p_batch
  FROM (SELECT crag.crag_score_batch(array_agg(drug_ctx ORDER BY id), array_agg(adr_ctx ORDER BY id)) AS p FROM rel_pairs) b;
SQL
echo "== first crag_score call in a fresh backend (x3) =="
for _ in 1 2 3; do
  runuser -u postgres -- psql -qX -d "$db" <<'SQL' | grep Time
\timing on
SELECT crag.crag_score('Intravenous [DRUG]azithromycin[/DRUG]-induced ototoxicity.', 'Intravenous azithromycin-induced [ADR]ototoxicity[/ADR].');
SQL
done
