#!/usr/bin/env bash
# The end-to-end tests alone, in Debian's Chromium, against a Hygie built by `cargo leptos build`.
# scripts/test.sh runs it; a developer may run one file: `bash scripts/e2e.sh receipts`.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

say "end-to-end tests in Chromium"
e2e_dir="$(mktemp -d)"
https_port="$(free_port)"
http_port="$(free_port)"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$e2e_dir"
}
trap cleanup EXIT
export HYGIE_DATA_DIR="$e2e_dir/data"
export HYGIE_LISTEN="127.0.0.1:$https_port"
export HYGIE_HTTP_LISTEN="127.0.0.1:$http_port"
export HYGIE_SMTP__LISTEN="127.0.0.1:$(free_port)"
# Submission on free ports too (a Hygie of the README command may be running).
export HYGIE_SMTP__SUBMISSION_LISTEN="127.0.0.1:0" HYGIE_SMTP__SUBMISSIONS_LISTEN="127.0.0.1:0"
export HYGIE_IMAP__TLS_LISTEN="127.0.0.1:$(free_port)" HYGIE_IMAP__STARTTLS_LISTEN="127.0.0.1:$(free_port)"
export HYGIE_SUPPORT__CONTACT_PER_HOUR=100
# The phone test runs its own push service on this machine, over plain HTTP.
export HYGIE_SESSION__PUSH_TO_LOOPBACK=true
export HYGIE_DEMO_ACCOUNTS=true
export LEPTOS_SITE_ROOT="$ROOT/target/site"
"$ROOT/target/debug/hygie" serve >"$e2e_dir/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  curl -skf "https://127.0.0.1:$https_port/healthz" >/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$e2e_dir/server.log"; die "Hygie did not start"; }
  sleep 0.2
done
curl -skf "https://127.0.0.1:$https_port/healthz" >/dev/null || { cat "$e2e_dir/server.log"; die "Hygie did not answer"; }

# localhost, not 127.0.0.1: passkeys (WebAuthn) need a domain name, the host of the public address.
export HYGIE_E2E_URL="https://localhost:$https_port"
export HYGIE_E2E_OUTBOX="$HYGIE_DATA_DIR/outbox"
export HYGIE_E2E_BIN="$ROOT/target/debug/hygie"
if ! (cd end2end && npx playwright test "$@"); then
  echo "--- server log: panics ---"
  grep -A4 "panicked" "$e2e_dir/server.log" | head -n 60
  echo "--- server log: end ---"
  tail -n 30 "$e2e_dir/server.log"
  die "end-to-end tests failed"
fi

say "audit trail after the end-to-end run"
"$ROOT/target/debug/hygie" audit verify
