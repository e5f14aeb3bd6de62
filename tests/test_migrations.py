"""The schema exists only through Alembic: models and migrations never drift."""

from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory

from idp import migrate


def test_models_match_migrations(backend):
    # `alembic check`: raises if autogenerate would produce any operation.
    migrate.check(backend.database_url)


def test_single_head_with_dated_file_names():
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1
    for rev in script.walk_revisions():
        name = rev.path.rsplit("/", 1)[-1]
        assert name[:4].isdigit(), name
        assert name[4] == "_", name


def test_upgrade_downgrade_roundtrip(tmp_path):
    url = f"sqlite:///{tmp_path / 'roundtrip.sqlite3'}"
    migrate.upgrade(url)
    migrate.downgrade(url, "base")
    migrate.upgrade(url)
    command.check(migrate.alembic_config(url))
