#!/usr/bin/env bash
# Build CRAG in release mode, install it into the system PostgreSQL 15 with its default models, and make sure the
# Debian cluster 15/main runs with crag.onnxruntime_library set. Run as root after scripts/setup-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-/usr/bin/pg_config}
ORT_LIB=${CRAG_ORT_LIB:-/usr/local/lib/crag/libonnxruntime.so}
log() { printf '\033[1m[install]\033[0m %s\n' "$*"; }

log "cargo pgrx install --release"
cargo pgrx install --release --pg-config "$PG_CONFIG" >/dev/null

share="$("$PG_CONFIG" --sharedir)/extension/crag_models"
log "default models -> $share"
rm -rf "$share"
mkdir -p "$share"
cp -r models/. "$share/"
chmod -R a+rX "$share"

if [ "${CRAG_NO_CLUSTER:-0}" != 1 ]; then
  pg_lsclusters -h 2>/dev/null | grep -q '^15 *main' || pg_createcluster 15 main >/dev/null
  pg_ctlcluster 15 main status >/dev/null 2>&1 || pg_ctlcluster 15 main start
  runuser -u postgres -- psql -qX -v ON_ERROR_STOP=1 \
    -c "LOAD 'crag'" -c "ALTER SYSTEM SET crag.onnxruntime_library = '$ORT_LIB'" -c "SELECT pg_reload_conf()" >/dev/null
  log "cluster 15/main running; crag.onnxruntime_library = $ORT_LIB"
fi
