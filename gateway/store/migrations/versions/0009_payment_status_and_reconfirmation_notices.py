"""payment last known status (the change a resource-update event announces), and the consent approval whose
90-day reconfirmation was announced

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 17:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import gateway.store.db

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

TABLES = ('gateway_payment_order', 'gateway_vrp_payment')


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('last_status', sqlmodel.sql.sqltypes.AutoString(length=48), nullable=True))
            batch_op.add_column(sa.Column('status_checked_at', gateway.store.db.UTCDateTime(timezone=True),
                                          nullable=True))
    with op.batch_alter_table('consent_consent', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reconfirmation_announced_for', gateway.store.db.UTCDateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('consent_consent', schema=None) as batch_op:
        batch_op.drop_column('reconfirmation_announced_for')
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('status_checked_at')
            batch_op.drop_column('last_status')
