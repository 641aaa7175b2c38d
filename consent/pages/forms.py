"""HTML form bodies of the customer pages (``application/x-www-form-urlencoded``, HTML Living Standard
section 4.10.21.7). Checkbox groups repeat a name, so every value is kept."""

from __future__ import annotations

from typing import Final
from urllib.parse import parse_qsl

from starlette.requests import Request

FORM_TYPE: Final = "application/x-www-form-urlencoded"


class BadForm(ValueError):
    pass


async def read_form(request: Request) -> dict[str, list[str]]:
    """The form's fields, each with every value sent; anything not a small urlencoded UTF-8 body is refused."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != FORM_TYPE:
        raise BadForm(f"the form must be sent as {FORM_TYPE}")
    # The body's size is bounded before it reaches a page: the gateway app limits every form body
    # (OBGW_MAX_FORM_BYTES, docs/architecture.md section 3).
    body = await request.body()
    try:
        # Strict: every field is name=value and escapes decode to UTF-8; anything else is not a form.
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True, errors="strict")
    except ValueError:
        raise BadForm("the form is not well-formed UTF-8") from None
    form: dict[str, list[str]] = {}
    for name, value in pairs:
        form.setdefault(name, []).append(value)
    return form


def single(form: dict[str, list[str]], name: str) -> str | None:
    """The one value of ``name``; a repeated single-valued field counts as absent (fail closed)."""
    values = form.get(name) or []
    return values[0] if len(values) == 1 and values[0] else None
