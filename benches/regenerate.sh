#!/usr/bin/env bash
# Runs every bench, idle and then with BENCH_LOAD=1, and regenerates
# BENCHMARKS.md and BENCHMARKS.svg from the results.
#
#     BENCH_ROUNDS=7 benches/regenerate.sh [FILTER...]
#
# The benches are Cargo.toml's [[bench]] entries but `report`.  FILTERs, if
# any, select cases by substring as for one bench (for a quick look: the
# report then holds only those).  BENCH_ROUNDS is passed on (default 7).
# The raw results stay in $CARGO_TARGET_DIR (or target)/bench-results.tsv;
# `cargo bench --bench report -- FILE` redoes the report from them.
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t benches < <(awk '
  /^\[\[bench\]\]/ { in_bench = 1; next }
  /^\[/            { in_bench = 0 }
  in_bench && /^name *=/ { gsub(/^name *= *"|".*$/, ""); print }
' Cargo.toml | grep -vx report)
if ((${#benches[@]} == 0)); then
  echo "regenerate.sh: no [[bench]] entries in Cargo.toml" >&2
  exit 1
fi
bench_args=()
for b in "${benches[@]}"; do bench_args+=(--bench "$b"); done

target=${CARGO_TARGET_DIR:-target}
mkdir -p "$target"
results=$(cd "$target" && pwd)/bench-results.tsv
rm -f "$results"

echo "benches: ${benches[*]}; ${BENCH_ROUNDS:-7} rounds per case" >&2
cargo build --release
# A bench that fails stops its own remaining cases, not the other benches;
# the report is made all the same, and then the failure is the exit status.
failed=0
for load in 0 1; do
  BENCH_LOAD=$load BENCH_RESULTS=$results cargo bench --no-fail-fast "${bench_args[@]}" -- "$@" || failed=1
done
cargo bench --bench report -- "$results"
if ((failed)); then
  echo "regenerate.sh: a bench failed (see above); the report lacks its remaining cases" >&2
  exit 1
fi
