"""What one DKIM signature costs: dkimpy (pure-Python RSA) against the relay's signer (OpenSSL).

Signs one ~2 KB notification (built by spooler.message, read by parse_pickup as the relay reads
it) again and again, in this process, one thread, with keys made in a temporary folder:
  dkimpy RSA-2048      dkim.sign(), relaxed/relaxed, the relay's header list
  relay RSA-2048       DkimSigner.sign(): canonicalization + header hash + OpenSSL signature
  relay Ed25519        the same with an Ed25519 key (RFC 8463)
  OpenSSL RSA-2048     the private-key operation alone, the floor of the relay's figure
  dkimpy Ed25519       dkim.sign() with PyNaCl, for reference
Prints µs of CPU per signature (median of --rounds) and the ratios. With --json, ends with one JSON
line: {"dkimpy_us", "openssl_us", "ed25519_us", "openssl_raw_us", "dkimpy_ed25519_us",
"speedup"}.

Run:  .venv/bin/python bench/dkim_sign.py [-n 2000] [--rounds 5] [--json]
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import dkim
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from relay.delivery.dkim_canon import names_to_sign, split_message
from relay.delivery.signing import DkimSigner, load_key
from settings import DkimConfig
from spooler.envelope import parse_pickup
from spooler.message import Address, Notification, build

PKCS8 = {"encoding": serialization.Encoding.PEM, "format": serialization.PrivateFormat.PKCS8,
         "encryption_algorithm": serialization.NoEncryption()}
DKIMPY_SHARE = 10   # dkimpy is ~40x slower: it signs n / DKIMPY_SHARE times a round
_quiet = logging.getLogger("bench.dkimpy")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False


def notification() -> bytes:
    return build(Notification(
        sender=Address("noreply@example.org", "Q&A"), to=[Address("ann@example.test")],
        subject="New answer to your question", text="An answer arrived.\n" * 90)).content


def key_config(folder: Path, name: str, pem: bytes, algorithm: str) -> DkimConfig:
    path = folder / name
    path.write_bytes(pem)
    path.chmod(0o600)
    return DkimConfig(domain="example.org", selector="bench", key_file=path, algorithm=algorithm)


def per_call_us(call: Callable[[], object], n: int, rounds: int) -> float:
    """Median µs of CPU per call over `rounds` rounds of `n` calls, after one warm call.
    CPU time, not wall time: on a shared machine the others' load moves it much less."""
    call()
    figures = []
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(n):
            call()
        figures.append((time.process_time() - start) / n * 1e6)
    return statistics.median(figures)


def measure(n: int, rounds: int) -> dict[str, float]:
    message = parse_pickup(notification())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ed_key = ed25519.Ed25519PrivateKey.generate()
    rsa_pem, ed_pem = rsa_key.private_bytes(**PKCS8), ed_key.private_bytes(**PKCS8)
    with tempfile.TemporaryDirectory() as folder:
        rsa_config = key_config(Path(folder), "rsa.key", rsa_pem, "rsa-sha256")
        ed_config = key_config(Path(folder), "ed.key", ed_pem, "ed25519-sha256")
        rsa_signer, ed_signer = DkimSigner([load_key(rsa_config)]), DkimSigner([load_key(ed_config)])
    names = names_to_sign(rsa_config.headers, split_message(message.content)[0])
    seed = base64.b64encode(ed_key.private_bytes(serialization.Encoding.Raw,
                                                 serialization.PrivateFormat.Raw,
                                                 serialization.NoEncryption()))

    def dkimpy(private: bytes, algorithm: bytes) -> Callable[[], bytes]:
        return lambda: dkim.sign(message.content, b"bench", b"example.org", private,
                                 canonicalize=(b"relaxed", b"relaxed"), include_headers=names,
                                 signature_algorithm=algorithm, logger=_quiet)
    few = max(1, n // DKIMPY_SHARE)
    figures = {
        "dkimpy_us": per_call_us(dkimpy(rsa_pem, b"rsa-sha256"), few, rounds),
        "openssl_us": per_call_us(lambda: rsa_signer.sign(message), n, rounds),
        "ed25519_us": per_call_us(lambda: ed_signer.sign(message), n, rounds),
        "openssl_raw_us": per_call_us(lambda: rsa_key.sign(b"x" * 600, padding.PKCS1v15(),
                                                           hashes.SHA256()), n, rounds),
        "dkimpy_ed25519_us": per_call_us(dkimpy(seed, b"ed25519-sha256"), few, rounds),
    }
    figures["speedup"] = figures["dkimpy_us"] / figures["openssl_us"]
    return {k: round(v, 1) for k, v in figures.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=2000, help="signatures a round (default 2,000; "
                                                           "dkimpy signs a tenth of that)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds, the median is kept (default 5)")
    parser.add_argument("--json", action="store_true", help="end with the figures as one JSON line")
    args = parser.parse_args()
    figures = measure(args.n, args.rounds)
    print(f"dkimpy RSA-2048     {figures['dkimpy_us']:9.1f} µs a signature")
    print(f"relay RSA-2048      {figures['openssl_us']:9.1f} µs  ({figures['speedup']:.1f}x faster)")
    print(f"relay Ed25519       {figures['ed25519_us']:9.1f} µs")
    print(f"OpenSSL RSA alone   {figures['openssl_raw_us']:9.1f} µs  (the floor of the relay's RSA)")
    print(f"dkimpy Ed25519      {figures['dkimpy_ed25519_us']:9.1f} µs")
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
