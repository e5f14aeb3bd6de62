"""Fixtures shared by the consent tests: committed citizens inside the test's savepoint."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.factories import CitizenInfo, new_citizen


@pytest.fixture
def citizen(db: Any, settings: Any) -> CitizenInfo:
    """A signed-up citizen."""
    return new_citizen(db, settings)


@pytest.fixture
def other(db: Any, settings: Any) -> CitizenInfo:
    """A second citizen, whose data must never show up for the first."""
    return new_citizen(db, settings)
