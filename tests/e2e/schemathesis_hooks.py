"""Schemathesis hooks (`SCHEMATHESIS_HOOKS=tests.e2e.schemathesis_hooks`, tests/e2e/test_api_fuzzing.py)
that make the requests it generates as valid data ones the API can accept, so they reach the logic
instead of stopping at the first 422.

Only the positive run's cases are changed; the negative run's (schema-breaking on purpose) are sent
as generated. A positive body is repaired with the API's own request model: a field the model refuses
is dropped when it is optional, or given the document's example value. The sender is put on the
credential's domain and the recipients on SES's simulator; a raw file upload becomes a small text file.
What the document's schema cannot say (a From domain the credential owns, bytes that match a file
type) is what these hooks supply.
"""

from __future__ import annotations

import base64
import copy
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import schemathesis
from pydantic import BaseModel, ValidationError
from schemathesis.core.failures import AcceptedNegativeData, Failure
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import CoveragePhaseData

from posthorn.errors import PosthornError
from posthorn.logic.files.attachments import MAX_FILE_BYTES
from posthorn.models.credentials import CreateCredentialRequest, RotateSecretRequest, UpdateCredentialRequest
from posthorn.models.domains import CreateDomainRequest
from posthorn.models.email import SendEmailRequest
from posthorn.models.files import CreateUploadRequest, UploadFileRequest
from posthorn.models.suppressions import CreateSuppressionRequest
from send_api import examples
from send_api.compat import dreamfactory, mailpace, resend, zeptomail
from tests.support.openapi_conformance import committed_document, schema_errors

DOMAIN = os.environ.get("POSTHORN_FUZZ_DOMAIN", "example.com")
USERNAME = os.environ.get("POSTHORN_FUZZ_USERNAME", "")
SIMULATOR = "success@simulator.amazonses.com"
# The positive run repairs every case; the negative run sends Schemathesis's schema-breaking cases as
# they are (one run of each, tests/e2e/test_api_fuzzing.py: a case's own positive/negative label cannot
# be trusted once a hook has changed it).
REPAIR = os.environ.get("POSTHORN_FUZZ_MODE") == "positive"

SEND = {**examples.SEND_REQUEST, "from_email": f"hello@{DOMAIN}", "to": [SIMULATOR]}
# (method, path) → the model the route validates its body with, and the example that model accepts.
BODIES: dict[tuple[str, str], tuple[type[BaseModel], dict[str, Any]]] = {
    ("POST", "/v1/email"): (SendEmailRequest, SEND),
    ("POST", "/v1/domains"): (CreateDomainRequest, examples.DOMAIN_REQUEST),
    ("POST", "/v1/credentials"): (
        CreateCredentialRequest,
        {**examples.CREDENTIAL_REQUEST, "domains": [DOMAIN]},
    ),
    ("PATCH", "/v1/credentials/{username}"): (UpdateCredentialRequest, examples.CREDENTIAL_UPDATE),
    ("POST", "/v1/credentials/{username}/secret"): (RotateSecretRequest, examples.ROTATE_REQUEST),
    ("POST", "/v1/suppressions"): (
        CreateSuppressionRequest,
        {**examples.SUPPRESSION_REQUEST, "domain": DOMAIN},
    ),
    ("POST", "/v1/files/uploads"): (CreateUploadRequest, examples.UPLOAD_REQUEST),
    ("POST", "/v1/files"): (
        UploadFileRequest,
        {
            "name": "notes.txt",
            "content": base64.b64encode(b"fuzzed notes\n").decode(),
            "content_type": "text/plain",
        },
    ),
}


def repaired(model: type[BaseModel], body: Any, example: dict[str, Any]) -> Any:
    """`body` with every field `model` refuses dropped (optional) or replaced by the example's value."""
    if not isinstance(body, dict):
        return copy.deepcopy(example)
    body = dict(body)
    for _ in range(len(model.model_fields) + 1):
        try:
            model.model_validate(body)
        except ValidationError as error:
            for problem in error.errors():
                field = str(problem["loc"][0]) if problem["loc"] else ""
                if field in example:
                    body[field] = copy.deepcopy(example[field])
                elif field in body:
                    del body[field]
                else:  # a rule over the whole body: start from the example
                    return copy.deepcopy(example)
        else:
            return body
    return copy.deepcopy(example)


