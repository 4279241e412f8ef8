#!/usr/bin/env bash
# Backend memory of the default models: for each model and each crag.dequantize_once setting, a fresh backend's
# resident set (VmRSS, kB) before any CRAG call, after the first call (ONNX Runtime loaded, the model read from its
# table, the session built) and its peak (VmHWM). Needs scripts/install.sh (cluster 15/main running). Results go to
# BENCHMARKS.md by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
db=crag_bench
runuser -u postgres -- dropdb --if-exists "$db"
runuser -u postgres -- createdb "$db"
runuser -u postgres -- psql -qX -d "$db" -c "CREATE EXTENSION IF NOT EXISTS crag" \
  -c "SELECT count(*) FROM crag.import_default_models()" >/dev/null

# The first call of each model (small inputs: the cost measured is the model's, not the input's).
declare -A call=(
  [dti]="SELECT crag.crag_dti(ARRAY(SELECT (i % 7 = 0)::int::real FROM generate_series(1, 2048) i), ARRAY(SELECT (i % 10 / 100.0)::real FROM generate_series(1, 420) i))"
  [ner]="SELECT count(*) FROM crag.crag_extract_relations('Lithium-induced renal failure in a patient with bipolar disorder.')"
  [relation]="SELECT crag.crag_score('Intravenous [DRUG]azithromycin[/DRUG]-induced ototoxicity.', 'Intravenous azithromycin-induced [ADR]ototoxicity[/ADR].')"
)
kb() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$2/status"; }
printf '%-9s %-16s %12s %12s %12s %12s\n' model dequantize_once rss_before rss_after growth peak_hwm
for model in dti ner relation; do
  for dq in off on; do
    fifo=$(mktemp -u)
    mkfifo "$fifo"
    chmod a+rw "$fifo"
    # One backend kept open: its pid first, then the call when told.
    runuser -u postgres -- env PGOPTIONS="-c crag.dequantize_once=$dq" psql -qAtX -d "$db" < "$fifo" > "$fifo.out" &
    exec 3> "$fifo"
    echo "SELECT pg_backend_pid();" >&3
    for _ in $(seq 50); do [ -s "$fifo.out" ] && break; sleep 0.1; done
    pid=$(head -1 "$fifo.out")
    before=$(kb VmRSS "$pid")
    echo "${call[$model]};" >&3
    echo "SELECT 'done';" >&3
    for _ in $(seq 600); do grep -q '^done$' "$fifo.out" && break; sleep 0.1; done
    after=$(kb VmRSS "$pid")
    peak=$(kb VmHWM "$pid")
    exec 3>&-
    wait
    rm -f "$fifo" "$fifo.out"
    printf '%-9s %-16s %12s %12s %12s %12s\n' "$model" "$dq" "$before" "$after" "$((after - before))" "$peak"
  done
done
