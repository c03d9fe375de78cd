"""`{placeholder}` substitution for subject and bodies. Values are HTML-escaped in HTML bodies."""

from __future__ import annotations

import html
import re
from collections.abc import Collection, Mapping

from posthorn.errors import MissingTemplateData, ValidationFailed
from posthorn.models.addresses import header_text_problem

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def placeholders(text: str) -> list[str]:
    return list(dict.fromkeys(PLACEHOLDER.findall(text)))


def render(text: str, data: Mapping[str, str], *, escape_html: bool) -> str:
    def value(match: re.Match[str]) -> str:
        raw = data[match.group(1)]
        return html.escape(raw, quote=True) if escape_html else raw

    return PLACEHOLDER.sub(value, text)


def render_fields(
    fields: Mapping[str, str | None],
    data: Mapping[str, str | int | float | bool],
    *,
    html_fields: set[str],
    single_line_fields: Collection[str] = ("subject",),
) -> dict[str, str | None]:
    """Render every field, or raise `MissingTemplateData` naming every placeholder without a value.

    A value used in a single-line field (the subject, a header) follows the rule of header text (no line
    break, which would be header injection, and no other control character), and so does the field once
    rendered."""
    values = {name: _as_text(value) for name, value in data.items()}
    missing = [
        {"field": f"template_data.{name}", "message": f"no value for {{{name}}} used in {field}"}
        for field, text in fields.items()
        if text is not None
        for name in placeholders(text)
        if name not in values
    ]
    if missing:
        names = ", ".join(dict.fromkeys(item["field"].split(".", 1)[1] for item in missing))
        raise MissingTemplateData(f"template_data has no value for: {names}", details=missing)
    for field in single_line_fields:
        text = fields.get(field)
        for name in placeholders(text or ""):
            problem = header_text_problem(values[name])
            if problem is not None:
                raise ValidationFailed.on(f"template_data.{name}", f"{problem}: used in {field}")
    rendered = {
        field: None if text is None else render(text, values, escape_html=field in html_fields)
        for field, text in fields.items()
    }
    for field in single_line_fields:
        # Each value is clean and so is the field, but together they may spell an encoded word
        # (`=?utf-8?q?{x}?=` with x = `=0A...`).
        problem = header_text_problem(rendered.get(field) or "")
        if problem is not None:
            raise ValidationFailed.on(field, f"{problem}: once template_data is filled in")
    return rendered


def _as_text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
