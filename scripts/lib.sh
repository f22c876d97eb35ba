# Shared by scripts/run.sh and scripts/test.sh: install what is missing, loudly.
# Versions are pinned where the offline build recipe needs them (see ../shared/BUILD-NOTES.md).

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CARGO_LEPTOS_VERSION="0.3.10"
WASM_BINDGEN_VERSION="0.2.130"

say() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# report_disk: says how much room the build has; a full disk kills the linker with SIGBUS, which
# otherwise reads like a toolchain bug.
report_disk() {
  local avail_kb
  avail_kb=$(df -Pk "$ROOT" | awk 'NR==2 {print $4}')
  say "free disk space next to the build: $(( avail_kb / 1024 / 1024 )) GiB ($(du -sh "$ROOT/target" 2>/dev/null | cut -f1 || echo 0) in target/)"
  if [ "$avail_kb" -lt $(( 6 * 1024 * 1024 )) ]; then
    printf '\033[1;33mwarning:\033[0m less than 6 GiB free; a clean build and test run fills about 3 GiB in target/\n' >&2
  fi
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root (or sudo) to run: $*"
  fi
}

# ensure_apt PKG...: installs the Debian packages that are not installed yet.
ensure_apt() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
  fi
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || die "Debian package $p could not be installed"
  done
}

ensure_rust_tools() {
  command -v cargo >/dev/null || die "cargo is missing: install Rust (rustup) first"
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  if ! wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION\$"; then
    say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 2 minutes)"
    # Not --locked: its lockfile wants a webpki-roots version the registry lacks.
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
  fi
  if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
    say "installing cargo-leptos $CARGO_LEPTOS_VERSION (12 to 25 minutes on a fresh machine)"
    cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads --force
  fi
  wasm-bindgen --version | grep -q " $WASM_BINDGEN_VERSION\$" || die "wasm-bindgen $WASM_BINDGEN_VERSION is not on PATH"
  cargo leptos --version | grep -q "$CARGO_LEPTOS_VERSION" || die "cargo-leptos $CARGO_LEPTOS_VERSION is not on PATH"
}

# Node packages of end2end/: Playwright, axe-core, and binaryen's wasm-opt for release builds.
ensure_node_modules() {
  command -v npm >/dev/null || ensure_apt nodejs npm
  if [ ! -d "$ROOT/end2end/node_modules" ] || [ "$ROOT/end2end/package-lock.json" -nt "$ROOT/end2end/node_modules/.package-lock.json" ]; then
    say "installing end2end/ Node packages"
    (cd "$ROOT/end2end" && npm ci --no-audit --no-fund)
  fi
  export PATH="$ROOT/end2end/node_modules/.bin:$PATH"
  command -v wasm-opt >/dev/null || die "wasm-opt (npm binaryen) is missing from end2end/node_modules"
}

# schemathesis (PyPI), the property-based API tester the server suite runs against the Web
# Services API's OpenAPI document, in its own venv: target/venv/bin/schemathesis.
ensure_schemathesis() {
  ensure_apt python3-venv
  if ! "$ROOT/target/venv/bin/schemathesis" --version 2>/dev/null | grep -q "version 4\."; then
    say "installing schemathesis into target/venv"
    python3 -m venv "$ROOT/target/venv"
    "$ROOT/target/venv/bin/pip" install -q "schemathesis>=4.32,<5"
  fi
  export HYGIE_TEST_SCHEMATHESIS="$ROOT/target/venv/bin/schemathesis"
}

# Starts the local PostgreSQL cluster and exports HYGIE_TEST_POSTGRES_URL for the store tests.
start_postgres() {
  ensure_apt postgresql
  local version
  version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)"
  [ -n "$version" ] || die "no PostgreSQL cluster found under /etc/postgresql"
  if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" && $4 == "online"' | grep -q .; then
    say "starting PostgreSQL $version"
    as_root pg_ctlcluster "$version" main start
  fi
  for _ in $(seq 1 50); do
    pg_isready -q -h /var/run/postgresql && break
    sleep 0.2
  done
  pg_isready -q -h /var/run/postgresql || die "PostgreSQL did not start"
  local me
  me="$(id -un)"
  if ! as_root su postgres -c "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname = '$me'\"" | grep -q 1; then
    as_root su postgres -c "psql -q -c 'CREATE ROLE \"$me\" SUPERUSER LOGIN'"
  fi
  export HYGIE_TEST_POSTGRES_URL="postgres://$me@localhost/postgres?host=/var/run/postgresql"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Benchmarks: signs the demonstration account camille.durand in on the Hygie at
# https://127.0.0.1:$1 with the cookie jar $2 (the SMS code read from $HYGIE_DATA_DIR/outbox) and
# accepts the terms; `api ENDPOINT BODY` then calls a server function in that session.
demo_sign_in() {
  BENCH_PORT="$1" BENCH_JAR="$2"
  api sign-in 'address=camille.durand%40hygie.localhost&password=rendez-vous+du+mardi&prefer_email=false' >/dev/null
  local code="" f
  for _ in $(seq 1 50); do
    f=$( (grep -l 'Category: auth.code' "$HYGIE_DATA_DIR"/outbox/*-sms.txt 2>/dev/null || true) | tail -n 1)
    if [ -n "$f" ]; then code=$(sed -n '/^$/,$p' "$f" | grep -oE '\b[0-9]{6}\b' | head -n 1 || true); fi
    [ -n "$code" ] && break
    sleep 0.1
  done
  [ -n "$code" ] || die "no sign-in code in the outbox"
  api sign-in-code "code=$code" >/dev/null
  api accept-terms 'version=1.1' >/dev/null
}
api() {
  curl -sk -b "$BENCH_JAR" -c "$BENCH_JAR" -H "Origin: https://127.0.0.1:$BENCH_PORT" -H 'Accept: application/json' \
    -H 'Content-Type: application/x-www-form-urlencoded' --data "$2" "https://127.0.0.1:$BENCH_PORT/api/$1"
}
