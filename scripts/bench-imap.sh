#!/usr/bin/env bash
# Benchmark: IMAP on a 10,000-message mailbox (imported with `hygie mail import`), with a token
# from the OAuth device grant approved in a web session, as a mail client would get it. Reports
# the time of `FETCH 1:* (FLAGS ENVELOPE)` (a client's first synchronisation of the headers),
# `UID FETCH` of the newest 50, `UID SEARCH` (flags, date, and words through the full-text
# index), and SELECT: median and worst of 5 runs each, over TLS from Python's imaplib.
# Release build by default; BIN=… SKIP_BUILD=1 to measure another binary; MESSAGES=n.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
BIN="${BIN:-$ROOT/target/release/hygie}"
MESSAGES="${MESSAGES:-10000}"
if [ "${SKIP_BUILD:-}" != 1 ]; then ensure_rust_tools; ensure_node_modules; cargo leptos build --release; fi

dir="$(mktemp -d)"
port="$(free_port)"
imap_port="$(free_port)"
export HYGIE_DATA_DIR="$dir/data" HYGIE_LISTEN="127.0.0.1:$port" HYGIE_HTTP_LISTEN="127.0.0.1:$(free_port)"
export HYGIE_SMTP__LISTEN="127.0.0.1:$(free_port)"
export HYGIE_SMTP__SUBMISSION_LISTEN="127.0.0.1:0" HYGIE_SMTP__SUBMISSIONS_LISTEN="127.0.0.1:0"
export HYGIE_IMAP__TLS_LISTEN="127.0.0.1:$imap_port" HYGIE_IMAP__STARTTLS_LISTEN="127.0.0.1:$(free_port)"
export HYGIE_DEMO_ACCOUNTS=true LEPTOS_SITE_ROOT="$ROOT/target/site" HYGIE_LOG=warn
"$BIN" serve >"$dir/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do curl -skf "https://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

say "generating and importing an mbox of $MESSAGES messages"
python3 "$ROOT/scripts/bench_mbox.py" "$dir/box.mbox" "$MESSAGES"
"$BIN" mail import --account camille.durand@hygie.localhost "$dir/box.mbox" >/dev/null

say "a token from the device grant, approved in a web session"
demo_sign_in "$port" "$dir/jar"
client_id=$("$BIN" oauth add-client "Banc d'essai IMAP")
json() { python3 -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }
device=$(curl -sk -d "client_id=$client_id" -d scope=mail "https://127.0.0.1:$port/oauth/device_authorization")
user_code=$(json user_code <<<"$device")
api device-request "code=$user_code" >/dev/null
api device-decide "code=$user_code&approve=true" >/dev/null
token=$(curl -sk -d "client_id=$client_id" -d "device_code=$(json device_code <<<"$device")" \
  -d grant_type=urn:ietf:params:oauth:grant-type:device_code "https://127.0.0.1:$port/oauth/token" | json access_token)

say "IMAP timings ($MESSAGES messages, median and worst of 5)"
python3 - "$imap_port" "$token" <<'PY'
import imaplib, re, ssl, statistics, sys, time
port, token = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx)
m.authenticate("XOAUTH2", lambda _: f"user=camille.durand@hygie.localhost\x01auth=Bearer {token}\x01\x01".encode())

FETCHED = re.compile(rb"\d+ \(")

def timed(label, call, check):
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        typ, data = call()
        runs.append(time.perf_counter() - start)
        assert typ == "OK", (label, typ, data)
    print(f"{label:<44} median {statistics.median(runs) * 1000:8.1f} ms   worst {max(runs) * 1000:8.1f} ms   {check(data)}")

timed("SELECT INBOX", lambda: m.select("INBOX"), lambda d: f"{int(d[0])} messages")
typ, data = m.uid("SEARCH", None, "ALL")
uids = data[0].split()
newest = b",".join(uids[-50:]).decode()
timed("FETCH 1:* (FLAGS ENVELOPE)", lambda: m.fetch("1:*", "(FLAGS ENVELOPE)"),
      lambda d: f"{sum(1 for x in d if FETCHED.match(x[0] if isinstance(x, tuple) else x))} messages")
timed("UID FETCH newest 50 (FLAGS ENVELOPE)", lambda: m.uid("FETCH", newest, "(FLAGS ENVELOPE)"), lambda d: "")
timed("UID FETCH 1 message BODY.PEEK[]", lambda: m.uid("FETCH", uids[-1].decode(), "(BODY.PEEK[])"), lambda d: "")
timed("UID SEARCH ALL", lambda: m.uid("SEARCH", None, "ALL"), lambda d: f"{len(d[0].split())} uids")
timed("UID SEARCH UNSEEN", lambda: m.uid("SEARCH", None, "UNSEEN"), lambda d: f"{len(d[0].split())} uids")
timed("UID SEARCH SINCE 20-Oct-2026", lambda: m.uid("SEARCH", None, "SINCE", "20-Oct-2026"), lambda d: f"{len(d[0].split())} uids")
# Through the webmail's search: its first 200 results (the limit issue 17 lifts).
timed("UID SEARCH TEXT bilan (full-text index)", lambda: m.uid("SEARCH", None, "TEXT", "bilan"),
      lambda d: f"{len(d[0].split())} uids")
m.logout()
PY
ps -o rss= -p "$pid" | awk '{printf "server RSS after the run: %.0f MiB\n", $1 / 1024}'
