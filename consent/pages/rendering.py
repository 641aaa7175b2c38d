"""Rendering of the customer pages from the consent package's own Jinja2 templates (``consent/templates``).

They are every customer page of the bank, on one ``base.html``: the gateway renders its authorization pages (the
sign-in and error pages it shares with the dashboard) from ``TEMPLATES_DIR`` too.

Autoescaping is on (starlette's default for ``.html``): every value a TPP chose (its name, a payee, a reference)
is shown as text, never as markup.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"


@functools.lru_cache(maxsize=1)
def templates() -> Jinja2Templates:
    """Built on first use, not at import (no import-time side effects)."""
    return Jinja2Templates(directory=str(TEMPLATES_DIR))


def render(request: Request, name: str, context: dict[str, Any], *, headers: dict[str, str],
           status_code: int = 200) -> Response:
    return templates().TemplateResponse(request, name, context, status_code=status_code, headers=headers)