def compatible(body: Any, fix: Any, check: Any, example: dict[str, Any]) -> Any:
    """A compatible surface's body the credential may send: `fix` puts the sender on its domain and the
    recipients on SES's simulator (and leaves out attachments, whose bytes and file keys the schema cannot
    make real); if the surface's own mapping (`check`) still refuses it, its example, fixed the same way."""
    if isinstance(body, dict):
        candidate = fix(copy.deepcopy(body))
        try:
            check(candidate)
        except (PosthornError, TypeError, ValueError):
            pass
        else:
            return candidate
    return fix(copy.deepcopy(example))


def _zeptomail_fixed(body: dict[str, Any]) -> dict[str, Any]:
    body["from"] = {"address": f"hello@{DOMAIN}"}
    for field in ("cc", "bcc"):
        if body.get(field):
            body[field] = [{"email_address": {"address": SIMULATOR}}]
    recipients = body.get("to") if isinstance(body.get("to"), list) else []
    # At most three: a batch counts every recipient against the credential's rate.
    body["to"] = [
        {**(item if isinstance(item, dict) else {}), "email_address": {"address": SIMULATOR}}
        for item in recipients[:3]
    ] or [{"email_address": {"address": SIMULATOR}}]
    for field in ("attachments", "inline_images", "reply_to"):
        body.pop(field, None)
    return body


def _mailpace_fixed(body: dict[str, Any]) -> dict[str, Any]:
    body["from"] = f"hello@{DOMAIN}"
    body["to"] = SIMULATOR
    for field in ("cc", "bcc"):
        if body.get(field) is not None:
            body[field] = SIMULATOR
    for field in ("attachments", "replyto"):
        body.pop(field, None)
    return body


COMPATIBLE: dict[tuple[str, str], tuple[Any, Any, dict[str, Any]]] = {
    ("POST", "/zeptomail/v1.1/email"): (_zeptomail_fixed, zeptomail.single, zeptomail.SEND_EXAMPLE),
    ("POST", "/zeptomail/v1.1/email/batch"): (_zeptomail_fixed, zeptomail.batch, zeptomail.BATCH_EXAMPLE),
    ("POST", "/mailpace/api/v1/send"): (_mailpace_fixed, mailpace.message, mailpace.EXAMPLE),
}


def sendable(body: Any) -> Any:
    """A message the credential may send: from its domain, to SES's simulator."""
    body = repaired(SendEmailRequest, body, SEND)
    body["from_email"] = f"hello@{DOMAIN}"
    for field in ("to", "cc", "bcc"):
        if body.get(field):
            body[field] = [SIMULATOR]
    return repaired(SendEmailRequest, body, SEND)


RESEND_EMAIL = {**resend.EXAMPLE_EMAIL, "from": f"hello@{DOMAIN}", "to": [SIMULATOR]}
RESEND_ATTACHMENT = {"filename": "notes.txt", "content": base64.b64encode(b"fuzzed notes\n").decode()}


def resend_sendable(body: Any) -> Any:
    """A Resend email the credential may send (send_api.compat.resend): from its domain, to SES's
    simulator, a small text file for any attachments, and each field the mapping refuses dropped or given
    the example's value."""
    if not isinstance(body, dict):
        return copy.deepcopy(RESEND_EMAIL)
    body = {**body, "from": f"hello@{DOMAIN}"}
    for field in ("to", "cc", "bcc", "reply_to"):
        if body.get(field) is not None:
            body[field] = [SIMULATOR] if isinstance(body[field], list) else SIMULATOR
    if body.get("attachments"):
        body["attachments"] = [RESEND_ATTACHMENT]
    for _ in range(len(body) + 2):
        try:
            resend.message_of(body)
        except PosthornError as error:
            field = str((error.details or [{}])[0].get("field", "")).split("[")[0].split(".")[0]
            if field in RESEND_EMAIL:
                body[field] = copy.deepcopy(RESEND_EMAIL[field])
            elif field in body:
                del body[field]
            else:
                return copy.deepcopy(RESEND_EMAIL)
        else:
            return body
    return copy.deepcopy(RESEND_EMAIL)


# A Postmark message the credential may send (send_api.compat.postmark): from its domain, to the simulator.
POSTMARK = {"From": f"Hello <hello@{DOMAIN}>", "To": SIMULATOR, "Subject": "Hello", "TextBody": "Hello"}


