"""The message item (`MSG#<message_id>` / `MSG`): its key, its codec, and the conditional write that raises
its recipients' statuses. Three repositories share it: `messages.py` (the send path), `message_events.py`
(SES's events) and `listing.py` (the listing's pages).

A message item holds its recipients as a map keyed by lower-cased address, so one conditional update changes a
recipient's status. Each recipient carries its status's rank; an update only applies when it raises the rank,
so a late or repeated event never lowers a status. The message status is not stored: it is a function of the
recipients' statuses (`message_status`), computed on every read, so it can never disagree with them.

SES's message id finds its message through a pointer item (`SES#<ses id>` / `SES`, holding the message id),
written once when a message sent without a configuration set is sent: SES publishes no event for such a
message, so only a classic notification (an identity's, which carries no tags) can name it. A message sent
with one (every message of a deployed stack) needs none: every event SES publishes through a configuration
set carries the message's tags, `posthorn_message_id` among them (one write unit a message saved; a classic
notification about it, a copy of an event already recorded, is kept as unmatched). Messages sent before this
rule have their pointer already. The message item itself carries no index keys: gsi1 projects every
attribute, so an item in it would have its whole copy there rewritten by every status change. (Messages
stored by an older Posthorn still carry `gsi1pk = SES#<ses id>`: readers fall back to gsi1 for them until
retention removes them.)
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from posthorn.adapters.dynamodb.table import Repository, from_item, to_item
from posthorn.logic.events.recipient_status import message_status, rank
from posthorn.models.messages import MessageChange, MessageRecord, RecipientState

# An event stored on the message item itself, in the update that raised its recipient's status (`put_event`
# in `message_events.py`): attribute `E#<type>:<first 48 bits of the event key's hash>` (unique among a
# message's few events), holding what an event item holds but what the message says already (its type is in
# the name; its recipient when the message has only that one; SES's id and the origin `event` when they are
# the message's and the usual one) and its time to the millisecond SES gives, so a Delivery and an Open fit
# in a short message's KB. Events stored before kept 128 bits in the name (`LEGACY_INLINE_DIGEST`).
INLINE_EVENT = "E#"
INLINE_DIGEST = 12
LEGACY_INLINE_DIGEST = 32


def inline_name(event_key: str, digest_length: int = INLINE_DIGEST) -> str:
    kind, _, digest = event_key.partition(":")
    return f"{INLINE_EVENT}{kind}:{digest[:digest_length]}"


def inline_names(event_key: str) -> tuple[str, str]:
    """The names an event may have on a message item: as stored now, and as stored before."""
    return inline_name(event_key), inline_name(event_key, LEGACY_INLINE_DIGEST)


def _only_recipient(values: dict[str, Any]) -> str | None:
    recipients = values.get("recipients") or {}
    if len(recipients) != 1:
        return None
    (state,) = recipients.values()
    return str(state.get("email")) if isinstance(state, dict) else None


def _milliseconds(timestamp: Any) -> Any:
    """An ISO time to the millisecond with `Z` (24 characters, not 32): SES's events carry milliseconds."""
    try:
        at = datetime.fromisoformat(str(timestamp))
    except ValueError:
        return timestamp
    if at.utcoffset() != timedelta(0):
        return timestamp
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def inline_value(
    event: dict[str, Any], ses_message_id: str | None, message: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An event item's fields (plain values) → what the message item (`message`, plain values) holds of it
    (`inline_events` undoes)."""
    value = {"timestamp": _milliseconds(event["timestamp"]), "details": event["details"]}
    if message is None or event["recipient"] != _only_recipient(message):
        value["recipient"] = event["recipient"]
    if event.get("ses_message_id") != ses_message_id:
        value["ses_message_id"] = event.get("ses_message_id")
    if event.get("origin") != "event":
        value["origin"] = event.get("origin")
    return value


def inline_events(values: dict[str, Any]) -> list[dict[str, Any]]:
    """The events stored on a message item (plain values), as event items hold them."""
    return [
        {
            "pk": values["pk"],
            "sk": f"EVT#{name.removeprefix(INLINE_EVENT)}",
            "type": name.removeprefix(INLINE_EVENT).partition(":")[0],
            "recipient": _only_recipient(values),
            "ses_message_id": values.get("ses_message_id"),
            "origin": "event",
            **event,
        }
        for name, event in values.items()
        if name.startswith(INLINE_EVENT)
    ]


def item_size(item: dict[str, Any]) -> int:
    """An item's size (wire format) as DynamoDB bills it: names plus values, a number about half its
    digits, each map or list entry a few bytes more."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    [(kind, inner)] = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return len(inner.lstrip("-").replace(".", "").strip("0") or "0") // 2 + 2
    if kind == "M":
        return 3 + sum(len(name.encode()) + _value_size(element) + 1 for name, element in inner.items())
    if kind == "L":
        return 3 + sum(_value_size(element) + 1 for element in inner)
    if kind in ("SS", "NS", "BS"):
        return sum(len(str(element).encode()) for element in inner)
    return len(inner) if isinstance(inner, bytes | bytearray) else 1


def message_key(message_id: str) -> dict[str, Any]:
    return to_item({"pk": f"MSG#{message_id}", "sk": "MSG"})


def ses_pointer_key(ses_message_id: str) -> dict[str, Any]:
    return to_item({"pk": f"SES#{ses_message_id}", "sk": "SES"})


def ses_pointer(ses_message_id: str, message_id: str, ttl: int | None) -> dict[str, Any]:
    """The pointer from SES's message id to the message (stored form), expiring with the message (`ttl`)."""
    return to_item({"pk": f"SES#{ses_message_id}", "sk": "SES", "message_id": message_id, "ttl": ttl})


def message_item(record: MessageRecord, ttl: int | None) -> dict[str, Any]:
    """A record → its stored item: recipients keyed by address, each with its rank and request position; `ttl`
    its expiry (`retention.py`; None: none)."""
    values = record.model_dump(mode="json", exclude={"recipients", "status"})
    recipients = {
        state.email.lower(): {**state.model_dump(), "rank": rank(state.status), "position": position}
        for position, state in enumerate(record.recipients)
    }
    return to_item(
        {"pk": f"MSG#{record.message_id}", "sk": "MSG", **values, "recipients": recipients, "ttl": ttl}
    )


def message_record(values: dict[str, Any]) -> MessageRecord:
    """A stored message item → its record, recipients in request order, status derived from theirs."""
    values = {name: value for name, value in values.items() if not name.startswith(INLINE_EVENT)}
    recipients = sorted(values.pop("recipients", {}).values(), key=lambda r: r["position"])
    states = [RecipientState.model_validate(r) for r in recipients]
    return MessageRecord.model_validate(
        {**values, "recipients": states, "status": message_status(state.status for state in states).value}
    )


def read_record(repository: Repository, message_id: str) -> MessageRecord | None:
    """The message's record alone (one GetItem: its events are not read)."""
    item = repository.db.get_item(TableName=repository.table, Key=message_key(message_id)).get("Item")
    return message_record(from_item(item)) if item is not None else None


def advance(
    repository: Repository, message_id: str, statuses: dict[str, str], fields: dict[str, Any]
) -> MessageChange | None:
    """Raise recipients' statuses (never lower them) and set `fields`: what it did to the message, or None
    for an unknown message.

    One conditional update covers every recipient when all of them move up, the usual case. When the
    condition fails, DynamoDB hands back the item as it is (ReturnValuesOnConditionCheckFailure), so a
    single late event costs one call; with several recipients or fields, each part is then applied on
    its own condition. The update returns the item as it was (ALL_OLD), from which the message status
    before and after follows."""
    applied, old = _update_recipients(repository, message_id, statuses, fields)
    if old is None:
        return None
    if applied:
        return message_change(old, statuses, moved=set(statuses))
    if not (fields or len(statuses) > 1):
        return message_change(old, {}, moved=set())
    if fields:
        _update_recipients(repository, message_id, {}, fields)
    moved = set()
    for email, status in statuses.items():
        one_applied, _ = _update_recipients(repository, message_id, {email: status}, {})
        if one_applied:
            moved.add(email)
    return message_change(old, {email: statuses[email] for email in moved}, moved=moved)


def _update_recipients(
    repository: Repository, message_id: str, statuses: dict[str, str], fields: dict[str, Any]
) -> tuple[bool, dict[str, Any] | None]:
    """One conditional update: whether it was applied, and the message as it was (None: no message)."""
    db, table = repository.db, repository.table
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    updates: list[str] = []
    conditions = ["attribute_exists(pk)"]
    if statuses:
        names.update({"#s": "status", "#k": "rank"})
    for index, (email, status) in enumerate(statuses.items()):
        names[f"#r{index}"] = email.lower()
        values[f":s{index}"] = status
        values[f":k{index}"] = rank(status)
        updates += [f"recipients.#r{index}.#s = :s{index}", f"recipients.#r{index}.#k = :k{index}"]
        conditions.append(f"recipients.#r{index}.#k < :k{index}")
    for index, (name, value) in enumerate(fields.items()):
        names[f"#f{index}"] = name
        values[f":f{index}"] = value
        updates.append(f"#f{index} = :f{index}")
    if not updates:
        item = db.get_item(TableName=table, Key=message_key(message_id)).get("Item")
        return False, from_item(item) if item is not None else None
    try:
        response = db.update_item(
            TableName=table,
            Key=message_key(message_id),
            UpdateExpression="SET " + ", ".join(updates),
            ConditionExpression=" AND ".join(conditions),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_item(values),
            ReturnValues="ALL_OLD",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except db.exceptions.ConditionalCheckFailedException as failed:
        item = failed.response.get("Item")
        return False, from_item(item) if item is not None else None
    return True, from_item(response["Attributes"])


def message_change(old: dict[str, Any], applied: dict[str, str], *, moved: set[str]) -> MessageChange:
    """What an update did to a message, from the item as it was and the statuses it applied."""
    recipients = old.get("recipients", {})
    before = message_status(r["status"] for r in recipients.values()).value
    after_statuses = {address: r["status"] for address, r in recipients.items()}
    after_statuses.update({email.lower(): status for email, status in applied.items()})
    after = message_status(after_statuses.values()).value
    return MessageChange(
        domain=str(old.get("domain") or ""),
        tags=list(old.get("tags") or []),
        created_at=datetime.fromisoformat(str(old["created_at"])),
        before=before,
        after=after,
        moved=frozenset(moved),
        configuration_set=old.get("configuration_set") or None,
        sent_to=frozenset(str(email).lower() for email in old.get("sent_to") or ()),
    )
