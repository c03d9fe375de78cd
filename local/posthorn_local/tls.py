"""Throwaway TLS material for the local stack: a private CA and a server certificate (trustme)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class TlsMaterial:
    """A server-side TLS context and the CA file a client (in any process) needs to verify it."""

    ca_file: Path
    server_context: ssl.SSLContext
    # The server certificate (with its chain) and key as PEM files, for servers that load files.
    cert_file: Path
    key_file: Path

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context (hostname check on) that trusts only this CA."""
        return ssl.create_default_context(cafile=str(self.ca_file))


def make_tls_material(directory: Path, hostname: str = "localhost") -> TlsMaterial:
    """Create a CA and a certificate for `hostname` and 127.0.0.1; write the CA to `directory/ca.pem`."""
    ca = trustme.CA()
    identities = dict.fromkeys([hostname, "localhost", "127.0.0.1"])
    cert = ca.issue_cert(*identities)

    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.minimum_version = ssl.TLSVersion.TLSv1_2
    cert.configure_cert(server_context)

    directory.mkdir(parents=True, exist_ok=True)
    ca_file, cert_file, key_file = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cert_file.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(str(key_file))
    key_file.chmod(0o600)
    return TlsMaterial(ca_file=ca_file, server_context=server_context, cert_file=cert_file, key_file=key_file)
