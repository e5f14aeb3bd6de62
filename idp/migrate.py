"""Run Alembic migrations from code (``idp db upgrade``, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str, connection: Connection | None = None) -> Config:
    """Return an Alembic config for the packaged migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d-%%(rev)s_%%(slug)s")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(url: str, revision: str = "head", connection: Connection | None = None) -> None:
    """Upgrade the schema to ``revision``."""
    command.upgrade(alembic_config(url, connection), revision)


def downgrade(url: str, revision: str = "base", connection: Connection | None = None) -> None:
    """Downgrade the schema to ``revision``."""
    command.downgrade(alembic_config(url, connection), revision)


def check(url: str) -> None:
    """Raise if the models and the migrations differ (``alembic check``)."""
    command.check(alembic_config(url))
