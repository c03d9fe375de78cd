"""Real requests and answers for the OpenAPI document (what Swagger UI shows and "Try it out" sends),
recorded from the local stack and trimmed; tests/unit/test_contract.py checks each against its schema.
Plain JSON, so nothing is built when the API starts."""

from __future__ import annotations

from typing import Any

MESSAGE_ID = "msg_01M8RNF157FFG3073M0HNB5GGD"
USERNAME = "ph_34a590f41b44410a537c"
CREATED_AT = "2026-12-01T11:22:28.584457Z"

# --- sending ---------------------------------------------------------------------------------------------
SEND_REQUEST: dict[str, Any] = {
    "from_email": "hello@example.com",
    "from_name": "Example App",
    "to": [{"email": "success@simulator.amazonses.com", "name": "Ada Lovelace"}],
    "subject": "Your receipt",
    "body_text": "Thanks for your order.",
    "body_html": "<p>Thanks for your order.</p>",
    "tags": ["receipt"],
    "metadata": {"order_id": "1042"},
}
SENT: dict[str, Any] = {
    "message_id": MESSAGE_ID,
    "status": "sent",
    "count": 1,
    "recipients": [{"email": "success@simulator.amazonses.com", "type": "to", "status": "sent"}],
}
QUEUED: dict[str, Any] = {
    **SENT,
    "status": "queued",
    "recipients": [{"email": "success@simulator.amazonses.com", "type": "to", "status": "queued"}],
}
BATCH_REQUEST: dict[str, Any] = {
    "messages": [SEND_REQUEST, {**SEND_REQUEST, "to": [{"email": "not-an-address"}]}],
}
BATCH_ACCEPTED: dict[str, Any] = {
    "count": 1,
    "results": [
        {"index": 0, "status": "queued", "message_id": "msg_01M8RNF16RVT63JAZRT5PK8PM5"},
        {
            "index": 1,
            "status": "rejected",
            "error": {
                "code": "validation_error",
                "message": "the request is invalid: to[0].email: 'not-an-address' is not an email address",
                "details": [{"field": "to[0].email", "message": "'not-an-address' is not an email address"}],
            },
        },
    ],
}

# --- messages --------------------------------------------------------------------------------------------
MESSAGE: dict[str, Any] = {
    "message_id": MESSAGE_ID,
    "status": "delivered",
    "created_at": "2026-12-01T11:22:28.903741Z",
    "from_email": "hello@example.com",
    "subject": "Your receipt",
    "tags": ["receipt"],
    "metadata": {"order_id": "1042"},
    "client_reference": None,
    "ses_message_id": "010001a2315784b4-093589d4-6519-4987-8870-5aac6e535758-000000",
    "error": None,
    "source": "api",
    "recipients": [{"email": "success@simulator.amazonses.com", "type": "to", "status": "delivered"}],
    "events": [
        {
            "type": "send",
            "timestamp": "2026-12-01T11:22:28.916000Z",
            "recipient": "success@simulator.amazonses.com",
            "details": {},
        },
        {
            "type": "delivery",
            "timestamp": "2026-12-01T11:22:29.204000Z",
            "recipient": "success@simulator.amazonses.com",
            "details": {
                "processing_time_millis": 288,
                "smtp_response": "250 2.6.0 Message received",
                "reporting_mta": "a8-70.smtp-out.amazonses.com",
            },
        },
    ],
}

# --- suppressions ----------------------------------------------------------------------------------------
SUPPRESSION_REQUEST: dict[str, Any] = {"email": "bounced@example.net", "domain": "example.com"}
SUPPRESSION: dict[str, Any] = {
    "email": "bounced@example.net",
    "domain": "example.com",
    "reason": "manual",
    "created_at": "2026-12-01T11:22:31.003704Z",
    "source_message_id": None,
}
SUPPRESSIONS: dict[str, Any] = {"suppressions": [SUPPRESSION]}

