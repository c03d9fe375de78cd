"""Email address and header-value rules shared by the request models."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

from posthorn.models.encoded_words import encoded_word_problem

# RFC 5321/5322 dot-atom local part (ASCII: SES does not support SMTPUTF8 local parts).
_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
MAX_ADDRESS_LENGTH = 254
# `Display Name <addr-spec>`: one mailbox, nothing before or after it.
_NAME_ADDR = re.compile(r"^\s*(?P<name>[^<>]*?)\s*<(?P<address>[^<>]*)>\s*$")
# Every character str.splitlines() breaks on: the email package refuses header values holding any of them.
_LINE_BREAK = re.compile(r"[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def normalize_domain(domain: str) -> str:
    """Lower-case a domain, internationalized ones in their ASCII (IDNA) form; ValueError if invalid."""
    domain = domain.strip().rstrip(".").lower()
    if not domain:
        raise ValueError("domain is empty")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError as error:
        raise ValueError(f"domain {domain!r} is not a valid internationalized name") from error
    labels = ascii_domain.split(".")
    if len(labels) < 2 or len(ascii_domain) > 253 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(f"{domain!r} is not a valid domain name")
    if labels[-1].isdigit():
        raise ValueError(f"{domain!r} is not a valid domain name")
    return ascii_domain


def normalize_address(address: str) -> str:
    """Validate an addr-spec and return it with its domain in lower-case ASCII; ValueError if invalid."""
    if "\r" in address or "\n" in address:
        raise ValueError("must not contain CR or LF")
    address = address.strip()
    local, at, domain = address.rpartition("@")
    if not at or not local:
        raise ValueError(f"{address!r} is not an email address")
    if len(local) > 64 or not _LOCAL_PART.match(local):
        raise ValueError(f"{address!r} is not an email address")
    # `=`, `?` and `_` are atext: a local part may be an encoded word, which the email package decodes.
    problem = encoded_word_problem(local)
    if problem is not None:
        raise ValueError(problem)
    normalized = f"{local}@{normalize_domain(domain)}"
    if len(normalized) > MAX_ADDRESS_LENGTH:
        raise ValueError(f"address is longer than {MAX_ADDRESS_LENGTH} characters")
    return normalized


def split_display_address(value: str) -> tuple[str, str]:
    """`"Jane <jane@example.com>"` → `("Jane", "jane@example.com")`; a bare address keeps an empty name.

    Exactly one mailbox: anything else (`"a <x@y>, b <z@y>"`, text after the `>`, an unquoted `,` or `;`
    in the name) is returned whole, so address validation refuses it instead of silently sending to the
    first address of a list, or to an address written in the display name."""
    match = _NAME_ADDR.match(value)
    if match is None:
        return "", value
    name, address = match.group("name"), match.group("address")
    if len(name) >= 2 and name[0] == name[-1] == '"':
        name = re.sub(r"\\(.)", r"\1", name[1:-1])
    elif any(separator in name for separator in ',;"'):
        return "", value
    return name, address


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()


def has_line_break(value: str) -> bool:
    """CR, LF, or any other character that ends a line (VT, FF, NEL, U+2028, ...)."""
    return _LINE_BREAK.search(value) is not None


def header_text_problem(value: str) -> str | None:
    """What is wrong with `value` as the text of a header field (a subject, a display name, a custom
    header's value, List-Unsubscribe, an attachment's name), or None. One rule for all of them: no line
    break (header injection; the email package refuses them), no other C0 control character or DEL (they
    reach the recipient's screen verbatim: ESC sequences, BEL, NUL), no lone surrogate (no email can carry
    one); and none of these once RFC 2047 encoded words are decoded (`encoded_words`)."""
    if has_line_break(value):
        return "must not contain CR, LF or other line breaks"
    if _CONTROL.search(value):
        return "must not contain control characters (U+0000-U+001F, U+007F)"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text (no lone surrogate escapes)"
    return encoded_word_problem(value)


def header_text(value: str) -> str:
    """The pydantic validator of `header_text_problem`'s rule."""
    problem = header_text_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


# An email address field (requests, suppressions): validated and normalized by `normalize_address`.
Address = Annotated[str, StringConstraints(max_length=320), AfterValidator(normalize_address)]