def postmark_sendable(body: Any) -> Any:
    """A Postmark message the surface accepts: each field it refuses dropped (optional) or the example's,
    the addresses on the credential's domain and the simulator, no attachment (whose bytes the document
    cannot make a real file of)."""
    from posthorn.errors import ValidationFailed
    from send_api.compat.postmark import message_of

    if not isinstance(body, dict):
        return copy.deepcopy(POSTMARK)
    body = {key: value for key, value in body.items() if key != "Attachments"}
    for field, value in (("From", POSTMARK["From"]), ("To", SIMULATOR)):
        body[field] = value
    for field in ("Cc", "Bcc", "ReplyTo"):
        if body.get(field):
            body[field] = SIMULATOR
    for _ in range(len(body) + 2):
        try:
            message_of(body)
        except ValidationFailed as error:
            field = error.details[0].get("field", "").split("[")[0].split(".")[0]
            if field in POSTMARK:
                body[field] = POSTMARK[field]
            elif field in body:
                del body[field]
            else:  # a rule over the whole message (no body at all)
                body["TextBody"] = POSTMARK["TextBody"]
        else:
            return body
    return copy.deepcopy(POSTMARK)


def dreamfactory_sendable(body: Any) -> Any:
    """A DreamFactory request the credential may send: its From on the credential's domain (the fuzzing
    credential has no sender defaults), recipients on SES's simulator, and no field that fills no
    placeholder (the schema cannot say which fields the subject and bodies use)."""
    example = {**dreamfactory.SEED_EXAMPLE, "to": [SIMULATOR], "from_email": f"hello@{DOMAIN}"}
    if not isinstance(body, dict):
        return example
    body = {name: value for name, value in body.items() if name in dreamfactory.OWN_FIELDS}
    body["from_email"] = f"hello@{DOMAIN}"
    for field in dreamfactory.ADDRESS_FIELDS:
        if body.get(field) or field == "to":
            body[field] = [SIMULATOR]
    try:
        dreamfactory.to_message(body)
    except PosthornError:
        return example
    return body


def own_sender_defaults(body: Any) -> Any:
    """A credential's default From on the fuzzing domain (another domain is refused, as it must be)."""
    defaults = body.get("sender_defaults") if isinstance(body, dict) else None
    if isinstance(defaults, dict) and "from_email" in defaults:
        body["sender_defaults"] = {**defaults, "from_email": f"hello@{DOMAIN}"}
    return body


@schemathesis.hook
def before_add_examples(context: schemathesis.HookContext, examples: list[schemathesis.Case]) -> None:
    """The explicit examples (the document's, combined by Schemathesis) are valid data: repaired too."""
    for index, case in enumerate(examples):
        examples[index] = map_case(context, case)


@schemathesis.hook
def filter_failure(
    context: schemathesis.HookContext, failure: Failure, case: schemathesis.Case, response: Any
) -> bool:
    """Schemathesis 4.32.5's coverage phase sends a header's positive near-boundary value (255 characters
    for `maxLength: 256`) under a negative label, then reports the API for accepting it. Drop exactly
    that report: an accepted "negative" case whose labelled header value the document itself accepts
    (the run's summary counts what was dropped)."""
    data = case.meta.phase.data if case.meta is not None else None
    if not isinstance(failure, AcceptedNegativeData) or not isinstance(data, CoveragePhaseData):
        return True
    if data.parameter_location is not ParameterLocation.HEADER or not data.parameter:
        return True
    value = case.headers.get(data.parameter)
    schema = header_schema(case.operation.method, case.operation.path, data.parameter)
    if not isinstance(value, str) or schema is None:
        return True
    return bool(schema_errors(committed_document(), schema, value))


def header_schema(method: str, path: str, name: str) -> dict[str, Any] | None:
    operation = committed_document()["paths"].get(path, {}).get(method.lower(), {})
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "header" and parameter["name"].lower() == name.lower():
            schema: dict[str, Any] = parameter["schema"]
            return schema
    return None


