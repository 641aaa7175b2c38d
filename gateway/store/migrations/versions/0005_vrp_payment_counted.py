"""vrp payments the bank rejected stop counting against the limits

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 12:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('gateway_vrp_payment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('counted', sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table('gateway_vrp_payment', schema=None) as batch_op:
        batch_op.drop_column('counted')
