"""The one rule for a JSON request body: what media type says "this is JSON", and which bodies are one JSON
object. Powertools' request validation, the middleware that checks routes without a body model, and the
file route's JSON form all read bodies through `json_object`, so they refuse the same bodies the same way.

- The media type is compared case-insensitively (RFC 9110: `APPLICATION/JSON; charset=UTF-8` is JSON).
  Powertools compares it case-sensitively, so `canonical_media_type` lower-cases it before the resolver
  sees the event.
- A body that is not exactly one JSON object is `invalid_json` (400): an array is never read as its first
  item, a number over Python's 4,300-digit conversion limit is not a 500 (`json.loads` raises ValueError
  for it, not JSONDecodeError), nor is nesting deeper than the parser's recursion limit.
- Not JSON either (RFC 8259), though Python's parser reads them: `NaN`, `Infinity`, `-Infinity` (and a
  number such as `1e999`, infinite as a double), and an object with a key given twice (`{"subject": "a",
  "subject": "b"}`): Python keeps the last value, where another reader of the same bytes (a proxy, a log
  filter, the client's own check) may keep the first.
- Invalid UTF-8: API Gateway hands a text body to Lambda as a string, each byte that is not UTF-8 replaced
  by U+FFFD. The function never sees the bytes, so a body holding U+FFFD as a raw character is refused as
  "not UTF-8"; a client that means the character sends it escaped (`\\ufffd`, as every JSON encoder can),
  and the local stack's gateway does the same replacement (`posthorn_local/apigw.py`).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping
from typing import Any

JSON_MEDIA_TYPE = "application/json"
REPLACEMENT_CHARACTER = "\ufffd"


def media_type(content_type: str | None) -> str:
    """`Application/JSON; charset=utf-8` → `application/json`; no header → ``""``."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_json(content_type: str | None) -> bool:
    """Whether a body with this Content-Type is read as JSON (no Content-Type is read as JSON too)."""
    return media_type(content_type) in ("", JSON_MEDIA_TYPE)


def not_json_message(content_type: str | None) -> str:
    return (
        f"this route takes a JSON body: send it with Content-Type: {JSON_MEDIA_TYPE} "
        f"(this request says {media_type(content_type)})"
    )


class BodyNotJson(json.JSONDecodeError):
    """The body is not one JSON object; `msg` is what the client is told. A JSONDecodeError, so that
    Powertools' body parsing reports it as `json_invalid` (carrying `msg`) instead of raising it."""

    def __init__(self, message: str, document: str = "", position: int = 0) -> None:
        super().__init__(message, document, position)


def json_object(body: str | bytes) -> dict[str, Any]:
    """The body as one JSON object, or BodyNotJson saying why not."""
    value = json_value(body)
    if not isinstance(value, dict):
        raise BodyNotJson(f"the request body must be a JSON object, not {_JSON_KIND[type(value)]}")
    return value


def json_value(body: str | bytes) -> Any:
    """The body as JSON of any kind (a compatible surface's batch is an array), by the same rules as
    `json_object`, or BodyNotJson saying why not."""
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            raise BodyNotJson("the request body is not valid UTF-8") from None
    if REPLACEMENT_CHARACTER in body:
        raise BodyNotJson(
            "the request body is not valid UTF-8 (it holds U+FFFD, which replaces bytes that are not "
            "UTF-8; send the character itself as the JSON escape \\ufffd)",
            body,
            body.index(REPLACEMENT_CHARACTER),
        )
    try:
        value = json.loads(
            body,
            object_pairs_hook=_object_without_repeated_keys,
            parse_constant=_no_constant,
            parse_float=_finite,
        )
    except BodyNotJson:  # raised by one of the hooks
        raise
    except json.JSONDecodeError as error:
        raise BodyNotJson(
            f"the request body is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})",
            body,
            error.pos,
        ) from None
    except ValueError:  # int() over sys.get_int_max_str_digits() (4,300 digits)
        raise BodyNotJson("the request body holds a number with more than 4,300 digits") from None
    except RecursionError:
        raise BodyNotJson("the request body is nested too deeply") from None
    return value


def _object_without_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) == len(pairs):
        return value
    repeated = next(key for key, count in Counter(key for key, _ in pairs).items() if count > 1)
    raise BodyNotJson(f"the request body is not valid JSON: the key {_shown(repeated)} is given twice")


def _no_constant(name: str) -> Any:
    raise BodyNotJson(f"the request body is not valid JSON: {name} is not a JSON number")


def _finite(number: str) -> float:
    value = float(number)
    if not math.isfinite(value):  # 1e999: what Infinity is refused for, written another way
        raise BodyNotJson(f"the request body holds a number too large for a double: {_shown(number)}")
    return value


def _shown(text: str) -> str:
    return json.dumps(text if len(text) <= 64 else text[:64] + "...")


_JSON_KIND = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "true or false"}
_JSON_KIND[type(None)] = "null"


def canonical_media_type(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The event with its Content-Type's media type in lower case (its parameters kept): Powertools
    compares media types case-sensitively. The event is copied only when it changes."""
    headers = event.get("headers") or {}
    names = [name for name in headers if name.lower() == "content-type"]
    value = headers[names[0]] if names else None
    if not isinstance(value, str):
        return event
    kind, separator, parameters = value.partition(";")
    lowered = kind.strip().lower() + separator + parameters
    if lowered == value:
        return event
    changed = dict(event)
    changed["headers"] = {**headers, names[0]: lowered}
    multi = event.get("multiValueHeaders") or {}
    if names[0] in multi:
        changed["multiValueHeaders"] = {**multi, names[0]: [lowered]}
    return changed
