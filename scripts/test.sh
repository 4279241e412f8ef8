#!/usr/bin/env bash
# The README's test command: every check CI runs, in order. Run as root on Debian 12; it installs what it needs
# (scripts/setup-deps.sh) and starts its own PostgreSQL instances (no running server needed).
set -euo pipefail
cd "$(dirname "$0")/.."
export ORT_DYLIB_PATH=${ORT_DYLIB_PATH:-/usr/local/lib/crag/libonnxruntime.so}
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
start=$(date +%s)

step "dependencies"
bash scripts/setup-deps.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "crag-core and crag-train tests"
cargo test -p crag-core -p crag-train

step "pgrx tests (#[pg_test], temporary cluster run as postgres)"
cargo pgrx test pg15 --runas postgres --pgdata /tmp/crag-pgdata

step "install the release build into PostgreSQL 15"
CRAG_NO_CLUSTER=1 bash scripts/install.sh

step "SQL regression tests (pg_regress, temporary instance)"
bash scripts/regress.sh

step "trainer round trip (train tiny -> publish -> crag_dti equals the trainer)"
bash scripts/roundtrip.sh

step "all checks passed in $(( $(date +%s) - start )) s"
