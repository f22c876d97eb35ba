"""A real SMTP server for Hygie's API tests: accepts messages on 127.0.0.1:PORT and writes
each one, as received, to DIR/<n>.eml. Started and stopped by the tests.

Like a real operator's server, it refuses some recipients: a mailbox whose name starts with
"inconnu" does not exist (550, permanent), and one starting with "greylist" is told to come back
later the first time (451, temporary), then accepted.

usage: python3 smtp_sink.py PORT DIR
"""
import asyncio
import itertools
import os
import sys

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.counter = itertools.count(1)
        self.seen = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0].lower()
        if local.startswith("inconnu"):
            return "550 5.1.1 Mailbox unknown"
        if local.startswith("greylist") and address not in self.seen:
            self.seen.add(address)
            return "451 4.7.1 Greylisted, come back later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        n = next(self.counter)
        path = os.path.join(self.directory, f"{n:04}.eml")
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(b"X-Envelope-From: " + envelope.mail_from.encode() + b"\r\n")
            f.write(b"X-Envelope-To: " + ",".join(envelope.rcpt_tos).encode() + b"\r\n")
            f.write(envelope.original_content)
        os.replace(tmp, path)
        return "250 Message accepted for delivery"


def main():
    port = int(sys.argv[1])
    directory = sys.argv[2]
    os.makedirs(directory, exist_ok=True)
    controller = Controller(Sink(directory), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        asyncio.new_event_loop().run_forever()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
