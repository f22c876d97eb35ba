"""A mail client submitting to Hygie with Python's smtplib, as the submission test asks.

usage: python3 submission_client.py '{"starttls_port": N, "tls_port": N, "address": "...",
        "token": "...", "steps": [...]}'

Each step is run in order on its own connection; the result of each is printed as one JSON
list: [{"step": name, "code": SMTP code or null, "text": reply text}, ...].
"""
import base64
import json
import smtplib
import ssl
import sys

cfg = json.loads(sys.argv[1])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE


def message(author, to, subject, bcc=None):
    lines = [f"From: {author}", f"To: {to}", f"Subject: {subject}", "MIME-Version: 1.0",
             "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"]
    if bcc:
        lines.append(f"Bcc: {bcc}")
    return ("\r\n".join(lines) + "\r\n\r\nSuites opératoires simples.\r\n").encode("utf-8")


def xoauth2(address, token):
    return f"user={address}\x01auth=Bearer {token}\x01\x01"


def oauthbearer(address, token):
    return f"n,a={address},\x01auth=Bearer {token}\x01\x01"


def starttls():
    s = smtplib.SMTP("127.0.0.1", cfg["starttls_port"], timeout=30)
    s.ehlo("cabinet.local")
    s.starttls(context=ctx)
    s.ehlo("cabinet.local")
    return s


def authed(mechanism="XOAUTH2", token=None):
    s = starttls()
    make = xoauth2 if mechanism == "XOAUTH2" else oauthbearer
    s.auth(mechanism, lambda challenge=None: make(cfg["address"], token or cfg["token"]) if challenge is None else "",
           initial_response_ok=True)
    return s


def run(step):
    name = step["step"]
    try:
        if name == "ehlo_before_tls":
            s = smtplib.SMTP("127.0.0.1", cfg["starttls_port"], timeout=30)
            code, text = s.ehlo("cabinet.local")
            code, text = s.docmd("AUTH", "XOAUTH2 " + base64.b64encode(xoauth2(cfg["address"], cfg["token"]).encode()).decode())
            return {"code": code, "text": text.decode(), "features": list(s.esmtp_features)}
        if name == "ehlo_after_tls":
            s = starttls()
            return {"code": 250, "text": "", "features": list(s.esmtp_features), "auth": s.esmtp_features.get("auth", "").strip()}
        if name == "auth_plain":
            s = starttls()
            code, text = s.docmd("AUTH", "PLAIN " + base64.b64encode(f"\0{cfg['address']}\0secret".encode()).decode())
            return {"code": code, "text": text.decode()}
        if name == "bad_token":
            s = starttls()
            try:
                s.auth("XOAUTH2", lambda challenge=None: xoauth2(cfg["address"], "hyat_faux") if challenge is None else "",
                       initial_response_ok=True)
                return {"code": 235, "text": "accepted?"}
            except smtplib.SMTPAuthenticationError as e:
                return {"code": e.smtp_code, "text": e.smtp_error.decode()}
        if name == "send":
            s = authed(step.get("mechanism", "XOAUTH2"))
            raw = message(step.get("author", cfg["address"]), step["to"], step["subject"], step.get("bcc"))
            refused = s.sendmail(step.get("mail_from", cfg["address"]), step["rcpt"], raw)
            return {"code": 250, "text": "", "refused": {k: [v[0], v[1].decode()] for k, v in refused.items()}}
        if name == "mail_from":
            s = authed()
            code, text = s.mail(step["mail_from"])
            return {"code": code, "text": text.decode()}
        if name == "rcpt":
            s = authed()
            s.mail(cfg["address"])
            code, text = s.rcpt(step["rcpt"])
            return {"code": code, "text": text.decode()}
    except smtplib.SMTPResponseException as e:
        return {"code": e.smtp_code, "text": e.smtp_error.decode() if isinstance(e.smtp_error, bytes) else str(e.smtp_error)}
    except smtplib.SMTPRecipientsRefused as e:
        return {"code": None, "text": "", "refused": {k: [v[0], v[1].decode()] for k, v in e.recipients.items()}}
    return {"code": None, "text": f"unknown step {name}"}


results = []
for step in cfg["steps"]:
    r = run(step)
    r["step"] = step["step"]
    results.append(r)
print(json.dumps(results))
