#!/usr/bin/env python3
"""An SMTP server that hands every message to an LMTP server, for tests.

It stands in for the site MTA that delivers list mail to Mailman's LMTP runner.

Usage (normally through scripts/peers/smtp-to-lmtp, which installs the
aiosmtpd venv; the mailman venv has aiosmtpd too):

    smtp_to_lmtp.py --lmtp-port L [--lmtp-host 127.0.0.1] [--port 0]

It binds 127.0.0.1:PORT (0 = any free port), prints exactly one line
`LISTENING <port>` on stdout once it accepts connections, and serves until
SIGTERM or SIGINT, then exits 0.

Each SMTP transaction is relayed command by command on an LMTP session of its
own, with the same envelope:
  - MAIL FROM and each RCPT TO are sent to the LMTP server and its answer is
    the SMTP answer (Mailman answers RCPT for an unknown list with 550);
  - at DATA the content goes to the LMTP server unchanged, which answers once
    per accepted recipient. SMTP has one answer for DATA: all recipients'
    answers when they agree, the first failure otherwise (a real MTA would
    accept and bounce the failed part; a test shim keeps it visible).
If the LMTP server cannot be reached, MAIL is answered 451.
"""

import argparse
import asyncio
import signal
import sys

from aiosmtpd.smtp import SMTP

# How long to wait for the LMTP server's answers. After a failed answer to
# DATA some servers send one line instead of one per recipient (Mailman does
# so for a message with defects): the other answers are waited for this long.
LMTP_TIMEOUT = 120.0
MISSING_REPLY_TIMEOUT = 2.0


class LMTPError(Exception):
    pass


class LMTPClient:
    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, host, port):
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), LMTP_TIMEOUT
        )
        client = cls(reader, writer)
        code, _ = await client.reply()
        if code != 220:
            client.close()
            raise LMTPError("LMTP greeting %d" % code)
        code, _ = await client.command("LHLO smtp-to-lmtp.localhost")
        if code != 250:
            client.close()
            raise LMTPError("LMTP LHLO answered %d" % code)
        return client

    async def reply(self, timeout=LMTP_TIMEOUT):
        """One (possibly multi-line) reply: (code, 'code text' lines joined)."""
        lines = []
        while True:
            line = await asyncio.wait_for(self.reader.readline(), timeout)
            if not line:
                raise LMTPError("LMTP server closed the connection")
            line = line.decode("utf-8", "replace").rstrip("\r\n")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                break
        code = int(lines[0][:3])
        text = "\r\n".join(l[:3] + ("-" if i < len(lines) - 1 else " ") + l[4:]
                           for i, l in enumerate(lines))
        return code, text

    async def command(self, line):
        self.writer.write(line.encode("utf-8") + b"\r\n")
        await self.writer.drain()
        return await self.reply()

    async def data(self, content, recipients):
        code, text = await self.command("DATA")
        if code != 354:
            return [(code, text)] * recipients
        if not content.endswith(b"\r\n"):
            content += b"\r\n"
        stuffed = b"\r\n".join(
            (b"." + l if l.startswith(b".") else l) for l in content.split(b"\r\n")
        )
        self.writer.write(stuffed + b".\r\n")
        await self.writer.drain()
        answers = [await self.reply()]
        for _ in range(recipients - 1):
            try:
                timeout = LMTP_TIMEOUT if answers[0][0] < 400 else MISSING_REPLY_TIMEOUT
                answers.append(await self.reply(timeout))
            except asyncio.TimeoutError:
                answers.append(answers[0])
        return answers

    def close(self):
        try:
            self.writer.close()
        except Exception:
            pass

    async def quit(self):
        try:
            self.writer.write(b"QUIT\r\n")
            await self.writer.drain()
        except Exception:
            pass
        self.close()


class Relay:
    def __init__(self, lmtp_host, lmtp_port):
        self.lmtp_host = lmtp_host
        self.lmtp_port = lmtp_port

    @staticmethod
    def drop_lmtp(session):
        client = getattr(session, "lmtp", None)
        session.lmtp = None
        if client is not None:
            asyncio.ensure_future(client.quit())

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.drop_lmtp(session)
        try:
            session.lmtp = await LMTPClient.connect(self.lmtp_host, self.lmtp_port)
            code, text = await session.lmtp.command("MAIL FROM:<%s>" % address)
        except (OSError, LMTPError, asyncio.TimeoutError, ValueError) as e:
            self.drop_lmtp(session)
            return "451 4.4.1 LMTP server unavailable: %s" % e
        if code == 250:
            envelope.mail_from = address
            envelope.mail_options.extend(mail_options)
        else:
            self.drop_lmtp(session)
        return text

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        client = getattr(session, "lmtp", None)
        if client is None:
            return "451 4.4.1 LMTP session lost"
        try:
            code, text = await client.command("RCPT TO:<%s>" % address)
        except (OSError, LMTPError, asyncio.TimeoutError, ValueError) as e:
            self.drop_lmtp(session)
            return "451 4.4.1 LMTP server failed: %s" % e
        if 200 <= code < 300:
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(rcpt_options)
        return text

    async def handle_DATA(self, server, session, envelope):
        client = getattr(session, "lmtp", None)
        session.lmtp = None
        if client is None:
            return "451 4.4.1 LMTP session lost"
        content = envelope.original_content
        if content is None:
            content = envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        try:
            answers = await client.data(content, len(envelope.rcpt_tos))
        except (OSError, LMTPError, asyncio.TimeoutError, ValueError) as e:
            client.close()
            return "451 4.4.1 LMTP server failed: %s" % e
        await client.quit()
        failed = [text for code, text in answers if code >= 300]
        if failed:
            return failed[0]
        return answers[0][1]

    async def handle_RSET(self, server, session, envelope):
        self.drop_lmtp(session)
        return "250 OK"


class RelaySMTP(SMTP):
    def connection_lost(self, error):
        if self.session is not None:
            Relay.drop_lmtp(self.session)
        super().connection_lost(error)


async def serve(args):
    relay = Relay(args.lmtp_host, args.lmtp_port)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: RelaySMTP(
            relay,
            loop=loop,
            hostname="smtp-to-lmtp.localhost",
            ident="cophub test smtp-to-lmtp",
            data_size_limit=None,
            timeout=600,
        ),
        host="127.0.0.1",
        port=args.port,
        backlog=1024,
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    sys.stdout.write("LISTENING %d\n" % server.sockets[0].getsockname()[1])
    sys.stdout.flush()
    await stop.wait()
    server.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lmtp-port", type=int, required=True)
    parser.add_argument("--lmtp-host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    args = parser.parse_args()
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
