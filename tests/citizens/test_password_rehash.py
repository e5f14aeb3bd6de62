"""argon2id passwords: verification, generic failure, rehash when parameters change."""

from __future__ import annotations

from dataclasses import replace

import pytest
from argon2 import PasswordHasher

from idp.citizens import service
from tests.support.factories import PASSWORD, make_citizen


def test_hash_is_argon2id_with_configured_parameters(db, settings):
    citizen = make_citizen(db, settings)
    assert citizen.password_hash.startswith("$argon2id$")
    assert f"m={settings.argon2_memory_kib},t={settings.argon2_time_cost}" in (
        citizen.password_hash
    )


@pytest.mark.parametrize("field", ["cccd", "phone", "email"])
def test_sign_in_with_any_identifier(db, settings, field):
    citizen = make_citizen(db, settings)
    identifier = {"cccd": citizen.cccd, "phone": citizen.phone, "email": citizen.email}[field]
    hasher = service.make_hasher(settings)
    assert (
        service.authenticate(db, identifier=identifier, password=PASSWORD, hasher=hasher) is citizen
    )


def test_local_phone_format_is_accepted_as_identifier(db, settings):
    citizen = make_citizen(db, settings, phone="0905123456")
    hasher = service.make_hasher(settings)
    assert (
        service.authenticate(db, identifier="0905 123 456", password=PASSWORD, hasher=hasher)
        is citizen
    )


def test_wrong_password_and_unknown_account_look_the_same(db, settings):
    citizen = make_citizen(db, settings)
    hasher = service.make_hasher(settings)
    assert (
        service.authenticate(db, identifier=citizen.cccd, password="wrong password", hasher=hasher)
        is None
    )
    assert (
        service.authenticate(db, identifier="001099000000", password=PASSWORD, hasher=hasher)
        is None
    )


def test_account_without_password_cannot_sign_in(db, settings):
    citizen = make_citizen(db, settings, password=None)
    hasher = service.make_hasher(settings)
    assert service.authenticate(db, identifier=citizen.cccd, password="", hasher=hasher) is None


def test_rehash_on_sign_in_when_parameters_change(db, settings):
    citizen = make_citizen(db, settings)
    old_hash = citizen.password_hash
    stronger = replace(settings, argon2_time_cost=settings.argon2_time_cost + 1)
    hasher = service.make_hasher(stronger)
    assert hasher.check_needs_rehash(old_hash)
    assert (
        service.authenticate(db, identifier=citizen.cccd, password=PASSWORD, hasher=hasher)
        is citizen
    )
    assert citizen.password_hash != old_hash
    assert not hasher.check_needs_rehash(citizen.password_hash)
    PasswordHasher().verify(citizen.password_hash, PASSWORD)


def test_no_rehash_when_parameters_are_unchanged(db, settings):
    citizen = make_citizen(db, settings)
    old_hash = citizen.password_hash
    service.authenticate(
        db, identifier=citizen.cccd, password=PASSWORD, hasher=service.make_hasher(settings)
    )
    assert citizen.password_hash == old_hash


@pytest.mark.parametrize("password", ["short", "x" * 129, "", None, 12345678])
def test_password_policy(password):
    with pytest.raises(service.ValidationErrors):
        service.check_password_policy(password)
