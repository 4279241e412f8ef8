#!/usr/bin/env bash
# DB round trip of the trainer: train a tiny DTI/ADR model on the shared data, publish it with --database-url into a
# temporary PostgreSQL cluster that has the installed extension, then check from SQL that
# crag_dti(crag_drug_features(smiles), crag_protein_features(sequence)) equals the trainer's own predictions.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${CRAG_SHARED_DATA:-../shared/data}
BIN=$(pg_config --bindir)
PORT=${CRAG_RT_PORT:-54329}
work=$(mktemp -d /tmp/crag-rt.XXXXXX)
chown postgres: "$work"
cleanup() { runuser -u postgres -- "$BIN/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
runuser -u postgres -- "$BIN/initdb" -D "$work/data" -A trust >/dev/null
printf "crag.onnxruntime_library = '%s'\nport = %s\nunix_socket_directories = '%s'\nlisten_addresses = ''\n" \
  "${ORT_DYLIB_PATH:-/usr/local/lib/crag/libonnxruntime.so}" "$PORT" "$work" >> "$work/data/postgresql.conf"
runuser -u postgres -- "$BIN/pg_ctl" -D "$work/data" -l "$work/log" -w start >/dev/null
psql_() { runuser -u postgres -- psql -X -q -h "$work" -p "$PORT" -d postgres -v ON_ERROR_STOP=1 "$@"; }
psql_ -c "CREATE EXTENSION crag"

url="postgres://postgres@localhost/postgres?host=$work&port=$PORT"
cargo run -q --release -p crag-train -- dti --pairs "$DATA/dti_drugban/human/random" --sider "$DATA/sider_4_1" \
  --out "$work/model" --max-train-pairs 600 --epochs 2 --d 32 --batch-size 64 --quiet \
  --database-url "$url" --activate 2>&1 | tail -n 3
# Publishing twice is idempotent.
cargo run -q --release -p crag-train -- dti --pairs "$DATA/dti_drugban/human/random" --sider "$DATA/sider_4_1" \
  --out "$work/model2" --max-train-pairs 600 --epochs 2 --d 32 --batch-size 64 --quiet \
  --database-url "$url" 2>&1 | grep -q "published dti version 1"

head -n 101 "$work/model/predictions_test.tsv" | tail -n 100 | cut -f1,2,4 > "$work/pred.tsv"
psql_ -c "CREATE TABLE pred (smiles text, protein text, p_trainer float8)"
psql_ -c "\\copy pred FROM '$work/pred.tsv'"
result=$(psql_ -tA -c "SELECT count(*) || ' ' || max(abs(crag.crag_dti(crag.crag_drug_features(smiles), crag.crag_protein_features(protein)) - p_trainer)) FROM pred")
psql_ -tA -c "SELECT 'registry: ' || string_agg(name || ' v' || version || CASE WHEN active THEN ' active' ELSE '' END || ', K=' || adr_terms, '; ') FROM crag.models_overview"
read -r n maxdiff <<<"$result"
echo "round trip: $n test pairs, max |crag_dti - trainer| = $maxdiff"
awk -v d="$maxdiff" -v n="$n" 'BEGIN { exit !(n == 100 && d <= 1e-5) }' || { echo "round trip FAILED"; exit 1; }
echo "round trip passed"

# The relation model: a tiny crag-train relation run (float32 graph) published into the same cluster; crag_score on
# the trainer's test contexts must equal the trainer's own P(causal).
cargo run -q --release -p crag-train -- relation --ade "$DATA/ade_corpus_v2" --out "$work/relation" \
  --max-train 64 --max-val 32 --max-test 40 --epochs 1 --precision f32 --device cpu --quiet \
  --database-url "$url" --activate 2>&1 | tail -n 2
tail -n +2 "$work/relation/predictions_test.tsv" | cut -f7,8,9 > "$work/rel.tsv"
psql_ -c "CREATE TABLE rel_pred (p_trainer float8, drug_ctx text, adr_ctx text)"
psql_ -c "\\copy rel_pred FROM '$work/rel.tsv'"
result=$(psql_ -tA -c "SELECT count(*) || ' ' || max(abs(crag.crag_score(drug_ctx, adr_ctx) - p_trainer)) FROM rel_pred")
read -r n maxdiff <<<"$result"
echo "relation round trip: $n test pairs, max |crag_score - trainer| = $maxdiff"
awk -v d="$maxdiff" -v n="$n" 'BEGIN { exit !(n == 80 && d <= 1e-5) }' || { echo "relation round trip FAILED"; exit 1; }
echo "relation round trip passed"
