from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Depends
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from posthorn import wiring
from posthorn.errors import NotFound
from posthorn.logic.messages import message_for
from posthorn.models.messages import MessageView
from posthorn.ports import MessageReader
from send_api import examples
from send_api.auth import CallerCredential
from send_api.contract import Success, answers

router = APIGatewayRouter()


@router.get(
    "/v1/messages/<message_id>",
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
