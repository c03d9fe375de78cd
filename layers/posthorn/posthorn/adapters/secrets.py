"""Secrets Manager: the SES SMTP credentials and the key that hashes API secrets, read once per process; the
relay's certificate, read again when it is renewed."""

from __future__ import annotations

import json
from functools import cache

from posthorn.adapters.aws import client


def read_secret(secret_id: str) -> str:
    """The secret as Secrets Manager holds it now (what changes while the process runs: a certificate)."""
    return str(client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"])


@cache
def secret_string(secret_id: str) -> str:
    return read_secret(secret_id)


def secret_json(secret_id: str) -> dict[str, str]:
    value = json.loads(secret_string(secret_id))
    if not isinstance(value, dict):
        raise ValueError(f"secret {secret_id} is not a JSON object")
    return value
