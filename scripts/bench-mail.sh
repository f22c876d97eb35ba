#!/usr/bin/env bash
# Benchmark: a 10,000-message mailbox imported with `hygie mail import`, then the latency of
# the list page, opening a message and searching, through the real server functions (p50/p99
# over 100 requests each). Release build by default; BIN=target/debug/hygie SKIP_BUILD=1 to
# measure another binary. MESSAGES=n changes the mailbox size. NEIGHBOURS=1 or 2 imports the same
# mailbox into one or two other accounts too, as on an instance shared by many holders.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
BIN="${BIN:-$ROOT/target/release/hygie}"
MESSAGES="${MESSAGES:-10000}"
if [ "${SKIP_BUILD:-}" != 1 ]; then ensure_rust_tools; ensure_node_modules; cargo leptos build --release; fi

dir="$(mktemp -d)"
port="$(free_port)"
export HYGIE_DATA_DIR="$dir/data" HYGIE_LISTEN="127.0.0.1:$port" HYGIE_HTTP_LISTEN="127.0.0.1:$(free_port)"
export HYGIE_SMTP__LISTEN="127.0.0.1:$(free_port)"
export HYGIE_SMTP__SUBMISSION_LISTEN="127.0.0.1:0" HYGIE_SMTP__SUBMISSIONS_LISTEN="127.0.0.1:0"
export HYGIE_IMAP__ENABLED=false
export HYGIE_DEMO_ACCOUNTS=true LEPTOS_SITE_ROOT="$ROOT/target/site"
"$BIN" serve >"$dir/log" 2>&1 &
pid=$!
# KEEP_DIR=1 keeps the database (and the mbox) for a closer look afterwards.
trap 'kill $pid 2>/dev/null; if [ "${KEEP_DIR:-}" = 1 ]; then echo "kept: $dir"; else rm -rf "$dir"; fi' EXIT
for _ in $(seq 1 100); do curl -skf "https://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

say "generating an mbox of $MESSAGES messages"
python3 "$ROOT/scripts/bench_mbox.py" "$dir/box.mbox" "$MESSAGES"

say "importing"
start=$(date +%s.%N)
"$BIN" mail import --account camille.durand@hygie.localhost "$dir/box.mbox"
python3 -c "import sys; print(f'import of {sys.argv[1]} messages: {float(sys.argv[3]) - float(sys.argv[2]):.1f} s')" \
  "$MESSAGES" "$start" "$(date +%s.%N)"

neighbours=(louis.martin nadia.benali)
for n in $(seq 1 "${NEIGHBOURS:-0}"); do
  say "importing the same mailbox for ${neighbours[$((n - 1))]}"
  "$BIN" mail import --account "${neighbours[$((n - 1))]}@hygie.localhost" "$dir/box.mbox" >/dev/null
done

jar="$dir/jar"
demo_sign_in "$port" "$jar"

measure() {
  local label="$1" endpoint="$2" body="$3"
  for _ in $(seq 1 100); do
    curl -sk -b "$jar" -o /dev/null -w '%{time_total}\n' -H "Origin: https://127.0.0.1:$port" \
      -H 'Accept: application/json' -H 'Content-Type: application/x-www-form-urlencoded' \
      --data "$body" "https://127.0.0.1:$port/api/$endpoint"
  done | sort -n | awk -v l="$label" '{a[NR]=$1} END {printf "%-34s p50 %6.1f ms  p99 %6.1f ms\n", l, a[int(NR*0.5)]*1000, a[int(NR*0.99)]*1000}'
}
measure_get() {
  local label="$1" url="$2"
  for _ in $(seq 1 100); do
    curl -sk -b "$jar" -o /dev/null -w '%{time_total}\n' "https://127.0.0.1:$port$url"
  done | sort -n | awk -v l="$label" '{a[NR]=$1} END {printf "%-34s p50 %6.1f ms  p99 %6.1f ms\n", l, a[int(NR*0.5)]*1000, a[int(NR*0.99)]*1000}'
}
ids=$(api mail-list 'folder=inbox&page=0' | python3 -c 'import json,sys; i=json.load(sys.stdin)["items"]; print(i[0]["id"], i[1]["id"])')
pdf=${ids% *}
first=${ids#* }
measure "list, conversations, first page" mail-list 'folder=inbox&page=0'
measure "list, conversations, page 40 (deep)" mail-list 'folder=inbox&page=40'
api mail-set-folding 'fold=false' >/dev/null
measure "list, messages, first page (50)" mail-list 'folder=inbox&page=0'
measure "list, messages, page 100 (deep)" mail-list 'folder=inbox&page=100'
api mail-set-folding 'fold=true' >/dev/null
measure "folders with counts" mail-folders ""
measure "open a message" mail-open "id=$first"
measure "search one word" mail-search 'q=glyc%C3%A9mie'
measure "search two words + operator" mail-search 'q=bilan+radiologie+de%3Amartin'
measure "quota in use (sum of sizes)" mail-usage ""
measure "newest message (live poll)" mail-newest ""
measure "PDF preview: count the pages" mail-pdf-preview "id=$pdf&index=0"
measure_get "PDF preview: a page, 600 px" "/messagerie/pj/$pdf/0/apercu/1?largeur=600"
measure_get "PDF preview: a page, 1200 px" "/messagerie/pj/$pdf/0/apercu/2?largeur=1200"
