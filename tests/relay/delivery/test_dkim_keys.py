"""The key files the relay takes for DKIM (as openssl and dknewkey write them) sign mail a
receiver verifies; the ones it cannot use stop the start with what to do about them."""

from __future__ import annotations

import shutil
import subprocess

import dkim
import pytest
from cryptography.hazmat.primitives import serialization

from relay.delivery.signing import DkimSetupError, DkimSigner, load_key
from settings import DkimConfig
from spooler.envelope import parse_pickup
from tests.relay.delivery import key_files

MESSAGE = parse_pickup(b"From: noreply@example.org\r\nTo: ann@example.test\r\nSubject: hi\r\n\r\nhi\r\n")


def config(path, algorithm: str = "rsa-sha256") -> DkimConfig:
    return DkimConfig(domain="example.org", selector="mail", key_file=path, algorithm=algorithm)


def verifies(cfg: DkimConfig) -> bool:
    key = load_key(cfg)
    signed = DkimSigner([key]).sign(MESSAGE).message.content
    return dkim.verify(signed, dnsfunc=key_files.published(key.dns_record()))


def test_an_ed25519_seed_as_dknewkey_writes_it_is_the_same_key_as_its_pem(tmp_path):
    pem = key_files.ed25519_pem()
    as_pem = config(key_files.key_file(tmp_path, "pem.key", pem), "ed25519-sha256")
    as_seed = config(key_files.key_file(tmp_path, "seed.key", key_files.ed25519_seed(pem)),
                     "ed25519-sha256")
    assert load_key(as_seed).dns_record() == load_key(as_pem).dns_record()
    assert verifies(as_seed) and load_key(as_seed).describe().endswith("ed25519 key, 256 bits, "
                                                                      "readable by its owner only")


def test_an_rsa_key_in_pkcs1_form_is_the_same_key_as_in_pkcs8(tmp_path):
    pem = key_files.rsa_pem(2048)
    private = serialization.load_pem_private_key(pem, password=None)
    pkcs1 = private.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.TraditionalOpenSSL,
                                  serialization.NoEncryption())
    assert pkcs1.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    as_pkcs1 = config(key_files.key_file(tmp_path, "pkcs1.key", pkcs1.replace(b"\n", b"\r\n")))
    as_pkcs8 = config(key_files.key_file(tmp_path, "pkcs8.key", pem))
    assert load_key(as_pkcs1).dns_record() == load_key(as_pkcs8).dns_record()
    assert verifies(as_pkcs1)


def encrypted_rsa() -> bytes:
    private = serialization.load_pem_private_key(key_files.rsa_pem(2048), password=None)
    return private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.BestAvailableEncryption(b"secret"))


@pytest.mark.parametrize(("make", "algorithm", "error"), [
    (encrypted_rsa, "rsa-sha256", "is encrypted; write it without a passphrase: openssl pkey"),
    (lambda: b"not a key\n", "rsa-sha256", "not an RSA private key in PEM form; make one with: "
                                           "openssl genpkey"),
    (lambda: key_files.rsa_pem(2048), "ed25519-sha256", "not an Ed25519 private key"),
    (lambda: b"c2hvcnQ=\n", "ed25519-sha256", "not an Ed25519 private key"),
])
def test_a_key_file_that_cannot_sign_stops_the_start_saying_what_to_do(tmp_path, make, algorithm,
                                                                       error):
    cfg = config(key_files.key_file(tmp_path, "dkim.key", make()), algorithm)
    with pytest.raises(DkimSetupError, match="dkim.key .domain example.org.: ") as caught:
        DkimSigner.load([cfg])
    assert error in str(caught.value)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_an_rsa_key_under_1024_bits_is_refused_as_receivers_ignore_it(tmp_path):
    # cryptography will not make one; openssl genpkey still does
    path = tmp_path / "short.key"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:768",
                    "-out", str(path)], check=True, capture_output=True, timeout=60)
    path.chmod(0o600)
    with pytest.raises(DkimSetupError, match="a 768-bit RSA key is too short .* make a 2048-bit one"):
        load_key(config(path))