# --- files -----------------------------------------------------------------------------------------------
FILE: dict[str, Any] = {
    "file_key": "fk_qhVnI8k3P6kZpGYWdvMCbCHzZHlQbtFJ",
    "name": "invoice.pdf",
    "content_type": "application/pdf",
    "size": 23,
    "sha256": "6bf40e936a9a8e96aeba4e7c35a990632e9ca8c59e1829c9da0638763f45b50b",
    "status": "ready",
    "expires_at": "2026-12-31T11:22:31.045871Z",
    "rejection": None,
}
FILE_JSON_UPLOAD: dict[str, Any] = {
    "name": "invoice.pdf",
    "content": "JVBERi0xLjQgYSB0aW55IGludm9pY2U=",
    "content_type": "application/pdf",
}
UPLOAD_REQUEST: dict[str, Any] = {"name": "catalog.pdf", "content_type": "application/pdf", "size": 7340032}
UPLOAD: dict[str, Any] = {
    "file_key": "fk_f1LW5tqVVTab9jiVoO_fYsTNQsiC1L_7",
    "upload_url": (
        "https://posthorn-prod-filesbucket.s3.amazonaws.com/files/ph_34a590f41b44410a537c/uploads/"
        "fk_f1LW5tqVVTab9jiVoO_fYsTNQsiC1L_7?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=3600"
        "&X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost&X-Amz-Signature=fea9db6d"
    ),
    "upload_method": "PUT",
    "upload_headers": {"Content-Type": "application/pdf", "Content-Length": "7340032"},
    "upload_expires_at": "2026-12-01T12:22:31.100812Z",
    "expires_at": "2026-12-31T11:22:31.100812Z",
}

# --- administration --------------------------------------------------------------------------------------
DOMAIN_REQUEST: dict[str, Any] = {"domain": "example.com"}
DOMAIN_RECORD: dict[str, Any] = {
    "domain": "example.com",
    "status": "pending",
    "dns_records": [
        {
            "type": "CNAME",
            "name": f"{token}._domainkey.example.com",
            "value": f"{token}.dkim.amazonses.com",
            "purpose": "dkim",
        }
        for token in (
            "270849da636a397f89035265e08b5412",
            "17f31246e088dbd4fec3bf7b4be7d33f",
            "3efb618105b42a327e51cd3e04166c5b",
        )
    ]
    + [{"type": "TXT", "name": "_dmarc.example.com", "value": "v=DMARC1; p=none;", "purpose": "dmarc"}],
    "created_at": "2026-12-01T11:22:28.550599Z",
}
NEW_DOMAIN: dict[str, Any] = {**DOMAIN_RECORD, "sending": "enabled", "paused_at": None, "paused_reason": None}
REPUTATION: dict[str, Any] = {
    "window": 10000,
    "sent": 10000,
    "bounced": 412,
    "complained": 2,
    "bounce_rate": 0.0412,
    "complaint_rate": 0.0002,
}
DOMAIN_VIEW: dict[str, Any] = {
    **DOMAIN_RECORD,
    "status": "verified",
    "sending": "paused",
    "paused_at": "2026-12-01T11:40:02.118311Z",
    "paused_reason": "bounce rate 4.12% over the last 10000 recipients reached 4.00% (412 hard bounces)",
    "reputation": REPUTATION,
}
RESUMED_DOMAIN: dict[str, Any] = {
    **DOMAIN_VIEW,
    "sending": "enabled",
    "paused_at": None,
    "paused_reason": None,
    "reputation": {
        **REPUTATION,
        "sent": 0,
        "bounced": 0,
        "complained": 0,
        "bounce_rate": 0.0,
        "complaint_rate": 0.0,
    },
}
SENDER_DEFAULTS: dict[str, Any] = {"from_email": "hello@example.com", "from_name": "Example"}
CREDENTIAL_REQUEST: dict[str, Any] = {
    "name": "web app",
    "domains": ["example.com"],
    "permissions": ["send", "read", "files"],
    "sender_defaults": SENDER_DEFAULTS,
}
CREDENTIAL: dict[str, Any] = {
    "username": USERNAME,
    "name": "web app",
    "domains": ["example.com"],
    "permissions": ["send", "read", "files"],
    "status": "active",
    "rate_limit_per_second": None,
    "sender_defaults": SENDER_DEFAULTS,
    "created_at": CREATED_AT,
}
CREATED_CREDENTIAL: dict[str, Any] = {
    **CREDENTIAL,
    "secret": "XjH239GJ2fFNj499GkXr_AKQYnFEHF2vQG-M-JSwSuc",
    "api_key": f"{USERNAME}.XjH239GJ2fFNj499GkXr_AKQYnFEHF2vQG-M-JSwSuc",
}
CREDENTIALS: dict[str, Any] = {"credentials": [CREDENTIAL]}
CREDENTIAL_UPDATE: dict[str, Any] = {"status": "suspended"}
SUSPENDED_CREDENTIAL: dict[str, Any] = {**CREDENTIAL, "status": "suspended"}
DOMAINS: dict[str, Any] = {"domains": [NEW_DOMAIN]}
ROTATE_REQUEST: dict[str, Any] = {"keep_old_seconds": 600}

