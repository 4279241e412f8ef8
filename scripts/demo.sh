#!/usr/bin/env bash
# The README's first command: set up a fresh Debian 12 machine (as root), build and install CRAG into
# PostgreSQL 15, load the default models and run the demo queries.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-deps.sh
bash scripts/install.sh
db=crag_demo
# A fresh demo database each run, so the demo always shows the extension version just installed.
runuser -u postgres -- dropdb --if-exists "$db"
runuser -u postgres -- createdb "$db"
# The demo's literature table comes from the shared corpora (never copied into the repository).
DATA=${CRAG_SHARED_DATA:-$(cd .. && pwd)/shared/data}
pairs="$DATA/dti_drugban/human/random/test.csv"
names="$DATA/sider_4_1/sider_drug_smiles.tsv"
ade="$DATA/ade_corpus_v2/DRUG-AE.rel"
if [ ! -f "$pairs" ] || [ ! -f "$names" ] || [ ! -f "$ade" ]; then
  echo "demo data not found under $DATA (set CRAG_SHARED_DATA)" >&2; exit 1
fi
psql_db() { runuser -u postgres -- psql -qX -v ON_ERROR_STOP=1 -d "$db" "$@"; }
psql_db -c "DROP TABLE IF EXISTS demo_dti_pairs, sider_drugs, ade_sentences" \
        -c "CREATE TABLE ade_sentences (pmid text, sentence text, adr text, drug text)" \
        -c "CREATE TABLE demo_dti_pairs (smiles text, protein text, y float8)" \
        -c "CREATE TABLE sider_drugs (stitch_id text, pubchem_cid int, drug_name text, smiles text, inchikey text)"
psql_db -c "COPY demo_dti_pairs FROM STDIN WITH (FORMAT csv, HEADER true)" < "$pairs"
psql_db -c "COPY sider_drugs FROM STDIN WITH (FORMAT csv, HEADER true, DELIMITER E'\t', QUOTE E'\b')" < "$names"
# ADE Corpus V2 annotated sentences: PMID|sentence|effect|from|to|drug|from|to -> (pmid, sentence, adr, drug).
cut -d'|' -f1,2,3,6 "$ade" | psql_db -c "COPY ade_sentences FROM STDIN WITH (FORMAT csv, DELIMITER '|', QUOTE E'\b')"
runuser -u postgres -- psql -X -d "$db" < scripts/demo.sql

echo '== first call in a fresh backend (loads the model from crag.models), then a warm call =='
runuser -u postgres -- psql -X -d "$db" <<'SQL'
\timing on
SELECT round(crag.crag_dti(crag.crag_drug_features('CC(=O)Oc1ccccc1C(=O)O'),
                           crag.crag_protein_features('MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQ'))::numeric, 4) AS p_bind_first_call;
SELECT round(crag.crag_dti(crag.crag_drug_features('CC(=O)Oc1ccccc1C(=O)O'),
                           crag.crag_protein_features('MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQ'))::numeric, 4) AS p_bind_warm_call;
SQL
