"""The relay's certificate: TLS 1.2 or later, from two PEM files (the local stack) or a Secrets Manager
secret `{"certificate": "<PEM chain>", "private_key": "<PEM>"}` (deployed), which is read again every few
minutes so a rotated certificate is served without a restart.

Every listener uses one `SSLContext` (`context`), whose SNI callback hands each new handshake the newest
certificate's context: STARTTLS (587, 2525) and implicit TLS (465) alike, and connections already open keep
the certificate they began with."""

from __future__ import annotations

import json
import logging
import os
import ssl
import tempfile
from collections.abc import Callable
from typing import Any

log = logging.getLogger("smtp_relay.tls")


def server_context(cert_pem: str, key_pem: str) -> ssl.SSLContext:
    """A server context for this certificate and key (load_cert_chain reads files: a private temp dir)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    with tempfile.TemporaryDirectory(prefix="relay-tls-") as directory:
        cert_file, key_file = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
        for path, text in ((cert_file, cert_pem), (key_file, key_pem)):
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as file:
                file.write(text)
        context.load_cert_chain(cert_file, key_file)
    return context


class Certificates:
    """The current certificate, and the one context every listener hands to its connections."""

    def __init__(self, load: Callable[[], tuple[str, str]]) -> None:
        self._load = load
        self._pems = load()
        # The listeners' context; its callback gives each handshake the newest certificate's context.
        self.context = server_context(*self._pems)
        self.context.sni_callback = self._newest
        self._current = self.context

    def _newest(self, connection: Any, server_name: str | None, _: ssl.SSLContext) -> None:
        if self._current is not self.context:
            connection.context = self._current

    def reload(self) -> bool:
        """Read the certificate again; True when it changed (new handshakes get it from now on)."""
        pems = self._load()
        if pems == self._pems:
            return False
        self._current = server_context(*pems)
        self._pems = pems
        log.info("certificate reloaded")
        return True


def from_files(cert_file: str, key_file: str) -> Callable[[], tuple[str, str]]:
    def load() -> tuple[str, str]:
        with open(cert_file) as cert, open(key_file) as key:
            return cert.read(), key.read()

    return load


def from_secret(read: Callable[[], str]) -> Callable[[], tuple[str, str]]:
    """The secret's certificate and key, as `read` gives the secret's JSON now (`wiring.read_secret`)."""

    def load() -> tuple[str, str]:
        value = json.loads(read())
        return str(value["certificate"]), str(value["private_key"])

    return load
