"""The relay's certificate (smtp_relay/tls.py): TLS 1.2 at least, and a rotated certificate served to new
handshakes without a restart."""

from __future__ import annotations

import ssl
from pathlib import Path
from types import SimpleNamespace

import trustme

from smtp_relay.tls import Certificates, from_files


def write_certificate(directory: Path, name: str) -> tuple[Path, Path]:
    issued = trustme.CA().issue_cert("smtp.example.com")
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    cert.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
    issued.private_key_pem.write_to_path(str(key))
    return cert, key


def test_a_rotated_certificate_reaches_new_handshakes_and_an_unchanged_one_is_kept(tmp_path: Path) -> None:
    cert, key = write_certificate(tmp_path, "live")
    certificates = Certificates(from_files(str(cert), str(key)))
    assert certificates.context.minimum_version == ssl.TLSVersion.TLSv1_2
    handshake = SimpleNamespace(context=certificates.context)
    certificates._newest(handshake, "smtp.example.com", certificates.context)
    assert handshake.context is certificates.context  # nothing new yet
    assert certificates.reload() is False

    rotated_cert, rotated_key = write_certificate(tmp_path, "rotated")
    cert.write_bytes(rotated_cert.read_bytes())
    key.write_bytes(rotated_key.read_bytes())
    assert certificates.reload() is True
    certificates._newest(handshake, None, certificates.context)  # a client without SNI too
    assert handshake.context is not certificates.context
    assert handshake.context.minimum_version == ssl.TLSVersion.TLSv1_2
