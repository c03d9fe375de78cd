"""Sender defaults on a credential (docs/api.md, "Administration"), through the real handler with moto's
DynamoDB and the local SES: set on creation, shown by GET, stored on the credential's item, changed and
cleared by PATCH; a message and a batch item without From are sent from the default, one that names its own
From keeps it, and without a default a missing from_email stays 422."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, cast

from posthorn_local.queue_poller import QueuePoller
from posthorn_local.ses_smtp_server import LocalSes
from tests.conftest import Stack
from tests.support.api import ApiClient
from tests.support.bodies import email_body

DEFAULTS = {
    "from_email": "app@example.com",
    "from_name": "Example App",
    "reply_to_email": "support@example.com",
    "reply_to_name": "Support",
}


def new_credential(api: ApiClient, admin: str, **fields: Any) -> dict[str, Any]:
    assert api.post("/v1/domains", {"domain": "example.com"}, api_key=admin).status in (200, 201)
    body = {"name": "app", "domains": ["example.com"], "permissions": ["send", "read"], **fields}
    created = api.post("/v1/credentials", body, api_key=admin)
    assert created.status == 201, created.body
    return dict(created.json)


def mime(raw: bytes) -> EmailMessage:
    return cast(EmailMessage, message_from_bytes(raw, policy=policy.default))


def test_defaults_are_stored_on_the_credential_item_and_shown_by_get(
    api: ApiClient, admin: str, stack: Stack
) -> None:
    created = new_credential(api, admin, sender_defaults=DEFAULTS)
    assert created["sender_defaults"] == DEFAULTS
    shown = api.get(f"/v1/credentials/{created['username']}", api_key=admin)
    assert shown.json["sender_defaults"] == DEFAULTS
    listed = api.get("/v1/credentials", api_key=admin).json["credentials"]
    assert [c["sender_defaults"] for c in listed if c["username"] == created["username"]] == [DEFAULTS]

    item = stack.session.client("dynamodb").get_item(
        TableName=stack.table, Key={"pk": {"S": f"CRED#{created['username']}"}, "sk": {"S": "CRED"}}
    )["Item"]
    assert item["sender_defaults"]["M"]["from_email"] == {"S": "app@example.com"}


def test_a_message_without_from_is_sent_from_the_default_and_one_with_its_own_keeps_it(
    api: ApiClient, admin: str, local_ses: LocalSes
) -> None:
    key = new_credential(api, admin, sender_defaults=DEFAULTS)["api_key"]
    without = api.post("/v1/email", email_body(from_email=...), api_key=key)
    assert without.status == 200, without.body
    own = api.post("/v1/email", email_body(from_email="news@example.com", from_name="News"), api_key=key)
    assert own.status == 200, own.body

    first, second = (mime(message.raw) for message in local_ses.outbox.wait_for(2)[::-1])
    assert first["From"] == "Example App <app@example.com>"
    assert first["Reply-To"] == "Support <support@example.com>"
    assert second["From"] == "News <news@example.com>"
    shown = api.get(f"/v1/messages/{without.json['message_id']}", api_key=key)
    assert shown.json["from_email"] == "app@example.com"


def test_a_batch_item_without_from_is_queued_from_the_default(
    api: ApiClient, admin: str, local_ses: LocalSes, worker: QueuePoller
) -> None:
    key = new_credential(api, admin, sender_defaults={"from_email": "app@example.com"})["api_key"]
    messages = [email_body(from_email=...), email_body(from_email="news@example.com")]
    response = api.post("/v1/email/batch", {"messages": messages}, api_key=key)
    assert response.status == 202, response.body
    assert [r["status"] for r in response.json["results"]] == ["queued", "queued"]
    worker.run_until_empty(timeout=20)
    senders = sorted(str(mime(message.raw)["From"]) for message in local_ses.outbox.wait_for(2))
    assert senders == ["app@example.com", "news@example.com"]


def test_without_a_default_a_missing_from_email_is_422_naming_it_alone_and_in_a_batch(
    api: ApiClient, admin: str, local_ses: LocalSes
) -> None:
    key = new_credential(api, admin)["api_key"]
    single = api.post("/v1/email", email_body(from_email=...), api_key=key)
    assert single.status == 422, single.body
    assert single.json["error"]["code"] == "validation_error"
    assert [d["field"] for d in single.json["error"]["details"]] == ["from_email"]
    batch = api.post("/v1/email/batch", {"messages": [email_body(from_email=...)]}, api_key=key)
    assert batch.json["results"][0] == {"index": 0, "status": "rejected", "error": single.json["error"]}
    assert len(local_ses.outbox) == 0


def test_patch_sets_changes_and_clears_the_defaults(api: ApiClient, admin: str, local_ses: LocalSes) -> None:
    created = new_credential(api, admin)
    path = f"/v1/credentials/{created['username']}"
    changed = api.patch(path, {"sender_defaults": {"from_email": "app@example.com"}}, api_key=admin)
    assert changed.status == 200, changed.body
    assert changed.json["sender_defaults"] == {"from_email": "app@example.com"}
    assert api.post("/v1/email", email_body(from_email=...), api_key=created["api_key"]).status == 200

    cleared = api.patch(path, {"sender_defaults": None}, api_key=admin)
    assert cleared.status == 200, cleared.body
    assert cleared.json["sender_defaults"] is None
    assert api.post("/v1/email", email_body(from_email=...), api_key=created["api_key"]).status == 422


def test_a_default_from_outside_the_credentials_domains_is_422_naming_it(api: ApiClient, admin: str) -> None:
    assert api.post("/v1/domains", {"domain": "example.com"}, api_key=admin).status == 201
    body = {
        "name": "app",
        "domains": ["example.com"],
        "permissions": ["send"],
        "sender_defaults": {"from_email": "hello@example.org"},
    }
    refused = api.post("/v1/credentials", body, api_key=admin)
    assert refused.status == 422, refused.body
    assert [d["field"] for d in refused.json["error"]["details"]] == ["sender_defaults.from_email"]
    unknown = api.post("/v1/credentials", {**body, "sender_defaults": {"from": "x"}}, api_key=admin)
    assert unknown.status == 422, unknown.body
    assert [d["field"] for d in unknown.json["error"]["details"]] == ["sender_defaults.from"]
