"""every registration field: English name, contact email, web origins; automation clients

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("portals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_en", sa.String(length=200)))
        batch_op.add_column(sa.Column("contact_email", sa.String(length=254)))
        batch_op.add_column(
            sa.Column("web_origins", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("portals", schema=None) as batch_op:
        batch_op.drop_column("web_origins")
        batch_op.drop_column("contact_email")
        batch_op.drop_column("name_en")
