"""audit checkpoints: the pruned prefix of the consent audit chain

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 13:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import gateway.store.db

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('consent_audit_checkpoint',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('through_seq', sa.Integer(), nullable=False),
    sa.Column('through_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('through_at', gateway.store.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('before', gateway.store.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('pruned', sa.Integer(), nullable=False),
    sa.Column('created_at', gateway.store.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('prev_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('hash'),
    sa.UniqueConstraint('prev_hash'),
    sa.UniqueConstraint('through_seq')
    )


def downgrade() -> None:
    op.drop_table('consent_audit_checkpoint')
