"""admin API access tokens: digests, holder (staff account or automation client), scopes

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "admin_tokens",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.String(length=36), nullable=True),
        sa.Column("portal_id", sa.String(length=36), nullable=True),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(staff_id IS NULL) <> (portal_id IS NULL)", name=op.f("ck_admin_tokens_one_holder")
        ),
        sa.ForeignKeyConstraint(
            ["portal_id"],
            ["portals.id"],
            name=op.f("fk_admin_tokens_portal_id_portals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_accounts.id"],
            name=op.f("fk_admin_tokens_staff_id_staff_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_admin_tokens_token_hash")),
    )
    op.create_index(op.f("ix_admin_tokens_portal_id"), "admin_tokens", ["portal_id"])
    op.create_index(op.f("ix_admin_tokens_staff_id"), "admin_tokens", ["staff_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_admin_tokens_staff_id"), table_name="admin_tokens")
    op.drop_index(op.f("ix_admin_tokens_portal_id"), table_name="admin_tokens")
    op.drop_table("admin_tokens")
