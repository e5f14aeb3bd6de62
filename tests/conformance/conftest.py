"""Fixtures for the Basic OP conformance tests: a fresh portal, citizen and browser."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conformance.rp import RP
from tests.support.useragent import UserAgent


@pytest.fixture
def portal(live: Any) -> dict[str, Any]:
    """A confidential portal (client_secret_basic) allowed every scope."""
    return live.register_portal()


@pytest.fixture
def citizen(live: Any) -> dict[str, Any]:
    """A citizen with a password and a complete profile."""
    return live.make_citizen()


@pytest.fixture
def rp(live: Any, portal: dict[str, Any]) -> RP:
    """The portal acting as relying party."""
    return RP(live, portal)


@pytest.fixture
def ua(live: Any) -> UserAgent:
    """A fresh browser: no cookies, hence no sign-in session at the provider."""
    return UserAgent(live.url)
