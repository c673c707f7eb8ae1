#!/usr/bin/env python3
"""A recording SMTP server for tests, with fault injection per recipient.

Usage (normally through the scripts/peers/smtp-sink wrapper, which installs
aiosmtpd==1.4.6 in a venv of its own):

    smtp_sink.py --dir DIR [--port 0] [--slow-seconds 30] [--auth USER:PASS]

It binds 127.0.0.1:PORT (0 = any free port), prints exactly one line
`LISTENING <port>` on stdout once it accepts connections, and serves until
SIGTERM or SIGINT, then exits 0.

Each accepted message is stored as two files in DIR, numbered by a zero-padded
counter that goes on after the highest number already in DIR:

    DIR/<seq>.eml   the DATA content as received (CRLF line ends kept; only the
                    SMTP dot-stuffing is undone, as any server does)
    DIR/<seq>.json  {"mail_from": ..., "rcpt_tos": [...], "received_at": ...}

The .json is written last, through a temporary file and a rename: a reader
that sees <seq>.json knows that <seq>.eml is complete. Nothing is fsynced.

Faults, chosen by the local part of each RCPT TO address:

    +reject  RCPT answered "550 5.1.1 mailbox unavailable"
    +defer   RCPT answered "451 4.3.0 try again later"
    +flaky   "451 4.3.0 try again later" the first time this exact address
             is seen (case-insensitively), accepted afterwards
    +slow    waits --slow-seconds before answering RCPT (other connections
             are served meanwhile); combines with the others
    +drop    RCPT accepted, but when the message's DATA has arrived the
             connection is closed without a reply; nothing is stored

With --auth USER:PASS, MAIL/RCPT/DATA need AUTH PLAIN or LOGIN first (offered
without TLS).
"""

import argparse
import asyncio
import datetime
import json
import logging
import os
import re
import signal
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

SEQ_WIDTH = 8


def local_part(address):
    return address.rsplit("@", 1)[0].lower()


class Sink:
    def __init__(self, directory, slow_seconds):
        self.directory = directory
        self.slow_seconds = slow_seconds
        self.seen_flaky = set()
        self.seq = self._highest_seq()

    def _highest_seq(self):
        highest = 0
        for name in os.listdir(self.directory):
            m = re.fullmatch(r"(\d+)\.(eml|json)", name)
            if m:
                highest = max(highest, int(m.group(1)))
        return highest

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = local_part(address)
        if "+slow" in local:
            await asyncio.sleep(self.slow_seconds)
        if "+reject" in local:
            return "550 5.1.1 mailbox unavailable"
        if "+defer" in local:
            return "451 4.3.0 try again later"
        if "+flaky" in local:
            key = address.lower()
            if key not in self.seen_flaky:
                self.seen_flaky.add(key)
                return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if any("+drop" in local_part(a) for a in envelope.rcpt_tos):
            # abort() (unlike close()) marks the transport lost at once, so the
            # reply that aiosmtpd pushes after this hook is never written.
            server.transport.abort()
            return "250 dropped"
        self.seq += 1
        base = os.path.join(self.directory, str(self.seq).zfill(SEQ_WIDTH))
        content = envelope.original_content
        if content is None:
            content = envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        with open(base + ".eml", "wb") as f:
            f.write(content)
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "received_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        }
        tmp = base + ".json.tmp"
        with open(tmp, "w") as f:
            json.dump(meta, f)
        os.rename(tmp, base + ".json")
        return "250 OK queued as " + str(self.seq).zfill(SEQ_WIDTH)


def make_authenticator(user, password):
    user_b, password_b = user.encode(), password.encode()

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user_b
            and auth_data.password == password_b
        )
        # handled=False: aiosmtpd then answers a failure itself (535 5.7.8);
        # with the default True it would send nothing and the client hangs.
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    return authenticator


async def serve(args):
    os.makedirs(args.dir, exist_ok=True)
    sink = Sink(args.dir, args.slow_seconds)
    smtp_kwargs = dict(
        hostname="smtp-sink.localhost",
        ident="cophub test smtp-sink",
        data_size_limit=None,
        timeout=600,
    )
    if args.auth:
        user, sep, password = args.auth.partition(":")
        if not sep:
            sys.exit("--auth wants USER:PASS")
        smtp_kwargs.update(
            auth_required=True,
            auth_require_tls=False,
            authenticator=make_authenticator(user, password),
        )
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(sink, loop=loop, **smtp_kwargs),
        host="127.0.0.1",
        port=args.port,
        backlog=1024,
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    port = server.sockets[0].getsockname()[1]
    sys.stdout.write("LISTENING %d\n" % port)
    sys.stdout.flush()
    await stop.wait()
    server.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", required=True, help="where messages are stored")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    parser.add_argument("--slow-seconds", type=float, default=30.0)
    parser.add_argument("--auth", metavar="USER:PASS", default=None)
    args = parser.parse_args()
    # aiosmtpd warns on every connection that AUTH without TLS is unsafe: it is
    # what --auth asks for on loopback, so keep stderr for real errors.
    warnings.filterwarnings("ignore", category=UserWarning, module="aiosmtpd")
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
