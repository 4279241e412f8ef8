#!/usr/bin/env bash
# Run the SQL regression suite (tests/pg_regress) with pg_regress against a temporary PostgreSQL instance it
# starts itself, using the CRAG build installed in the system PostgreSQL 15 (scripts/install.sh).
#   scripts/regress.sh            run and compare with tests/pg_regress/expected
#   scripts/regress.sh --accept   copy the results over the expected files (review the diff before committing)
set -euo pipefail
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-/usr/bin/pg_config}
ORT_LIB=${CRAG_ORT_LIB:-/usr/local/lib/crag/libonnxruntime.so}
pgxs=$(dirname "$("$PG_CONFIG" --pgxs)")/..
tests=(setup dti_serving registry errors permissions ort_library signals features ner relation extract)

work=$(mktemp -d /tmp/crag-regress.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -r tests/pg_regress/sql tests/pg_regress/expected "$work/"
printf "crag.onnxruntime_library = '%s'\n" "$ORT_LIB" > "$work/regress.conf"
chown -R postgres: "$work"
status=0
runuser -u postgres -- "$pgxs/test/regress/pg_regress" \
  --temp-instance="$work/instance" --temp-config="$work/regress.conf" \
  --bindir="$("$PG_CONFIG" --bindir)" --inputdir="$work" --outputdir="$work" \
  --dbname=crag_regress "${tests[@]}" || status=$?
if [ "${1:-}" = --accept ]; then
  cp "$work"/results/*.out tests/pg_regress/expected/
  echo "accepted results into tests/pg_regress/expected"
elif [ $status -ne 0 ]; then
  cat "$work/regression.diffs" 2>/dev/null || true
fi
exit $status
