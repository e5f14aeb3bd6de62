"""identity assurance: verification history, staff accounts, released assurance

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_accounts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("unit_code", sa.String(length=20), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("totp_sealed", sa.String(length=255), nullable=True),
        sa.Column("totp_confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_accounts")),
        sa.UniqueConstraint("email", name=op.f("uq_staff_accounts_email")),
    )
    op.create_table(
        "staff_links",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.String(length=36), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_accounts.id"],
            name=op.f("fk_staff_links_staff_id_staff_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_staff_links")),
    )
    op.create_index(op.f("ix_staff_links_staff_id"), "staff_links", ["staff_id"], unique=False)
    op.create_table(
        "identity_verifications",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("citizen_id", sa.String(length=36), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("claims", sa.JSON(), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("officer_id", sa.String(length=36), nullable=True),
        sa.Column("unit_code", sa.String(length=20), nullable=True),
        sa.Column("evidence", sa.String(length=30), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("record_ref", sa.String(length=100), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_reason", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["citizen_id"],
            ["citizens.id"],
            name=op.f("fk_identity_verifications_citizen_id_citizens"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["officer_id"],
            ["staff_accounts.id"],
            name=op.f("fk_identity_verifications_officer_id_staff_accounts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_verifications")),
    )
    op.create_index(
        op.f("ix_identity_verifications_citizen_id"),
        "identity_verifications",
        ["citizen_id"],
        unique=False,
    )
    with op.batch_alter_table("citizens", schema=None) as batch_op:
        batch_op.alter_column("cccd", existing_type=sa.String(length=12), nullable=True)
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assurance", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.drop_column("assurance")
    # Accounts whose number went to its verified owner have none: the older schema
    # demands one, and deleting accounts is never a side effect of a downgrade.
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT COUNT(*) FROM citizens WHERE cccd IS NULL")).scalar():
        raise RuntimeError(
            "some accounts have no citizen ID number (it went to its verified owner): "
            "revision 0004 cannot hold them; delete or fix those accounts first"
        )
    with op.batch_alter_table("citizens", schema=None) as batch_op:
        batch_op.alter_column("cccd", existing_type=sa.String(length=12), nullable=False)
    op.drop_index(op.f("ix_identity_verifications_citizen_id"), table_name="identity_verifications")
    op.drop_table("identity_verifications")
    op.drop_index(op.f("ix_staff_links_staff_id"), table_name="staff_links")
    op.drop_table("staff_links")
    op.drop_table("staff_accounts")
