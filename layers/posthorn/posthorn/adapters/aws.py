"""boto3 clients, created on first use and kept for warm invocations. `AWS_ENDPOINT_URL` (set by the local
stack and tests) points them at moto; deployed, they reach AWS."""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    # S3: SigV4 everywhere, so presigned URLs sign their Content-Type and Content-Length headers.
    signing = {"signature_version": "s3v4"} if service == "s3" else {}
    return boto3.session.Session().client(
        service,
        config=Config(
            retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10, **signing
        ),
    )
