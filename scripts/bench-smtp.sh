#!/usr/bin/env bash
# Benchmark: durable messages per second received over SMTP (STARTTLS, 50 KB each), over 1 and
# over 4 connections, on SQLite and on PostgreSQL. A message counts when Hygie answered 250 to
# its DATA, which it does only once the message is committed in the recipient's Inbox.
# Release build by default; BIN=target/debug/hygie SKIP_BUILD=1 measures another binary.
# MESSAGES=n per run (default 1000); ENGINES="sqlite" or "postgres" for one engine. After each
# run: how many messages still waited for the search index, and how long until all were in it.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
BIN="${BIN:-$ROOT/target/release/hygie}"
MESSAGES="${MESSAGES:-1000}"
ENGINES="${ENGINES:-sqlite postgres}"
if [ "${SKIP_BUILD:-}" != 1 ]; then
  ensure_rust_tools
  RUSTFLAGS="--cfg erase_components" cargo build --release -p server --bin hygie
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/hygie"
fi
[ -x "$BIN" ] || die "no binary at $BIN"

work="$(mktemp -d)"
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/liste-blanche.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<ListeBlanche xmlns="https://listeblanche.mssante.fr/schema">
  <Operateur><Domaine><Nom>labo.mssante.fr</Nom></Domaine></Operateur>
</ListeBlanche>
XML

cat >"$work/client.py" <<'PY'
"""C connections, each one STARTTLS session sending its share of N messages of 50 KB; prints
messages per second from the first MAIL to the last 250."""
import multiprocessing as mp, random, smtplib, ssl, sys, time

port, total, conns = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
run = sys.argv[4]
rcpts = ["camille.durand@hygie.localhost", "louis.martin@hygie.localhost", "nadia.benali@hygie.localhost"]
words = ("patient bilan résultats ordonnance consultation hospitalisation sortie compte-rendu radiologie "
         "biologie glycémie cardiologie rendez-vous urgence pansement traitement allergie vaccin").split()