@schemathesis.hook
def map_case(context: schemathesis.HookContext, case: schemathesis.Case) -> schemathesis.Case:
    if not REPAIR:
        return case
    key = (case.operation.method.upper(), case.operation.path)
    if key == ("POST", "/v1/files"):
        if case.media_type == "application/octet-stream":
            case.query = {"name": "notes.txt", "content_type": "text/plain"}
            case.body = b"fuzzed notes\n"
            return case
        # A JSON upload names the file in its body; a name and type that fit each other and the bytes.
        case.query = {}
        case.body = copy.deepcopy(BODIES[key][1])
        return case
    if key == ("POST", "/v1/files/uploads") and isinstance(case.body, dict):
        # Any name and type the file checks accept, at a size the cache takes (a larger one is a 413).
        size = case.body.get("size")
        size = (
            size if isinstance(size, int) and 1 <= size <= MAX_FILE_BYTES else examples.UPLOAD_REQUEST["size"]
        )
        case.body = {**examples.UPLOAD_REQUEST, "size": size}
        return case
    changes_a_credential = key in (
        ("PATCH", "/v1/credentials/{username}"),
        ("POST", "/v1/credentials/{username}/secret"),
    )
    if changes_a_credential and case.path_parameters.get("username") == USERNAME:
        case.path_parameters["username"] = "ph_someoneelse"  # the fuzzing credential stays usable
    if key == ("POST", "/postmark/email"):
        case.body = postmark_sendable(case.body)
        return case
    if key == ("POST", "/postmark/email/batch"):
        items = case.body if isinstance(case.body, list) and case.body else [None]
        case.body = [postmark_sendable(item) for item in items]
        return case
    if key in COMPATIBLE:
        case.body = compatible(case.body, *COMPATIBLE[key])
        return case
    if key == ("POST", "/v1/email/batch") and isinstance(case.body, dict):
        messages = case.body.get("messages")
        if isinstance(messages, list) and messages:
            case.body = {"messages": [sendable(item) for item in messages]}
    elif key == ("POST", "/v1/email"):
        case.body = sendable(case.body)
    elif key == ("POST", "/resend/emails"):
        case.body = resend_sendable(case.body)
    elif key == ("POST", "/resend/emails/batch") and isinstance(case.body, list) and case.body:
        case.body = [resend_sendable(item) for item in case.body[: resend.MAX_BATCH]]
    elif key == ("POST", "/api/v2/{service}"):
        case.body = dreamfactory_sendable(case.body)
    elif key in BODIES:
        model, example = BODIES[key]
        case.body = own_sender_defaults(repaired(model, case.body, example))
    suppressed = case.body.get("email") if isinstance(case.body, dict) else None
    if key == ("POST", "/v1/suppressions") and suppressed == SIMULATOR:
        # The fuzzed messages' recipient stays sendable (a suppressed one is a 422 for every send).
        case.body["email"] = examples.SUPPRESSION_REQUEST["email"]
    if (
        key == ("PATCH", "/v1/credentials/{username}")
        and isinstance(case.body, dict)
        and case.body.get("status") == "revoked"
    ):
        # Revoking is final: a later valid PATCH of the same credential would be refused (422).
        case.body["status"] = "suspended"
    if key[1] in ("/v1/suppressions", "/v1/suppressions/{email}") and "domain" in case.query:
        case.query["domain"] = DOMAIN
    if key[0] == "GET" and key[1] in LISTINGS:
        case.query = listing_query(key[1], case.query or {})
    return case


# The listing and stats routes: what their query's schema cannot say.
LISTINGS = frozenset({"/v1/messages", "/v1/suppressions", "/v1/stats"})


def listing_query(path: str, query: dict[str, Any]) -> dict[str, Any]:
    """A query the route can answer 200: addresses that are addresses, the credential's domain, no made-up
    cursor (a cursor is valid only as the API signed it), and a stats range within the route's limits."""
    query = dict(query)
    query.pop("cursor", None)
    for field in ("recipient", "from_email"):
        if field in query:
            query[field] = SIMULATOR if field == "recipient" else f"hello@{DOMAIN}"
    if path == "/v1/stats":
        if "domain" in query:
            query["domain"] = DOMAIN
        since, until = _moment(query.get("since")), _moment(query.get("until"))
        now = datetime.now(UTC)
        start, end = since or (until or now) - timedelta(days=30), until or now
        if start > end or end - start > timedelta(days=31):
            query.pop("since", None)
            query.pop("until", None)
    return query


def _moment(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value is not None else None
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment
