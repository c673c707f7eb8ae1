#!/usr/bin/env python3
"""DKIM for tests, with dkimpy (the reference Python implementation).

    dkim_verify.py keygen-ed25519
        prints two lines: the base64 32-byte private seed, and the base64
        public key (what a DNS TXT record's p= carries)
    dkim_verify.py verify --domain D --selector S --txt 'v=DKIM1; k=...; p=...'
        reads one message on stdin and checks its DKIM-Signature against the
        given TXT record as if DNS had answered it for S._domainkey.D;
        prints "pass" and exits 0, or prints why and exits 1
"""

import argparse
import base64
import sys

import dkim
import nacl.signing


def main() -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("keygen-ed25519")
    verify = sub.add_parser("verify")
    verify.add_argument("--domain", required=True)
    verify.add_argument("--selector", required=True)
    verify.add_argument("--txt", required=True)
    args = parser.parse_args()

    if args.command == "keygen-ed25519":
        key = nacl.signing.SigningKey.generate()
        print(base64.b64encode(bytes(key)).decode())
        print(base64.b64encode(bytes(key.verify_key)).decode())
        return 0

    message = sys.stdin.buffer.read()
    expected = f"{args.selector}._domainkey.{args.domain}."

    def dns(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        if name.rstrip(".") + "." != expected:
            return None
        return args.txt.encode()

    verifier = dkim.DKIM(message)
    try:
        ok = verifier.verify(dnsfunc=dns)
    except dkim.DKIMException as error:
        print(f"fail: {error}")
        return 1
    if not ok:
        print("fail: the signature does not match")
        return 1
    signature = dkim.util.parse_tag_value(
        next(v for k, v in verifier.headers if k.lower() == b"dkim-signature")
    )
    print("pass h=" + signature[b"h"].decode().replace(" ", "").replace("\r\n", ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
