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
python3 - "$dir/box.mbox" "$MESSAGES" <<'PY'
import random, sys
random.seed(7)
words = ("patient bilan résultats ordonnance consultation hospitalisation sortie compte-rendu radiologie "
         "biologie glycémie cardiologie rendez-vous urgence pansement traitement allergie vaccin").split()
names = ["Durand", "Martin", "Bernard", "Petit", "Robert", "Richard", "Dubois", "Moreau", "Lefèvre", "Garnier"]
with open(sys.argv[1], "w", encoding="utf-8") as f:
    for i in range(int(sys.argv[2])):
        who = random.choice(names)
        subject = " ".join(random.choice(words) for _ in range(4)).capitalize()
        body = "\n".join(" ".join(random.choice(words) for _ in range(12)) for _ in range(8))
        day = 1 + i % 28
        f.write(f"From dr.{who.lower()}@labo.mssante.fr Mon Nov  2 10:00:00 2026\n")
        f.write(f"From: Dr {who} <dr.{who.lower()}@labo.mssante.fr>\nTo: camille.durand@hygie.localhost\n")
        f.write(f"Subject: {subject} {i}\nDate: {day:02d} Oct 2026 {i % 24:02d}:{i % 60:02d}:00 +0200\n")
        # Conversations of four: each message answers the previous one of its conversation.
        refs = [f"<bench{j}@labo.mssante.fr>" for j in range(i - i % 4, i)]
        if refs:
            f.write(f"In-Reply-To: {refs[-1]}\nReferences: {' '.join(refs)}\n")
        f.write(f"Message-ID: <bench{i}@labo.mssante.fr>\nContent-Type: text/plain; charset=utf-8\n\n{body}\n\n")
    # The newest message carries a three-page PDF, for the preview.
    objs = ["<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [4 0 R 6 0 R 8 0 R] /Count 3 >>",
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    for n in range(3):
        content = f"0 0 0 rg 50 700 495 80 re f BT /F1 36 Tf 50 600 Td (Compte rendu page {n + 1}) Tj ET"
        objs.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * n} 0 R >>")
        objs.append(f"<< /Length {len(content)} >>\nstream\n{content}\nendstream")
    pdf, offsets = "%PDF-1.4\n", []
    for n, body in enumerate(objs):
        offsets.append(len(pdf))
        pdf += f"{n + 1} 0 obj\n{body}\nendobj\n"
    xref = len(pdf)
    pdf += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n" + "".join(f"{o:010} 00000 n \n" for o in offsets)
    pdf += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    import base64
    encoded = base64.encodebytes(pdf.encode("latin-1")).decode()
    f.write("From dr.martin@labo.mssante.fr Mon Nov  2 10:00:00 2026\n")
    f.write("From: Dr Martin <dr.martin@labo.mssante.fr>\nTo: camille.durand@hygie.localhost\n")
    f.write("Subject: Compte rendu\nDate: 31 Oct 2026 12:00:00 +0100\nMessage-ID: <bench-pdf@labo.mssante.fr>\n")
    f.write('MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"\n\n--b\n')
    f.write("Content-Type: text/plain; charset=utf-8\n\nCi-joint.\n--b\n")
    f.write('Content-Type: application/pdf\nContent-Disposition: attachment; filename="compte-rendu.pdf"\n')
    f.write(f"Content-Transfer-Encoding: base64\n\n{encoded}--b--\n\n")
PY

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
api() { curl -sk -b "$jar" -c "$jar" -H "Origin: https://127.0.0.1:$port" -H 'Accept: application/json' \
  -H 'Content-Type: application/x-www-form-urlencoded' --data "$2" "https://127.0.0.1:$port/api/$1"; }
api sign-in 'address=camille.durand%40hygie.localhost&password=rendez-vous+du+mardi&prefer_email=false' >/dev/null
code=""
for _ in $(seq 1 50); do
  f=$( (grep -l 'Category: auth.code' "$HYGIE_DATA_DIR"/outbox/*-sms.txt 2>/dev/null || true) | tail -n 1)
  if [ -n "$f" ]; then code=$(sed -n '/^$/,$p' "$f" | grep -oE '\b[0-9]{6}\b' | head -n 1 || true); fi
  [ -n "$code" ] && break
  sleep 0.1
done
[ -n "$code" ] || die "no sign-in code in the outbox"
api sign-in-code "code=$code" >/dev/null
api accept-terms 'version=1.1' >/dev/null

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
