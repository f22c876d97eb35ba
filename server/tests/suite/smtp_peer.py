"""Another operator's mail server, played by Python's smtplib, for Hygie's inbound SMTP and LMTP
tests: one session, every reply recorded and printed as JSON.

usage: python3 smtp_peer.py '{"host": "127.0.0.1", "port": 2525, "starttls": true,
        "from": "a@b.fr", "to": ["c@d.fr"], "message": "/path/to/message.eml",
        "size": true, "lmtp": false, "socket": null}'

Prints {"ehlo": [code, text], "tls": [code, text] | null, "mail": [code, text],
        "rcpt": [[code, text], ...], "data": [[code, text], ...] | null}.
"data" holds one reply for SMTP, one per accepted recipient for LMTP.
"""
import json
import smtplib
import ssl
import sys


def reply(r):
    code, text = r
    return [code, text.decode("utf-8", "replace") if isinstance(text, bytes) else text]


def read_reply(f):
    """One reply (all its lines) from a file-like socket reader: [code, last line's text]."""
    lines = []
    while True:
        line = f.readline().decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            return [0, "connection closed"] if not lines else lines[-1]
        lines.append([int(line[:3]), line[4:]])
        if line[3:4] != "-":
            return lines[-1]


def inject(spec):
    """STARTTLS with a command sent in clear in the same packet (the STARTTLS injection attack):
    after the handshake, what the server answers shows whether it took the injected command."""
    import socket
    out = {}
    raw = socket.create_connection((spec["host"], spec["port"]), timeout=30)
    f = raw.makefile("rb")
    out["greeting"] = read_reply(f)
    raw.sendall(b"EHLO mx.labo.mssante.fr\r\n")
    out["ehlo"] = read_reply(f)
    raw.sendall(b"STARTTLS\r\n" + spec["inject"].encode() + b"\r\n")
    out["starttls"] = read_reply(f)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    tls = ctx.wrap_socket(raw, server_hostname="localhost")
    g = tls.makefile("rb")
    tls.sendall(b"EHLO mx.labo.mssante.fr\r\n")
    out["ehlo_tls"] = read_reply(g)
    tls.sendall(("RCPT TO:<%s>\r\n" % spec["to"][0]).encode())
    out["rcpt"] = read_reply(g)
    tls.sendall(b"QUIT\r\n")
    out["quit"] = read_reply(g)
    print(json.dumps(out))


def main():
    spec = json.loads(sys.argv[1])
    if spec.get("inject"):
        return inject(spec)
    out = {"ehlo": None, "tls": None, "mail": None, "rcpt": [], "data": None}
    if spec.get("lmtp"):
        if spec.get("socket"):
            conn = smtplib.LMTP(spec["socket"])
        else:
            conn = smtplib.LMTP(spec["host"], spec["port"])
        out["ehlo"] = reply(conn.ehlo("mx.labo.mssante.fr"))
    else:
        conn = smtplib.SMTP(spec["host"], spec["port"], local_hostname="mx.labo.mssante.fr", timeout=60)
        out["ehlo"] = reply(conn.ehlo())
        if spec.get("starttls"):
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            out["tls"] = reply(conn.starttls(context=ctx))
            out["ehlo"] = reply(conn.ehlo())
    with open(spec["message"], "rb") as f:
        message = f.read()
    options = []
    if spec.get("size") and conn.has_extn("size"):
        options.append("SIZE=%d" % len(message))
    if conn.has_extn("8bitmime"):
        options.append("BODY=8BITMIME")
    out["mail"] = reply(conn.mail(spec["from"], options))
    accepted = 0
    if out["mail"][0] == 250:
        for to in spec["to"]:
            r = reply(conn.rcpt(to))
            out["rcpt"].append(r)
            if r[0] == 250:
                accepted += 1
    if accepted:
        first = reply(conn.data(message))
        out["data"] = [first]
        if spec.get("lmtp") and first[0] != 354:
            for _ in range(accepted - 1):
                out["data"].append(reply(conn.getreply()))
    try:
        conn.quit()
    except smtplib.SMTPServerDisconnected:
        pass
    print(json.dumps(out))


if __name__ == "__main__":
    main()
