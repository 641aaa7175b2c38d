"""Imports every module that defines gateway-database tables, so ``SQLModel.metadata`` is complete
(for alembic and for ``Database.create_all``)."""

from __future__ import annotations

import importlib

MODEL_MODULES = (
    "gateway.store.oauth_tables", "consent.models", "gateway.store.payment_tables", "consent.notifications",
    "gateway.store.event_tables",
)


def import_models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)
