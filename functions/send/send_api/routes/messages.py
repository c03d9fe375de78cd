from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from posthorn.errors import NotFound
from posthorn.models.messages import MessageView
from send_api import dependencies
from send_api.auth import current_credential

router = APIGatewayRouter()


@router.get(
    "/v1/messages/<message_id>", summary="A message, its recipients and its event timeline", tags=["messages"]
)
def get_message(message_id: str) -> MessageView:
    credential = current_credential(router)
    found = dependencies.store().get_message(message_id)
    if found is None or not credential.owns_domain(found[0].domain):
        raise NotFound(f"no message {message_id}")
    record, events = found
    return MessageView.of(record, events)
