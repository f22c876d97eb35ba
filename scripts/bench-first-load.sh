#!/usr/bin/env bash
# Benchmark: bytes on the wire (gzip) for a first visit of the home page, release build:
# the HTML, then every asset it loads (JS, WebAssembly, CSS, favicon).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_rust_tools
ensure_node_modules
[ "${SKIP_BUILD:-}" = 1 ] || cargo leptos build --release

dir="$(mktemp -d)"
port="$(free_port)"
HYGIE_DATA_DIR="$dir/data" HYGIE_LISTEN="127.0.0.1:$port" HYGIE_HTTP_LISTEN="127.0.0.1:$(free_port)" \
  HYGIE_SMTP__LISTEN="127.0.0.1:$(free_port)" \
  HYGIE_SMTP__SUBMISSION_LISTEN="127.0.0.1:0" HYGIE_SMTP__SUBMISSIONS_LISTEN="127.0.0.1:0" \
  HYGIE_IMAP__ENABLED=false \
  LEPTOS_SITE_ROOT="$ROOT/target/site" "$ROOT/target/release/hygie" serve >"$dir/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do curl -skf "https://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

total=0
fetch() {
  local bytes raw
  bytes=$(curl -sk -H 'Accept-Encoding: gzip' -o /dev/null -w '%{size_download}' "https://127.0.0.1:$port$1")
  raw=$(curl -sk -o /dev/null -w '%{size_download}' "https://127.0.0.1:$port$1")
  printf '%-24s %9d bytes gzip  (%9d raw)\n' "$1" "$bytes" "$raw"
  total=$((total + bytes))
}
fetch /
for asset in /pkg/hygie.js /pkg/hygie.wasm /pkg/hygie.css /favicon.ico; do fetch "$asset"; done
printf '%-24s %9d bytes gzip\n' "first page load" "$total"
