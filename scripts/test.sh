#!/usr/bin/env bash
# Installs what is missing, then runs every test: unit, store (SQLite and PostgreSQL), API (real
# server, real SMTP server) and end-to-end in Debian's Chromium.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
started=$(date +%s)
# CI builds once from scratch: the incremental cache would only take disk space.
if [ "${CI:-}" = true ]; then export CARGO_INCREMENTAL=0; fi
report_disk

ensure_apt chromium postgresql python3-aiosmtpd python3-venv ca-certificates swaks postfix dnsmasq-base curl
ensure_rust_tools
ensure_node_modules
ensure_schemathesis
start_postgres
export HYGIE_TEST_PYTHON=/usr/bin/python3
/usr/bin/python3 -c 'import aiosmtpd' || die "python3-aiosmtpd is not importable by /usr/bin/python3"

say "building Hygie (cargo leptos build)"
cargo leptos build

say "unit, store and API tests"
# The same cfg as cargo-leptos's debug build, so the tests reuse its compiled dependencies.
RUSTFLAGS="--cfg erase_components" cargo test --workspace --exclude frontend

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
(cd end2end && npx playwright test) || { echo "--- server log ---"; tail -n 50 "$e2e_dir/server.log"; die "end-to-end tests failed"; }

say "audit trail after the end-to-end run"
"$ROOT/target/debug/hygie" audit verify

report_disk
say "all tests passed in $(( $(date +%s) - started )) s"
