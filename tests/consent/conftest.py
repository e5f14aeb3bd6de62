"""Fixtures shared by the consent tests: committed citizens inside the test's savepoint."""

from __future__ import annotations

from typing import Any

import pytest

from tests.badinput.conftest import CitizenInfo
from tests.support.factories import PASSWORD, make_citizen, profile_data


def new_citizen(db: Any, settings: Any, **overrides: Any) -> CitizenInfo:
    """Register a citizen with a password; return what a test needs to sign in."""
    data = profile_data(**overrides)
    row = make_citizen(db, settings, **data)
    db.commit()
    return CitizenInfo(row.id, data["cccd"], PASSWORD, data)


@pytest.fixture
def citizen(db: Any, settings: Any) -> CitizenInfo:
    """A signed-up citizen."""
    return new_citizen(db, settings)


@pytest.fixture
def other(db: Any, settings: Any) -> CitizenInfo:
    """A second citizen, whose data must never show up for the first."""
    return new_citizen(db, settings)
