"""Several other operators' servers at once, played by Python's smtplib: each session is one
STARTTLS connection that hands over its messages in turn. Each answer is printed as soon as it
comes, one line per message ("ok <n>" for a 250, "lost <n>" for anything else), so that the
test that reads them can kill Hygie in the middle and know exactly what was acknowledged.

usage: python3 smtp_burst.py '{"port": 2525, "sessions": [[[n, "to@x.fr"], ...], ...],
        "from": "a@labo.mssante.fr", "size": 5000}'
Message n has the Message-ID <burst-n@labo.mssante.fr>. Ends with "done".
"""
import json
import smtplib
import ssl
import sys
import threading

spec = json.loads(sys.argv[1])
lock = threading.Lock()


def say(line):
    with lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def message(n, to):
    filler = ("Résultats de biologie : glycémie, créatinine, ionogramme. " * 100)[: spec["size"]]
    return (
        f"From: Laboratoire <{spec['from']}>\r\nTo: {to}\r\nSubject: Résultats {n}\r\n"
        f"Message-ID: <burst-{n}@labo.mssante.fr>\r\nDate: Thu, 03 Dec 2026 10:00:00 +0100\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: 8bit\r\n\r\n{filler}\r\n"
    ).encode()


def session(items):
    left = list(items)
    try:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = smtplib.SMTP("127.0.0.1", spec["port"], local_hostname="mx.labo.mssante.fr", timeout=60)
        s.starttls(context=ctx)
        s.ehlo("mx.labo.mssante.fr")
        while left:
            n, to = left[0]
            try:
                s.sendmail(spec["from"], [to], message(n, to))
                say(f"ok {n}")
            except smtplib.SMTPResponseException:
                say(f"lost {n}")
            left.pop(0)
        s.quit()
    except Exception:
        for n, _ in left:
            say(f"lost {n}")


threads = [threading.Thread(target=session, args=(items,)) for items in spec["sessions"]]
for t in threads:
    t.start()
for t in threads:
    t.join()
say("done")
