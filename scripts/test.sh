#!/usr/bin/env bash
# Installs what is missing, then runs every test: unit, store (SQLite and PostgreSQL), API (real
# server, real SMTP server) and end-to-end in Debian's Chromium.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
started=$(date +%s)
# CI builds once from scratch: the incremental cache would only take disk space.
if [ "${CI:-}" = true ]; then export CARGO_INCREMENTAL=0; fi
report_disk

ensure_apt chromium postgresql python3-aiosmtpd python3-venv ca-certificates swaks postfix dnsmasq-base curl \
    isync libsasl2-modules-kdexoauth2
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

bash "$ROOT/scripts/e2e.sh" || die "end-to-end tests failed"


report_disk
say "all tests passed in $(( $(date +%s) - started )) s"
