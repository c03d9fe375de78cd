"""Messages (permission `read`): the listing with its filters, and one message with its event timeline."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Depends
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from posthorn import wiring
from posthorn.errors import NotFound, ValidationFailed
from posthorn.logic.events.recipient_status import RecipientStatus
from posthorn.logic.insight.listing import MessageFilters, list_messages
from posthorn.logic.insight.messages import message_for
from posthorn.models.addresses import Address
from posthorn.models.messages import MessageList, MessageSummary, MessageView
from posthorn.ports import MessageIndex, MessageReader
from send_api import examples
from send_api.auth import CallerCredential
from send_api.contract import Success, answers
from send_api.query import BAD_CURSOR, Since, Until, only_known_parameters

router = APIGatewayRouter()
TagName = Annotated[str, Query(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Only messages with this tag")]
Limit = Annotated[int, Query(ge=1, le=100, description="Messages per page (1-100)")]
Cursor = Annotated[str | None, Query(max_length=4096, description="`next_cursor` of the previous page")]
LISTING_PARAMETERS = frozenset(
    {
        "status",
        "recipient",
        "tag",
        "client_reference",
        "from_email",
        "since",
        "until",
        "source",
        "limit",
        "cursor",
    }
)


def utc(moment: datetime | None) -> datetime | None:
    """A time without an offset is read as UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


@router.get(
    "/v1/messages",
    operation_id="list_messages",
    summary="The credential's messages, newest first, with filters and cursor pagination",
    tags=["messages"],
    responses=answers(
        Success(
            200,
            "A page of messages; `next_cursor` is null on the last page",
            MessageList,
            example=examples.MESSAGES,
        ),
        errors=[ValidationFailed, BAD_CURSOR],
    ),
)
def list_all(
    credential: CallerCredential,
    index: Annotated[MessageIndex, Depends(wiring.message_index)],
    key: Annotated[bytes, Depends(wiring.cursor_key)],
    status: Annotated[RecipientStatus | None, Query(description="The message's status")] = None,
    recipient: Annotated[
        Address | None, Query(description="Messages to this address (to, cc or bcc)")
    ] = None,
    tag: Annotated[str | None, TagName] = None,
    client_reference: Annotated[str | None, Query(max_length=256)] = None,
    from_email: Annotated[Address | None, Query()] = None,
    since: Since = None,
    until: Until = None,
    source: Annotated[Literal["api", "smtp"] | None, Query()] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> MessageList:
    only_known_parameters(router, LISTING_PARAMETERS)
    filters = MessageFilters(
        status=status.value if status is not None else None,
        recipient=recipient,
        tag=tag,
        client_reference=client_reference,
        from_email=from_email,
        since=utc(since),
        until=utc(until),
        source=source,
    )
    records, next_cursor = list_messages(
        credential, filters, limit=limit, cursor=cursor, index=index, key=key
    )
    return MessageList(messages=[MessageSummary.of(record) for record in records], next_cursor=next_cursor)


@router.get(
    "/v1/messages/<message_id>",
    operation_id="get_message",
    summary="A message, its recipients and its event timeline",
    tags=["messages"],
    responses=answers(
        Success(200, "The message", MessageView, example=examples.MESSAGE),
        errors=[NotFound(f"no message {examples.MESSAGE_ID}")],
    ),
)
def get_message(
    message_id: str,
    credential: CallerCredential,
    messages: Annotated[MessageReader, Depends(wiring.messages)],
) -> MessageView:
    record, events = message_for(credential, message_id, messages)
    return MessageView.of(record, events)