HEALTH: dict[str, Any] = {"status": "ok"}

MESSAGE_SUMMARY: dict[str, Any] = {
    key: MESSAGE[key]
    for key in (
        "message_id",
        "status",
        "created_at",
        "from_email",
        "subject",
        "tags",
        "metadata",
        "client_reference",
        "source",
        "recipients",
    )
}
MESSAGES: dict[str, Any] = {
    "messages": [MESSAGE_SUMMARY],
    "next_cursor": (
        "eyIwIjoiMjAyNi0xMi0wMVQxMToyMjoyOC41ODRaI21zZ18wMU04Uk5GMTU3RkZHMzA3M00wSE5CNUdHRCJ9"
        ".2u4Cz1v1yXo2v0AfB9N9Tw"
    ),
}
SUPPRESSION_PAGE: dict[str, Any] = {"suppressions": [SUPPRESSION], "next_cursor": None}
STATS: dict[str, Any] = {
    "since": "2026-11-01T11:22:28Z",
    "until": "2026-12-01T11:22:28Z",
    "domain": "example.com",
    "tag": None,
    "interval": "day",
    "totals": {
        "sent": 1200,
        "delivered": 1180,
        "delivery_delayed": 4,
        "bounced": 14,
        "complained": 1,
        "opened": 530,
        "clicked": 120,
        "rejected": 0,
        "failed": 2,
        "suppressed": 6,
    },
    "rates": {"bounce": 0.011667, "complaint": 0.000833, "open": 0.441667, "click": 0.1},
    "series": [
        {
            "start": "2026-12-01T00:00:00Z",
            "sent": 40,
            "delivered": 39,
            "delivery_delayed": 0,
            "bounced": 1,
            "complained": 0,
            "opened": 18,
            "clicked": 4,
            "rejected": 0,
            "failed": 0,
            "suppressed": 0,
        }
    ],
}

# --- webhooks --------------------------------------------------------------------------------------------
WEBHOOK_ID = "wh_9f2c41d07be35a86e1c4d2f0"
WEBHOOK_REQUEST: dict[str, Any] = {
    "url": "https://hooks.example.com/posthorn",
    "events": ["email.delivered", "email.bounced", "email.complained"],
    "description": "delivery status into the CRM",
}
WEBHOOK: dict[str, Any] = {
    "webhook_id": WEBHOOK_ID,
    "url": "https://hooks.example.com/posthorn",
    "events": ["email.delivered", "email.bounced", "email.complained"],
    "domains": ["example.com"],
    "description": "delivery status into the CRM",
    "status": "enabled",
    "disabled_reason": None,
    "created_at": CREATED_AT,
}
CREATED_WEBHOOK: dict[str, Any] = {**WEBHOOK, "secret": "whsec_kX3pQ0d8vQ2n5yT9m1Lr7cF4sH6jB0eW2aZ8uN3xV5o="}
WEBHOOKS: dict[str, Any] = {"webhooks": [WEBHOOK]}
WEBHOOK_UPDATE: dict[str, Any] = {"status": "disabled"}
DISABLED_WEBHOOK: dict[str, Any] = {
    **WEBHOOK,
    "status": "disabled",
    "disabled_reason": "disabled through the API",
}
ROTATED_SECRET: dict[str, Any] = {"secret": "whsec_J8dM2qK5rT0vX3yA6bN9cE1fH4gL7pS0uW3zQ6iO9k2="}
DELIVERY_ID = "msg_5d1e8b0c2a4f6e9d7c3b1a0f8e6d4c2b"
DELIVERY_ACCEPTED: dict[str, Any] = {"delivery_id": DELIVERY_ID}
DELIVERIES: dict[str, Any] = {
    "deliveries": [
        {
            "delivery_id": DELIVERY_ID,
            "event_type": "email.delivered",
            "message_id": MESSAGE_ID,
            "status": "succeeded",
            "attempts": [
                {
                    "at": "2026-12-01T11:22:31.104Z",
                    "http_status": 503,
                    "duration_ms": 212,
                    "error": None,
                    "response_body": "upstream busy",
                },
                {
                    "at": "2026-12-01T11:22:36.730Z",
                    "http_status": 200,
                    "duration_ms": 48,
                    "error": None,
                    "response_body": '{"ok":true}',
                },
            ],
            "next_attempt_at": None,
            "created_at": "2026-12-01T11:22:31.098Z",
        }
    ],
    "next_cursor": None,
}
