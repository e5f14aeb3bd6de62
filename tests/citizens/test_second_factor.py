"""The second factor's service: TOTP enrolment, single-use codes, recovery codes. Both
backends; the replay across workers on the server leg (two stores sharing Redis)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from idp.citizens import factors
from idp.store import RedisStore
from tests.support.factories import make_citizen
from tests.support.totp import Authenticator, enrol


@pytest.fixture
def citizen(db, settings):
    row = make_citizen(db, settings)
    db.commit()
    return row


def _begin(db, settings, citizen):
    return factors.begin_enrolment(
        db,
        citizen_id=citizen.id,
        account_name=citizen.name,
        issuer=settings.totp_issuer,
        secret_key=settings.secret_key,
    )


def test_enrolment_shows_a_qr_code_and_the_key_in_groups_of_four(db, settings, citizen):
    started = _begin(db, settings, citizen)
    assert started.qr_svg.startswith("<svg")
    assert "<path" in started.qr_svg
    groups = started.grouped_key.split(" ")
    assert all(len(g) == 4 for g in groups)
    assert len(groups) == 8
    assert started.uri.startswith("otpauth://totp/")
    assert f"issuer={settings.totp_issuer}" in started.uri
    # The same pending key until it is confirmed (a reload does not break a scan).
    assert _begin(db, settings, citizen).grouped_key == started.grouped_key


def test_enrolment_completes_only_after_a_valid_code(db, store, settings, citizen, clock):
    started = _begin(db, settings, citizen)
    app = Authenticator(started.grouped_key, clock)
    wrong = f"{(int(app.code()) + 1) % 10**6:06d}"
    for bad in (wrong, "", "abcdef", "1" * 65, None, 123456):
        assert (
            factors.confirm_enrolment(
                db, store, citizen_id=citizen.id, code=bad, secret_key=settings.secret_key
            )
            is None
        )
    assert not factors.has_factor(db, citizen.id)
    codes = factors.confirm_enrolment(
        db, store, citizen_id=citizen.id, code=app.code(), secret_key=settings.secret_key
    )
    assert codes is not None
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert factors.has_factor(db, citizen.id)
    with pytest.raises(factors.FactorError):
        _begin(db, settings, citizen)


def test_the_key_is_stored_sealed_and_recovery_codes_hashed(db, store, settings, citizen, clock):
    app, codes = enrol(db, store, settings, citizen.id, clock)
    key = app.totp.secret
    sealed = db.execute(
        text("SELECT secret_sealed FROM second_factors WHERE citizen_id = :c"), {"c": citizen.id}
    ).scalar_one()
    assert key not in sealed
    assert sealed.startswith("v1:")
    hashes = db.execute(
        text("SELECT code_hash FROM recovery_codes WHERE citizen_id = :c"), {"c": citizen.id}
    ).scalars()
    stored = " ".join(hashes)
    assert all(c.replace("-", "") not in stored for c in codes)
    # Another secret key (another deployment, a tampered row) cannot read the key.
    assert not factors.verify_totp(
        db, store, citizen_id=citizen.id, code=app.code(), secret_key="another-secret"
    )


def test_a_code_is_accepted_once(db, store, settings, citizen, clock):
    app, _ = enrol(db, store, settings, citizen.id, clock)
    code = app.code()
    kw = {"citizen_id": citizen.id, "secret_key": settings.secret_key}
    assert factors.verify_totp(db, store, code=code, **kw)
    assert not factors.verify_totp(db, store, code=code, **kw)  # replayed
    clock.advance()
    assert factors.verify_totp(db, store, code=app.code(), **kw)


def test_one_step_of_drift_either_way(db, store, settings, citizen, clock):
    app, _ = enrol(db, store, settings, citizen.id, clock)
    clock.advance(5)  # away from the enrolment's (used) step
    kw = {"citizen_id": citizen.id, "secret_key": settings.secret_key}
    assert factors.verify_totp(db, store, code=app.code(-1), **kw)
    assert factors.verify_totp(db, store, code=app.code(+1), **kw)
    assert not factors.verify_totp(db, store, code=app.code(-2), **kw)
    assert not factors.verify_totp(db, store, code=app.code(+2), **kw)
    assert factors.verify_totp(db, store, code=app.code(0), **kw)


def test_a_replayed_code_is_refused_on_another_worker(backend, db, store, settings, citizen, clock):
    """Two workers: each its own Redis client, the same Redis (server leg only)."""
    if backend.name != "server":
        pytest.skip("needs Redis: the in-process store serves one process")
    app, _ = enrol(db, store, settings, citizen.id, clock)
    prefix = store._prefix  # the same deployment: the same key prefix
    worker_a = RedisStore(backend.redis_url, prefix)
    worker_b = RedisStore(backend.redis_url, prefix)
    assert worker_a._redis is not worker_b._redis
    code = app.code()
    kw = {"citizen_id": citizen.id, "secret_key": settings.secret_key}
    assert factors.verify_totp(db, worker_a, code=code, **kw)
    assert not factors.verify_totp(db, worker_b, code=code, **kw)


def test_recovery_codes_are_single_use_and_count_down(db, store, settings, citizen, clock):
    _, codes = enrol(db, store, settings, citizen.id, clock)
    assert factors.recovery_codes_left(db, citizen.id) == 10
    kw = {"citizen_id": citizen.id}
    assert factors.use_recovery_code(db, code=codes[0], **kw) == 9
    assert factors.use_recovery_code(db, code=codes[0], **kw) is None  # used
    # Typed loosely: lower case, spaces instead of dashes.
    assert factors.use_recovery_code(db, code=codes[1].lower().replace("-", " "), **kw) == 8
    for bad in ("", None, "x" * 65, "AAAA-AAAA-AAAA-AAAA-AAAA-AAAA", 42):
        assert factors.use_recovery_code(db, code=bad, **kw) is None
    check = factors.verify_second_factor(
        db, store, code=codes[2], secret_key=settings.secret_key, **kw
    )
    assert check.ok
    assert check.recovery_codes_left == 7


def test_a_recovery_code_is_only_its_citizens(db, store, settings, citizen, clock):
    _, codes = enrol(db, store, settings, citizen.id, clock)
    other = make_citizen(db, settings)
    assert factors.use_recovery_code(db, citizen_id=other.id, code=codes[0]) is None
    assert factors.use_recovery_code(db, citizen_id=citizen.id, code=codes[0]) == 9


def test_regenerating_replaces_every_code(db, store, settings, citizen, clock):
    _, old = enrol(db, store, settings, citizen.id, clock)
    factors.use_recovery_code(db, citizen_id=citizen.id, code=old[0])
    new = factors.regenerate_recovery_codes(db, citizen_id=citizen.id)
    assert factors.recovery_codes_left(db, citizen.id) == 10
    assert factors.use_recovery_code(db, citizen_id=citizen.id, code=old[1]) is None
    assert factors.use_recovery_code(db, citizen_id=citizen.id, code=new[0]) == 9


def test_removing_the_factor_removes_its_codes(db, store, settings, citizen, clock):
    app, codes = enrol(db, store, settings, citizen.id, clock)
    factors.remove_factor(db, citizen_id=citizen.id)
    assert not factors.has_factor(db, citizen.id)
    assert factors.recovery_codes_left(db, citizen.id) == 0
    assert not factors.verify_second_factor(
        db, store, citizen_id=citizen.id, code=app.code(), secret_key=settings.secret_key
    ).ok
