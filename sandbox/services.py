"""What a running sandbox holds for its lifetime, built once by ``sandbox.app`` and reached by handlers through
``services(request)``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import Request

if TYPE_CHECKING:
    from starlette.templating import Jinja2Templates

    from sandbox.ca import SandboxCa
    from sandbox.context import ContextVerifier
    from sandbox.db import SandboxDatabase
    from sandbox.directory import Directory
    from sandbox.settings import SandboxSettings


@dataclass(kw_only=True)
class SandboxServices:
    settings: SandboxSettings
    db: SandboxDatabase
    context: ContextVerifier
    directory: Directory
    ca: SandboxCa
    templates: Jinja2Templates
    portal_secret: bytes


def services(request: Request) -> SandboxServices:
    found = request.app.state.sandbox
    assert isinstance(found, SandboxServices)
    return found
