#!/usr/bin/env bash
# Benchmark: import of a generated national extract (542,000 lines by default, 1% malformed)
# with `hygie directory import` (wall time, peak memory), a re-import, then search latencies
# (p50/p99) against the database. Release build by default; BIN=target/debug/hygie SKIP_BUILD=1
# to measure another binary; LINES=n changes the size; HYGIE_DATABASE_URL=postgres://… to
# measure PostgreSQL (a fresh database is expected).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
BIN="${BIN:-$ROOT/target/release/hygie}"
LINES="${LINES:-542000}"
if [ "${SKIP_BUILD:-}" != 1 ]; then ensure_rust_tools; ensure_node_modules; cargo leptos build --release; fi

dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
export HYGIE_DATA_DIR="$dir/data"
"$BIN" directory sample --lines "$LINES" --malformed-every 100 "$dir/extract.txt"
ls -l "$dir/extract.txt" | awk '{printf "extract: %.1f MB\n", $5 / 1e6}'

for run in first second; do
  say "import ($run)"
  /usr/bin/time -f "$run import: %e s wall, %M KiB peak memory" "$BIN" directory import "$dir/extract.txt" \
    > "$dir/import.out" 2> "$dir/time.out" || { cat "$dir/import.out" "$dir/time.out"; die "import failed"; }
  tail -n 2 "$dir/import.out"
  grep -c '^line ' "$dir/import.out" | xargs printf 'malformed lines listed: %s\n'
  tail -n 1 "$dir/time.out"
done

say "search latencies"
"$BIN" directory bench --queries "${QUERIES:-1000}"
