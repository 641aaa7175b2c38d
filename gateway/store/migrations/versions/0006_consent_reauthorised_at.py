"""consents record their latest re-authentication

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 12:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.db

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('consent_consent', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reauthorised_at', gateway.store.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('consent_consent', schema=None) as batch_op:
        batch_op.drop_column('reauthorised_at')
