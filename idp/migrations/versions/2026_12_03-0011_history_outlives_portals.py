"""the citizens' history outlives a deleted portal: releases, receipts and notices kept

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_KEPT = (
    ("releases", "fk_releases_portal_id_portals"),
    ("consent_receipts", "fk_consent_receipts_portal_id_portals"),
    ("consent_notices", "fk_consent_notices_portal_id_portals"),
)


def upgrade() -> None:
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_id", sa.String(length=64)))
        batch_op.add_column(sa.Column("portal_name", sa.String(length=200)))
    op.execute(
        "UPDATE releases SET client_id = (SELECT p.client_id FROM portals p "
        "WHERE p.id = releases.portal_id), portal_name = (SELECT p.name FROM portals p "
        "WHERE p.id = releases.portal_id)"
    )
    for table, fk in _KEPT:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("portal_id", existing_type=sa.String(length=36), nullable=True)
            batch_op.drop_constraint(fk, type_="foreignkey")
            batch_op.create_foreign_key(fk, "portals", ["portal_id"], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    bind = op.get_bind()
    for table, _fk in _KEPT:
        query = f"SELECT COUNT(*) FROM {table} WHERE portal_id IS NULL"  # noqa: S608 - fixed names
        if bind.execute(sa.text(query)).scalar():
            raise RuntimeError(
                f"{table} holds rows of deleted portals: revision 0010 cannot keep them"
            )
    for table, fk in _KEPT:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(fk, type_="foreignkey")
            batch_op.create_foreign_key(fk, "portals", ["portal_id"], ["id"], ondelete="CASCADE")
            batch_op.alter_column("portal_id", existing_type=sa.String(length=36), nullable=False)
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.drop_column("portal_name")
        batch_op.drop_column("client_id")
