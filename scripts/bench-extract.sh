#!/usr/bin/env bash
# Extractor throughput from SQL: N ADE Corpus V2 sentences (default 500, the first distinct ones by PMID) through
# crag_extract_entities_batch (entities only) and crag_extract_relations_batch (entities, then every candidate pair),
# crag.batch_size = 32, crag.threads = 1 and 2. Needs scripts/install.sh (cluster 15/main running, default models)
# and the shared ADE Corpus V2 folder.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-500}
ade=${CRAG_ADE_DIR:-../shared/data/ade_corpus_v2}
db=crag_bench
tsv=/tmp/crag-extract-sentences.tsv
cut -d'|' -f1,2 "$ade/DRUG-AE.rel" | sort -u -t'|' -k1,1 | awk -v n="$n" 'NR <= n' | cut -d'|' -f2 | sed 's/\\/\\\\/g' > "$tsv"
chmod a+r "$tsv"
runuser -u postgres -- dropdb --if-exists "$db"
runuser -u postgres -- createdb "$db"
runuser -u postgres -- psql -qX -d "$db" -c "CREATE EXTENSION IF NOT EXISTS crag" \
  -c "SELECT count(*) FROM crag.import_default_models()" >/dev/null
echo "== SQL ($(wc -l < "$tsv") sentences) =="
runuser -u postgres -- psql -qX -d "$db" -v tsv="$tsv" <<'SQL'
CREATE TABLE sentences (id serial, s text);
\set copy '\\copy sentences (s) FROM ' :'tsv'
:copy
SET crag.batch_size = 32;
SET max_parallel_workers_per_gather = 0;
SELECT count(*) AS warm_up FROM crag.crag_extract_relations('Rifampicin-induced thrombocytopenia.');
SELECT count(*) AS sentences, round(avg(length(s))) AS mean_chars FROM sentences;
\timing on
SET crag.threads = 1;
SELECT count(*) AS entities FROM crag.crag_extract_entities_batch((SELECT array_agg(s ORDER BY id) FROM sentences));
SELECT count(*) AS relations FROM crag.crag_extract_relations_batch((SELECT array_agg(s ORDER BY id) FROM sentences));
SET crag.threads = 2;
SELECT count(*) AS relations_2_threads FROM crag.crag_extract_relations_batch((SELECT array_agg(s ORDER BY id) FROM sentences));
SQL
