"""No account enumeration: sign-in does the same argon2 work whether the account exists.

Nothing is timed: a hasher that counts its ``verify`` calls shows that every path
verifies exactly once, against an argon2id hash with the configured parameters.
"""

from __future__ import annotations

from typing import Any

import pytest
from argon2 import PasswordHasher, extract_parameters

from idp.citizens import service
from tests.support.factories import PASSWORD, make_citizen
from tests.support.useragent import page_csrf


class CountingHasher(PasswordHasher):
    """The configured hasher, recording the hash every ``verify`` is asked to check."""

    def __init__(self, settings: Any) -> None:
        base = service.make_hasher(settings)
        super().__init__(
            time_cost=base.time_cost,
            memory_cost=base.memory_cost,
            parallelism=base.parallelism,
        )
        self.verified: list[str] = []

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002
        self.verified.append(hash if isinstance(hash, str) else hash.decode())
        return super().verify(hash, password)


def assert_one_real_verify(hasher: CountingHasher) -> None:
    assert len(hasher.verified) == 1, hasher.verified
    params = extract_parameters(hasher.verified[0])
    assert hasher.verified[0].startswith("$argon2id$")
    assert (params.time_cost, params.memory_cost, params.parallelism) == (
        hasher.time_cost,
        hasher.memory_cost,
        hasher.parallelism,
    )


@pytest.mark.parametrize(
    "identifier",
    ["079099999999", "nobody@example.vn", "+84909999999", "not an identifier", ""],
)
def test_unknown_account_still_verifies_a_password_hash(db, settings, identifier):
    hasher = CountingHasher(settings)
    found = service.authenticate(db, identifier=identifier, password=PASSWORD, hasher=hasher)
    assert found is None
    assert_one_real_verify(hasher)


def test_account_without_password_still_verifies_a_password_hash(db, settings):
    citizen = make_citizen(db, settings, password=None)  # registered at a desk
    hasher = CountingHasher(settings)
    found = service.authenticate(db, identifier=citizen.cccd, password=PASSWORD, hasher=hasher)
    assert found is None
    assert_one_real_verify(hasher)


@pytest.mark.parametrize("password", [PASSWORD, "the wrong password"])
def test_known_account_verifies_once(db, settings, password):
    citizen = make_citizen(db, settings)
    hasher = CountingHasher(settings)
    found = service.authenticate(db, identifier=citizen.cccd, password=password, hasher=hasher)
    assert (found is citizen) == (password == PASSWORD)
    assert_one_real_verify(hasher)


def test_sign_in_page_verifies_for_an_unknown_account(client, settings, monkeypatch):
    hasher = CountingHasher(settings)
    monkeypatch.setattr(service, "make_hasher", lambda _settings: hasher)
    resp = client.post(
        "/signin",
        data={
            "csrf_token": page_csrf(client, "/signin"),
            "identifier": "079099999999",
            "password": PASSWORD,
        },
    )
    assert resp.status_code == 401
    assert_one_real_verify(hasher)
