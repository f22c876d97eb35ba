"""A mail client for the IMAP tests: Python's imaplib, as a script or a business software
would use it. Usage: imap_client.py PHASE TLS_PORT STARTTLS_PORT ADDRESS TOKEN
Prints progress lines, then one JSON line with what the server answered."""

import imaplib
import json
import ssl
import sys
import time

phase, tls_port, starttls_port, address, token = sys.argv[1:6]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
out = {}


def text(x):
    if isinstance(x, bytes):
        return x.decode("utf-8", "replace")
    if isinstance(x, tuple):
        return [text(y) for y in x]
    if isinstance(x, list):
        return [text(y) for y in x]
    return x


def xoauth2(_):
    return f"user={address}\x01auth=Bearer {token}\x01\x01".encode()


def oauthbearer(_):
    return f"n,a={address},\x01host=127.0.0.1\x01port={starttls_port}\x01auth=Bearer {token}\x01\x01".encode()


def connect():
    return imaplib.IMAP4_SSL("127.0.0.1", int(tls_port), ssl_context=ctx, timeout=30)


def try_auth(m, mech, fn):
    try:
        return m.authenticate(mech, fn)[0]
    except imaplib.IMAP4.error as e:
        return "NO: " + str(e)


if phase == "auth":
    # Only whether the token opens the mailbox.
    m = connect()
    out["xoauth2"] = try_auth(m, "XOAUTH2", xoauth2)
    m.logout()

elif phase == "starttls":
    m = imaplib.IMAP4("127.0.0.1", int(starttls_port), timeout=30)
    out["caps_plain"] = sorted(m.capabilities)
    out["before_tls"] = try_auth(m, "OAUTHBEARER", oauthbearer)
    m.starttls(ssl_context=ctx)
    out["caps_tls"] = sorted(m.capabilities)
    out["oauthbearer"] = try_auth(m, "OAUTHBEARER", oauthbearer)
    out["list"] = text(m.list()[1])
    m.logout()

elif phase == "main":
    m = connect()
    out["caps"] = sorted(m.capabilities)
    try:
        m.login(address, "un mot de passe")
        out["login"] = "accepted"
    except imaplib.IMAP4.error as e:
        out["login"] = str(e)
    out["auth"] = try_auth(m, "XOAUTH2", xoauth2)
    out["caps_after"] = text(m.capability()[1])
    out["list"] = text(m.list()[1])
    out["status"] = text(m.status("INBOX", "(MESSAGES UNSEEN UIDNEXT UIDVALIDITY)")[1])
    typ, data = m.select("INBOX")
    out["exists"] = int(data[0])
    out["uidvalidity"] = text(m.response("UIDVALIDITY")[1])
    out["uidnext"] = text(m.response("UIDNEXT")[1])
    out["fetch"] = text(m.uid("FETCH", "1:*", "(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE)")[1])
    out["peek"] = text(m.uid("FETCH", "1", "(BODY.PEEK[1] BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[]<0.10>)")[1])
    out["flags_after_peek"] = text(m.uid("FETCH", "1", "(FLAGS)")[1])
    out["search_text"] = text(m.uid("SEARCH", None, "TEXT", "potassium")[1])
    out["search_unseen"] = text(m.uid("SEARCH", None, "UNSEEN")[1])
    out["store"] = text(m.uid("STORE", "1", "+FLAGS", r"(\Seen \Flagged)")[1])
    out["search_seen"] = text(m.uid("SEARCH", None, "SEEN")[1])
    # A body without PEEK: opened, as in the webmail.
    out["open"] = text(m.uid("FETCH", "2", "(BODY[TEXT])")[1])
    out["flags_after_open"] = text(m.uid("FETCH", "2", "(FLAGS)")[1])
    typ, data = m.uid("MOVE", "2", "Trash")
    out["move"] = typ
    out["copyuid"] = text(m.response("COPYUID")[1])
    out["exists_after_move"] = text(m.noop()[1])
    raw = (
        "From: " + address + "\r\nTo: labo@labo.mssante.fr\r\nSubject: Brouillon IMAP\r\n"
        "Message-ID: <append-1@client>\r\n\r\nEcrit dans le client.\r\n"
    ).encode()
    out["append"] = text(m.append("Drafts", r"(\Seen)", imaplib.Time2Internaldate(time.time()), raw)[1])
    out["trash"] = text(m.select("Trash")[1])
    out["trash_uids"] = text(m.uid("SEARCH", None, "ALL")[1])
    # IDLE in the Inbox: the test delivers a message once it reads IDLING.
    m.select("INBOX")
    tag = m._new_tag().decode()
    m.send(f"{tag} IDLE\r\n".encode())
    out["idle_cont"] = text(m.readline())
    print("IDLING", flush=True)
    t0 = time.monotonic()
    got = None
    while time.monotonic() - t0 < 10:
        line = m.readline()
        if b"EXISTS" in line:
            got = time.monotonic() - t0
            out["idle_line"] = text(line)
            break
    out["idle_seconds"] = got
    m.send(b"DONE\r\n")
    while True:
        line = m.readline()
        if line.startswith(tag.encode()):
            out["idle_done"] = text(line)
            break
    out["copy"] = text(m.uid("COPY", "1", "Archive"))
    m.logout()

elif phase == "idor":
    m = connect()
    out["auth"] = try_auth(m, "XOAUTH2", xoauth2)
    out["list"] = text(m.list()[1])
    try:
        out["select_other"] = text(m.select("Laboratoire"))
    except imaplib.IMAP4.error as e:
        out["select_other"] = "NO: " + str(e)
    m.select("INBOX")
    out["fetch"] = text(m.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")[1])
    m.logout()

elif phase == "large":
    # A FETCH of every body, with a NOOP sent behind it before any answer (pipelined), read
    # off the wire: every literal whole, and the FETCH finished before the NOOP is answered.
    import re
    m = connect()
    out["auth"] = try_auth(m, "XOAUTH2", xoauth2)
    m.select("INBOX")
    m.send(b"p1 FETCH 1:* (BODY.PEEK[])\r\np2 NOOP\r\n")
    sizes, order = {}, []
    while True:
        line = m.readline()
        if not line:
            order.append("closed")
            break
        literal = re.search(rb"\{(\d+)\}\r\n$", line)
        if literal:
            data = m.read(int(literal.group(1)))
            sizes[int(line.split()[1])] = len(data)
            m.readline()
            continue
        if line.startswith(b"p1 ") or line.startswith(b"p2 "):
            order.append(" ".join(text(line).split()[:2]))
            if line.startswith(b"p2 "):
                break
    out["sizes"] = [sizes[k] for k in sorted(sizes)]
    out["order"] = order
    if order[-1:] != ["closed"]:
        m.logout()

print(json.dumps(out), flush=True)
