#!/usr/bin/env bash
# Benchmark: how long signing in takes, per second factor, through the real server functions
# (median and p90 of 30 sign-ins each): the password step (Argon2id), then the code step with a
# code by SMS, by email, from an authenticator app, and a recovery code; and a passkey alone (its
# two steps: the options, then the key's answer verified), signed by a software passkey here;
# and a phone's approval (at most five: the limit per account and ten minutes).
# The time a code spends reaching the person, or a person touching their key, is not counted. Release build by default; BIN=target/debug/hygie
# SKIP_BUILD=1 to measure another binary. RUNS=n changes the number of sign-ins per factor.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
BIN="${BIN:-$ROOT/target/release/hygie}"
ensure_apt python3-cryptography
if [ "${SKIP_BUILD:-}" != 1 ]; then ensure_rust_tools; ensure_node_modules; cargo leptos build --release; fi

dir="$(mktemp -d)"
port="$(free_port)"
export HYGIE_DATA_DIR="$dir/data" HYGIE_LISTEN="127.0.0.1:$port" HYGIE_HTTP_LISTEN="127.0.0.1:$(free_port)"
export HYGIE_DEMO_ACCOUNTS=true LEPTOS_SITE_ROOT="$ROOT/target/site" HYGIE_LOG=warn
# Many sign-ins from one address in a few minutes: lift the per-IP limit for the benchmark.
export HYGIE_SESSION__SIGNIN_PER_IP_PER_HOUR=100000
"$BIN" serve >"$dir/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do curl -skf "https://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

say "signing in ${RUNS:-30} times per factor"
# localhost: the host of the public address, which passkeys are bound to.
python3 - "https://localhost:$port" "$HYGIE_DATA_DIR/outbox" "${RUNS:-30}" <<'PY'
import base64, glob, hashlib, hmac, http.cookiejar, json, os, ssl, statistics, struct, sys, time, urllib.parse, urllib.request

base, outbox, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE

class Browser:
    def __init__(self):
        self.jar = http.cookiejar.CookieJar()
        self.op = urllib.request.build_opener(urllib.request.HTTPSHandler(context=ctx),
                                              urllib.request.HTTPCookieProcessor(self.jar))
    def call(self, path, **fields):
        data = urllib.parse.urlencode(fields).encode()
        req = urllib.request.Request(f"{base}/api/{path}", data=data, headers={
            "Origin": base, "Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"})
        t = time.perf_counter()
        try:
            with self.op.open(req) as r:
                body = r.read()
        except urllib.error.HTTPError as e:
            body = e.read()
        return (time.perf_counter() - t) * 1000, json.loads(body or b"null")

def outbox_files():
    return sorted(glob.glob(os.path.join(outbox, "*.txt")))

def code_after(n, to):
    for _ in range(200):
        for f in outbox_files()[n:]:
            text = open(f, encoding="utf-8").read()
            if f"To: {to}\n" in text and "Category: auth.code" in text:
                body = text.split("\n\n", 1)[1]
                import re
                return re.search(r"(?<!\d)\d{6}(?!\d)", body).group(0)
        time.sleep(0.05)
    raise SystemExit("no code in the outbox")

