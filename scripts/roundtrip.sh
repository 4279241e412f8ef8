#!/usr/bin/env bash
# DB round trip of the trainer: train tiny DTI/ADR, relation and extractor models on the shared data, publish it with --database-url into a
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
cargo run -q --release -p crag-train -- relation --ade "$DATA/ade_corpus_v2" --bc5cdr "$DATA/bc5cdr" \
  --sider "$DATA/sider_4_1" --cid-val-abstracts 4 --out "$work/relation" \
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
# The causality protocols through SQL (crag-train relation-eval) on the same tiny model, on a few abstracts/pairs.
cargo run -q --release -p crag-train -- relation-eval --database-url "$url" --ade "$DATA/ade_corpus_v2" \
  --bc5cdr "$DATA/bc5cdr" --sider "$DATA/sider_4_1" --max-abstracts 5 --max-ade-pairs 40 --out "$work/rel_eval.json" \
  2>/dev/null | tee "$work/rel_eval.txt"
grep -q "^BC5CDR dev CID (gold entities, [1-9][0-9]* pairs" "$work/rel_eval.txt" &&
  grep -q "^ADE Corpus V2 test hard protocol (40 pairs)" "$work/rel_eval.txt" &&
  grep -q "^card example [01]\.[0-9]*, its indication twin [01]\.[0-9]*" "$work/rel_eval.txt" ||
  { echo "relation-eval round trip FAILED"; exit 1; }
echo "relation-eval round trip passed"

# The extractor (NER + relation head): a tiny crag-train ner --relations run (float32 graph) published into the
# same cluster; crag_extract_entities and crag_extract_relations on the trainer's first 20 dev abstracts must give
# the trainer's own mentions and relations (same spans, types and labels; scores within 1e-4).
cargo run -q --release -p crag-train -- ner --bc5cdr "$DATA/bc5cdr" --ade-dir "$DATA/ade_corpus_v2" --relations \
  --out "$work/extractor" --max-train 32 --max-dev 4 --synthetic 20 --epochs 1 --precision f32 --device cpu --quiet \
  --database-url "$url" --activate 2>&1 | tail -n 1
psql_ -c "CREATE TABLE ex_pred (j jsonb)"
psql_ -c "\\copy ex_pred FROM '$work/extractor/predictions_dev.jsonl' WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')"
result=$(psql_ -tA -F ' ' <<'SQL'
WITH want_e AS (SELECT (j->>'doc')::int AS doc, (e->>'start')::int AS s, (e->>'end')::int AS t, e->>'entity_type' AS ty,
                       (e->>'score')::float8 AS sc FROM ex_pred, jsonb_array_elements(j->'entities') e),
     got_e AS (SELECT (j->>'doc')::int AS doc, x.start_pos AS s, x.end_pos AS t, x.entity_type AS ty, x.score AS sc
                 FROM ex_pred, crag.crag_extract_entities(j->>'text') x),
     want_r AS (SELECT (j->>'doc')::int AS doc, (r->'head'->>'start')::int AS hs, (r->'tail'->>'start')::int AS ts,
                       r->>'relation' AS rel, (r->>'score')::float8 AS sc FROM ex_pred, jsonb_array_elements(j->'relations') r),
     got_r AS (SELECT (j->>'doc')::int AS doc, x.head_start AS hs, x.tail_start AS ts, x.relation AS rel, x.score AS sc
                 FROM ex_pred, crag.crag_extract_relations(j->>'text') x)
SELECT (SELECT count(*) FROM want_e),
       (SELECT count(*) FROM ((SELECT doc, s, t, ty FROM want_e EXCEPT SELECT doc, s, t, ty FROM got_e)
                              UNION ALL (SELECT doc, s, t, ty FROM got_e EXCEPT SELECT doc, s, t, ty FROM want_e)) d),
       (SELECT coalesce(max(abs(w.sc - g.sc)), 0) FROM want_e w JOIN got_e g USING (doc, s, t, ty)),
       (SELECT count(*) FROM want_r),
       (SELECT count(*) FROM ((SELECT doc, hs, ts, rel FROM want_r EXCEPT SELECT doc, hs, ts, rel FROM got_r)
                              UNION ALL (SELECT doc, hs, ts, rel FROM got_r EXCEPT SELECT doc, hs, ts, rel FROM want_r)) d),
       (SELECT coalesce(max(abs(w.sc - g.sc)), 0) FROM want_r w JOIN got_r g USING (doc, hs, ts, rel))
SQL
)
read -r ne de se nr dr sr <<<"$result"
echo "extractor round trip: $ne entities ($de differ, max |Δscore| $se), $nr relations ($dr differ, max |Δscore| $sr)"
awk -v ne="$ne" -v de="$de" -v se="$se" -v nr="$nr" -v dr="$dr" -v sr="$sr" \
  'BEGIN { exit !(ne > 0 && de == 0 && se <= 1e-4 && dr == 0 && sr <= 1e-4) }' \
  || { echo "extractor round trip FAILED"; exit 1; }
echo "extractor round trip passed"
