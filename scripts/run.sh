#!/usr/bin/env bash
# Installs what is missing, builds Hygie (release) and serves it on its embedded defaults:
# SQLite in ./data, a self-signed certificate for localhost, mail and SMS to ./data/outbox.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_rust_tools
ensure_node_modules

say "building Hygie (release)"
cargo leptos build --release

say "Hygie: https://localhost:8443  (self-signed certificate: accept the browser's warning)"
say "outgoing mail and SMS: target/release/hygie outbox list | show ID"
say "demonstration accounts (created in an empty database): see README, « Running on the embedded defaults »"
export LEPTOS_SITE_ROOT="$ROOT/target/site"
export HYGIE_DEMO_ACCOUNTS="${HYGIE_DEMO_ACCOUNTS:-true}"
# A generated national extract, so that the directory has correspondents to find (demo only).
if [ "$HYGIE_DEMO_ACCOUNTS" = true ] && "$ROOT/target/release/hygie" directory status | grep -q 'none imported'; then
  say "importing a generated directory extract (5,000 fictitious correspondents)"
  sample="$(mktemp)"
  "$ROOT/target/release/hygie" directory sample --lines 5000 --malformed-every 0 "$sample" >/dev/null
  "$ROOT/target/release/hygie" directory import "$sample" | tail -n 2
  rm -f "$sample"
fi
exec "$ROOT/target/release/hygie" serve
