"""Secrets Manager: the SES SMTP credentials and the key that hashes API secrets, read once per process."""

from __future__ import annotations

import json
from functools import cache

from posthorn.adapters.aws import client


@cache
def secret_string(secret_id: str) -> str:
    return str(client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"])


def secret_json(secret_id: str) -> dict[str, str]:
    value = json.loads(secret_string(secret_id))
    if not isinstance(value, dict):
        raise ValueError(f"secret {secret_id} is not a JSON object")
    return value
