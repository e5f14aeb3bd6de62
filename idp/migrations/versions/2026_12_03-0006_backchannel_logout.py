"""back-channel logout: portal registration and delivery records

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("portals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("backchannel_logout_uri", sa.String(length=2000)))
        batch_op.add_column(
            sa.Column(
                "backchannel_logout_session_required",
                sa.Boolean(),
                server_default=sa.false(),
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column(
                "backchannel_private", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )
    op.create_table(
        "logout_deliveries",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("portal_id", sa.String(length=36), nullable=False),
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=30), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("detail", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["portal_id"],
            ["portals.id"],
            name=op.f("fk_logout_deliveries_portal_id_portals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_logout_deliveries")),
    )
    op.create_index(
        "ix_logout_deliveries_portal_time",
        "logout_deliveries",
        ["portal_id", "attempted_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_logout_deliveries_portal_time", table_name="logout_deliveries")
    op.drop_table("logout_deliveries")
    with op.batch_alter_table("portals", schema=None) as batch_op:
        batch_op.drop_column("backchannel_private")
        batch_op.drop_column("backchannel_logout_session_required")
        batch_op.drop_column("backchannel_logout_uri")
