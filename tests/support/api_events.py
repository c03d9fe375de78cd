"""Writes the API Gateway sample events in events/ (`python -m tests.support.api_events`).

They are REST API proxy events as API Gateway sends them, valid for `sam local invoke SendFunction -e`,
and the integration tests feed them to the real handler. A test fails when the files drift from here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from posthorn_local.apigw import build_event

EVENTS = Path(__file__).resolve().parents[2] / "events"
SAMPLE_API_KEY = "ph_sample.sample-secret-for-local-invoke-only"
AUTH = {"Authorization": f"Bearer {SAMPLE_API_KEY}", "Content-Type": "application/json"}

SEND = {
    "from_email": "hello@example.com",
    "from_name": "Your App",
    "to": [{"email": "user@example.net", "name": "User"}],
    "subject": "Welcome, {first_name}!",
    "body_text": "Hello {first_name}",
    "body_html": "<p>Hello {first_name}</p>",
    "template_data": {"first_name": "John"},
    "tags": ["welcome"],
    "metadata": {"order_id": "12345"},
}


def _fixed(event: dict[str, Any]) -> dict[str, Any]:
    """Replace per-call values so the files are stable."""
    event["requestContext"]["requestId"] = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    event["requestContext"]["requestTimeEpoch"] = 1_790_000_000_000
    return event


def samples() -> dict[str, dict[str, Any]]:
    return {
        "api_health": build_event("GET", "/v1/health", resource="/v1/health"),
        "api_send_email": build_event(
            "POST", "/v1/email", resource="/v1/email", headers=AUTH, body=json.dumps(SEND).encode()
        ),
        "api_send_email_invalid": build_event(
            "POST",
            "/v1/email",
            resource="/v1/email",
            headers=AUTH,
            body=b'{"from_email": "not an address", "to": ["not an address"]}',
        ),
        "api_create_domain": build_event(
            "POST", "/v1/domains", resource="/v1/domains", headers=AUTH, body=b'{"domain": "example.com"}'
        ),
        "api_get_message": build_event(
            "GET",
            "/v1/messages/msg_01JTESTFIXTURE0000000000",
            resource="/v1/messages/{message_id}",
            path_parameters={"message_id": "msg_01JTESTFIXTURE0000000000"},
            headers=AUTH,
        ),
    }


def render(event: dict[str, Any]) -> str:
    return json.dumps(_fixed(event), indent=2, sort_keys=True) + "\n"


def main() -> None:
    for name, event in samples().items():
        (EVENTS / f"{name}.json").write_text(render(event))


if __name__ == "__main__":
    main()