def totp(key, at):
    secret = base64.b32decode(key.replace(" ", ""))
    mac = hmac.new(secret, struct.pack(">Q", int(at // 30)), hashlib.sha1).digest()
    o = mac[-1] & 15
    return f"{(struct.unpack('>I', mac[o:o + 4])[0] & 0x7fffffff) % 1_000_000:06d}"

DOCTOR = ("camille.durand@hygie.localhost", "rendez-vous du mardi", "+33612345678")
NURSE = ("louis.martin@hygie.localhost", "tournée du matin 2026", "louis.martin@exemple.fr")
SOCIAL = ("nadia.benali@hygie.localhost", "permanence du jeudi", "+33698765432")

def by_code(who):
    b = Browser()
    n = len(outbox_files())
    p, step = b.call("sign-in", address=who[0], password=who[1], prefer_email="false")
    c, res = b.call("sign-in-code", code=code_after(n, who[2]))
    assert isinstance(res, str), res
    if res == "/compte/cgu":
        b.call("accept-terms", version="1.1")
    return b, p, c

results = {}
def record(label, p, c):
    results.setdefault(label, []).append((p, c))

for _ in range(runs):
    _, p, c = by_code(DOCTOR); record("SMS code", p, c)
    _, p, c = by_code(NURSE); record("email code", p, c)

# The social worker adds ten authenticator apps (the most an account may have): ten codes per
# 30-second step, each used once, without waiting for a new step after every sign-in.
b, _, _ = by_code(SOCIAL)
keys = []
for i in range(10):
    _, setup = b.call("terminal-totp-start", name=f"App {i}")
    _, codes = b.call("terminal-totp-confirm", id=setup["id"], code=totp(setup["manual_key"], time.time()))
    assert isinstance(codes, list), codes
    keys.append(setup["manual_key"])
    if codes:
        recovery = codes
done, step = 0, int(time.time() // 30)
while done < runs:
    for key in keys:
        if done == runs:
            break
        s = Browser()
        p, res = s.call("sign-in", address=SOCIAL[0], password=SOCIAL[1], prefer_email="false")
        assert res["channel"] == "totp", res
        # One step ahead (the skew allowed): the confirming codes used the current one.
        c, res = s.call("sign-in-code", code=totp(key, (step + 1) * 30))
        assert res == "/messagerie", res
        record("authenticator app", p, c)
        done += 1
    if done < runs:
        while int(time.time() // 30) == step:
            time.sleep(0.5)
        step = int(time.time() // 30)
for code in recovery[: min(runs, 10)]:
    s = Browser()
    p, _ = s.call("sign-in", address=SOCIAL[0], password=SOCIAL[1], prefer_email="false")
    c, res = s.call("sign-in-code", code=code)
    assert res == "/messagerie", res
    record("recovery code", p, c)

# A software passkey (ES256, "none" attestation, user verified), as a phone or computer makes.
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
unb64 = lambda s: base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

def cbor(v):
    def head(major, n):
        if n < 24: return bytes([major << 5 | n])
        if n < 256: return bytes([major << 5 | 24, n])
        return bytes([major << 5 | 25]) + n.to_bytes(2, "big")
    if isinstance(v, int): return head(0, v) if v >= 0 else head(1, -1 - v)
    if isinstance(v, bytes): return head(2, len(v)) + v
    if isinstance(v, str): return head(3, len(v.encode())) + v.encode()
    if isinstance(v, dict): return head(5, len(v)) + b"".join(cbor(k) + cbor(x) for k, x in v.items())
    raise TypeError(v)

class Passkey:
    def __init__(self, origin):
        self.origin, self.rp = origin, urllib.parse.urlparse(origin).hostname
        self.key, self.id, self.counter = ec.generate_private_key(ec.SECP256R1()), os.urandom(32), 0
    def client(self, kind, challenge):
        return json.dumps({"type": kind, "challenge": challenge, "origin": self.origin}).encode()
    def create(self, options):
        o = json.loads(options)["publicKey"]
        self.user = unb64(o["user"]["id"])
        n = self.key.public_key().public_numbers()
        cose = {1: 2, 3: -7, -1: 1, -2: n.x.to_bytes(32, "big"), -3: n.y.to_bytes(32, "big")}
        auth = hashlib.sha256(self.rp.encode()).digest() + bytes([0x45]) + struct.pack(">I", 0) + bytes(16) \
            + struct.pack(">H", 32) + self.id + cbor(cose)
        att = cbor({"fmt": "none", "attStmt": {}, "authData": auth})
        return json.dumps({"id": b64(self.id), "rawId": b64(self.id), "type": "public-key", "extensions": {},
            "response": {"attestationObject": b64(att), "clientDataJSON": b64(self.client("webauthn.create", o["challenge"]))}})
    def get(self, options):
        o = json.loads(options)["publicKey"]
        self.counter += 1
        auth = hashlib.sha256(self.rp.encode()).digest() + bytes([0x05]) + struct.pack(">I", self.counter)
        cd = self.client("webauthn.get", o["challenge"])
        sig = self.key.sign(auth + hashlib.sha256(cd).digest(), ec.ECDSA(hashes.SHA256()))
        return json.dumps({"id": b64(self.id), "rawId": b64(self.id), "type": "public-key", "extensions": {},
            "response": {"authenticatorData": b64(auth), "clientDataJSON": b64(cd), "signature": b64(sig),
                         "userHandle": b64(self.user)}})

# The doctor adds a passkey, then signs in with it alone.
b, _, _ = by_code(DOCTOR)
key = Passkey(base)
_, c = b.call("terminal-passkey-start", name="Ordinateur")
_, codes = b.call("terminal-passkey-finish", ceremony=c["id"], response=key.create(c["options"]))
assert isinstance(codes, list), codes
for _ in range(runs):
    s = Browser()
    p, c = s.call("sign-in-passkey-start")
    f, res = s.call("sign-in-passkey", ceremony=c["id"], response=key.get(c["options"]))
    assert res == "/messagerie", res
    record("passkey alone", p, f)

# The nurse adds his phone (its passkey; no push service here: the app finds the request), then
# approves sign-ins with it: password, request, number chosen, unlock, answer.
b, _, _ = by_code(NURSE)
phone_key = Passkey(base)
_, link = b.call("terminal-phone-link")
token = link["url"].rsplit("/", 1)[1]
_, setup = b.call("terminal-phone-start", token=token, name="Téléphone")
_, added = b.call("terminal-phone-finish", token=token, ceremony=setup["ceremony"]["id"],
                  response=phone_key.create(setup["ceremony"]["options"]), endpoint="", p256dh="", auth="")
device = added["device_token"]
for i in range(runs):
    s = Browser()
    p, res = s.call("sign-in", address=NURSE[0], password=NURSE[1], prefer_email="false")
    assert res["channel"] == "phone", res
    t0 = time.perf_counter()
    _, asked = s.call("sign-in-phone")
    if "RateLimited" in str(asked):
        break
    _, waiting = Browser().call("phone-waiting", device=device)
    _, c = Browser().call("phone-choose", device=device, id=asked["id"], number=asked["number"])
    Browser().call("phone-confirm", device=device, ceremony=c["id"], response=phone_key.get(c["options"]))
    _, res = s.call("sign-in-phone-answered", id=asked["id"])
    assert res == "/messagerie", res
    record("phone approval", p, (time.perf_counter() - t0) * 1000)

print(f"{'factor':<20} {'n':>3}  {'password step (1)':>22}  {'code step (2)':>22}  {'both':>10}")
print("(passkey alone: (1) is the options, (2) the key's answer verified; phone approval: (2) is the request,")
print(" the phone's list, its choice, its unlock verified and the sign-in's answer, without a person's time;")
print(" at most 5 requests per 10 minutes per account, so n is 5 at most)")
for label, xs in results.items():
    ps, cs, both = [x[0] for x in xs], [x[1] for x in xs], [x[0] + x[1] for x in xs]
    q = lambda v: (statistics.median(v), sorted(v)[int(len(v) * 0.9) - 1])
    (pm, p9), (cm, c9), (bm, _) = q(ps), q(cs), q(both)
    print(f"{label:<20} {len(xs):>3}  p50 {pm:6.1f} p90 {p9:6.1f} ms  p50 {cm:6.1f} p90 {c9:6.1f} ms  p50 {bm:6.1f} ms")
PY