def message(i):
    rnd = random.Random(i)
    lines, size = [], 0
    while size < 50_000:
        line = " ".join(rnd.choice(words) for _ in range(11))
        lines.append(line)
        size += len(line.encode()) + 2
    body = "\r\n".join(lines)
    head = (f"From: Laboratoire <resultats@labo.mssante.fr>\r\nTo: {rcpts[i % 3]}\r\n"
            f"Subject: Résultats {run} {i}\r\nMessage-ID: <{run}-{i}@labo.mssante.fr>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
    return (head + body + "\r\n").encode()

def worker(k, barrier, out):
    ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
    s = smtplib.SMTP("127.0.0.1", port, local_hostname="mx.labo.mssante.fr", timeout=120)
    # As MTAs do: no Nagle delay on the last small TLS record of a message.
    import socket; s.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.starttls(context=ctx); s.ehlo()
    mine = [message(i) for i in range(k, total, conns)]
    ids = list(range(k, total, conns))
    barrier.wait()
    ok = 0
    for i, m in zip(ids, mine):
        refused = s.sendmail("resultats@labo.mssante.fr", [rcpts[i % 3]], m)
        if not refused:
            ok += 1
    out.put((ok, time.monotonic()))
    s.quit()

if __name__ == "__main__":
    barrier = mp.Barrier(conns + 1)
    out = mp.Queue()
    ps = [mp.Process(target=worker, args=(k, barrier, out)) for k in range(conns)]
    for p in ps: p.start()
    barrier.wait()
    start = time.monotonic()
    results = [out.get() for _ in ps]
    for p in ps: p.join()
    ok = sum(r[0] for r in results)
    end = max(r[1] for r in results)
    print(f"{ok} {end - start:.3f} {ok / (end - start):.1f}")
PY

# One Hygie on ENGINE; prints "engine connections messages seconds per-second".
bench_engine() {
  local engine="$1" url data port name=""
  data="$work/$engine"
  mkdir -p "$data"
  case "$engine" in
    sqlite) url="sqlite:$data/hygie.db" ;;
    postgres)
      start_postgres >/dev/null
      name="hygie_bench_$RANDOM$RANDOM"
      psql "$HYGIE_TEST_POSTGRES_URL" -qc "CREATE DATABASE $name" >/dev/null
      url="$(python3 -c 'import sys; u=sys.argv[1]; b,q=(u.split("?",1)+[""])[:2]; print(b.rsplit("/",1)[0]+"/"+sys.argv[2]+("?"+q if q else ""))' "$HYGIE_TEST_POSTGRES_URL" "$name")"
      ;;
  esac
  port="$(free_port)"
  export HYGIE_DATA_DIR="$data" HYGIE_DATABASE_URL="$url" HYGIE_DEMO_ACCOUNTS=true HYGIE_LOG=warn
  export HYGIE_LISTEN="127.0.0.1:$(free_port)" HYGIE_HTTP_LISTEN="127.0.0.1:$(free_port)"
  export HYGIE_SMTP__LISTEN="127.0.0.1:$port" HYGIE_SMTP__MESSAGES_PER_PEER_PER_HOUR=100000000
  export HYGIE_SMTP__SUBMISSION_LISTEN="127.0.0.1:0" HYGIE_SMTP__SUBMISSIONS_LISTEN="127.0.0.1:0"
  export HYGIE_IMAP__ENABLED=false
  "$BIN" trust-space import "$work/liste-blanche.xml" >/dev/null
  "$BIN" serve >"$data/log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null && break
    sleep 0.1
  done
  # The demo accounts are made at start: wait for them.
  sleep 1
  local pending_sql="SELECT COUNT(*) FROM search_pending"
  pending() {
    case "$engine" in
      sqlite) python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])" "$data/hygie.db" "$pending_sql" ;;
      postgres) psql "$url" -tAc "$pending_sql" ;;
    esac
  }
  for conns in 1 4; do
    read -r ok secs rate < <(python3 "$work/client.py" "$port" "$MESSAGES" "$conns" "$engine-$conns")
    [ "$ok" = "$MESSAGES" ] || { cat "$data/log"; die "$engine, $conns connection(s): only $ok of $MESSAGES accepted"; }
    printf '%-9s %2s connection(s): %5s messages of 50 KB in %7s s = %7s durable messages/s\n' \
      "$engine" "$conns" "$ok" "$secs" "$rate"
    # The search index is built after the commit (mail::indexer): how long until every message
    # of the run is searchable.
    local waited=0 left
    left="$(pending)"
    local behind="$left"
    while [ "$left" != 0 ]; do sleep 0.2; waited=$((waited + 1)); left="$(pending)"; done
    printf '          search index: %s messages still queued at the last 250, all indexed %s.%s s later\n' \
      "$behind" "$((waited / 5))" "$((waited % 5 * 2))"
  done
  kill "$pid"; wait "$pid" 2>/dev/null; pid=""
  # Every message answered 250 is there, once.
  local stored sql="SELECT COUNT(*) FROM messages WHERE subject LIKE 'Résultats $engine-%'"
  case "$engine" in
    sqlite) stored="$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])" "$data/hygie.db" "$sql")" ;;
    postgres) stored="$(psql "$url" -tAc "$sql")" ;;
  esac
  [ "$stored" = "$((2 * MESSAGES))" ] || die "$engine: $stored messages stored, expected $((2 * MESSAGES))"
  echo "          every accepted message stored once ($stored)"
  if [ "$engine" = postgres ]; then psql "$HYGIE_TEST_POSTGRES_URL" -qc "DROP DATABASE $name" 2>/dev/null || true; fi
  unset HYGIE_DATABASE_URL
}

say "inbound SMTP: $MESSAGES messages of 50 KB per run, STARTTLS, one recipient each"
for engine in $ENGINES; do bench_engine "$engine"; done
