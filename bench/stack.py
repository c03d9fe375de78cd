"""What the throughput and memory benchmarks share: the template's resources in moto (in-process, or the moto
server when `endpoint` is given), the functions' environment pointing at them and at the local SES, a sender
credential for example.com, and the real handlers invoked with Lambda's events."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.services import SesProcess, local_ses, moto_server

SENDER_KEY = "ph_bench.bench-secret-for-benchmarks-only-0123456789"
DOMAIN = "example.com"
FUNCTIONS = ("SendFunction", "SendWorkerFunction", "EventsFunction")


@dataclass
class BenchStack:
    ids: dict[str, str]
    session: Any

    def api(self, method: str, path: str, body: Any = None, **headers: str) -> tuple[int, Any]:
        """One API request through the SendFunction handler, as API Gateway would make it."""
        from posthorn_local.apigw import LambdaContext, build_event, decode_response
        from send_api.handler import lambda_handler

        event = build_event(
            method,
            path,
            headers={
                "Authorization": f"Bearer {SENDER_KEY}",
                "Content-Type": "application/json",
                **headers,
            },
            body=None if body is None else json.dumps(body).encode(),
        )
        status, _, raw = decode_response(lambda_handler(event, LambdaContext(function_name="send")))
        return status, json.loads(raw) if raw else None

    def queue_arn(self, queue: str = "SendQueue") -> str:
        attributes = self.session.client("sqs").get_queue_attributes(
            QueueUrl=self.ids[queue], AttributeNames=["QueueArn"]
        )
        return str(attributes["Attributes"]["QueueArn"])

    def empty_queue(self, queue: str = "SendQueue") -> None:
        """Delete and create the queue again, as the template declares it (moto's SQS slows down with every
        message a queue holds, and only lets a queue be purged once a minute)."""
        from posthorn_local import template
        from posthorn_local.provision import queue_attributes

        sqs = self.session.client("sqs")
        name = self.ids[queue].rsplit("/", 1)[-1]
        sqs.delete_queue(QueueUrl=self.ids[queue])
        properties = template.resources("AWS::SQS::Queue")[queue]["Properties"]
        created = sqs.create_queue(QueueName=name, Attributes=queue_attributes(properties, self.ids, sqs))
        assert created["QueueUrl"] == self.ids[queue], created

    def receive_all(self, queue: str = "SendQueue") -> list[list[dict[str, Any]]]:
        """Everything waiting in the queue, received in batches of 10 as Lambda's event source mapping does
        (the messages stay in flight for the queue's visibility timeout)."""
        sqs = self.session.client("sqs")
        batches = []
        while True:
            received = sqs.receive_message(
                QueueUrl=self.ids[queue],
                MaxNumberOfMessages=10,
                MessageSystemAttributeNames=["All"],
            ).get("Messages", [])
            if not received:
                return batches
            batches.append(received)


def fake_aws_credentials() -> None:
    """Credentials and a region for moto (never a real account), and the service name Powertools logs."""
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        POWERTOOLS_SERVICE_NAME="posthorn",
    )


@contextmanager
def served_stack(*, reply_delay: float, **settings: str) -> Iterator[tuple[BenchStack, SesProcess]]:
    """The local SES and the moto server, each in a process of its own, and the stack provisioned into that
    moto server (AWS_ENDPOINT_URL points at it)."""
    fake_aws_credentials()
    with (
        tempfile.TemporaryDirectory(prefix="posthorn-bench-") as directory,
        local_ses(Path(directory), reply_delay=reply_delay) as ses,
        moto_server() as endpoint,
    ):
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        stack = start(
            smtp_port=ses.port,
            ca_file=str(ses.ca_file),
            username=ses.username,
            password=ses.password,
            **settings,
        )
        yield stack, ses


def start(*, smtp_port: int, ca_file: str, username: str, password: str, **settings: str) -> BenchStack:
    """Provision into whatever AWS the environment points at (call inside `mock_aws()`, or with
    AWS_ENDPOINT_URL set), set the functions' environment, and seed the sender and its domain."""
    import boto3

    from posthorn import wiring
    from posthorn.adapters.secrets import secret_string
    from posthorn.logic.accounts.credentials import seed_credential
    from posthorn.models.credentials import Permission
    from posthorn.models.domains import DomainRecord, DomainStatus
    from posthorn_local.provision import LocalSmtpSecret, environment, provision

    session = boto3.Session(region_name="us-east-1")
    ids = provision(session, prefix="bench", smtp=LocalSmtpSecret(username, password))
    overrides = {
        "SES_SMTP_HOST": "localhost",
        "SES_SMTP_PORT": str(smtp_port),
        "SES_SMTP_TLS": "starttls",
        "SES_SMTP_SECRET_ID": ids["SesSmtpSecretId"],
    }
    for function in FUNCTIONS:
        os.environ.update(environment(function, ids, overrides))
    os.environ.update(
        {
            "SES_SMTP_CA_FILE": ca_file,
            "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "POWERTOOLS_METRICS_NAMESPACE": "Bench",
            **settings,
        }
    )
    wiring.reset()

    now = datetime.now(UTC)
    domain = DomainRecord(domain=DOMAIN, status=DomainStatus.VERIFIED, dns_records=[], created_at=now)
    wiring.domains().put_domain(domain)
    seed_credential(
        wiring.credentials(),
        secret_string(ids["CredentialPepperSecret"]).encode(),
        SENDER_KEY,
        name="bench",
        permissions=[Permission.SEND, Permission.FILES, Permission.READ],
        domains=[DOMAIN],
        now=now,
    )
    return BenchStack(ids=ids, session=session)


def message(index: int, **overrides: Any) -> dict[str, Any]:
    """A POST /v1/email body like a transactional one: a name, a subject, text and HTML."""
    body: dict[str, Any] = {
        "from_email": f"hello@{DOMAIN}",
        "from_name": "Bench",
        "to": [f"user{index}@example.net"],
        "subject": f"Your receipt {index}",
        "body_text": f"Hello {index},\n\nthank you for your order. Your receipt is below.\n" * 4,
        "body_html": f"<p>Hello {index},</p><p>thank you for your order. Your receipt is below.</p>" * 4,
        "tags": ["receipt"],
    }
    body.update(overrides)
    return body
