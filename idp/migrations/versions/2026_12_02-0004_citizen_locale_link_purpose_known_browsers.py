"""citizen locale, password link purpose, known browsers

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 18:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("citizens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locale", sa.String(length=8), nullable=True))
    with op.batch_alter_table("password_links", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("purpose", sa.String(length=16), server_default="set", nullable=False)
        )
    op.create_table(
        "known_browsers",
        sa.Column("citizen_id", sa.String(length=36), nullable=False),
        sa.Column("browser_hash", sa.String(length=64), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["citizen_id"],
            ["citizens.id"],
            name=op.f("fk_known_browsers_citizen_id_citizens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("citizen_id", "browser_hash", name=op.f("pk_known_browsers")),
    )


def downgrade() -> None:
    op.drop_table("known_browsers")
    with op.batch_alter_table("password_links", schema=None) as batch_op:
        batch_op.drop_column("purpose")
    with op.batch_alter_table("citizens", schema=None) as batch_op:
        batch_op.drop_column("locale")
