from __future__ import annotations

from posthorn_local.ses_smtp_server import LocalSes
from tests.support.api import ApiClient


def test_send_reaches_local_ses(api: ApiClient, sender_key: str, local_ses: LocalSes) -> None:
    response = api.post(
        "/v1/email",
        {
            "from_email": "hello@example.com",
            "to": ["user@example.net"],
            "subject": "Hi",
            "body_text": "Hello",
        },
        api_key=sender_key,
    )
    assert response.status == 200, response.body
    [received] = local_ses.outbox.list()
    assert received.rcpt_to == ("user@example.net",)
    message = api.get(f"/v1/messages/{response.json['message_id']}", api_key=sender_key)
    assert message.status == 200, message.body
    assert message.json["ses_message_id"] == received.ses_message_id
