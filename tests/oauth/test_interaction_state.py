"""The interaction state machine (idp.interaction): transitions, binding, single use."""

from __future__ import annotations

import pytest

from idp import interaction as flow
from idp.store import MemoryStore

TTL = 60


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


def park(store: MemoryStore, state: str = flow.LOGIN_PENDING) -> flow.Interaction:
    return flow.start(
        store,
        params={"client_id": "portal", "scope": "openid", "junk": "x"},
        binding="browser-1",
        state=state,
        checks=["login_required"],
        citizen_id=None,
        ttl=TTL,
    )


def test_a_parked_request_keeps_only_the_authorization_parameters(store) -> None:
    inter = park(store)
    loaded = flow.load(store, inter.id, "browser-1")
    assert loaded is not None
    assert loaded.id == inter.id
    assert loaded.params == {"client_id": "portal", "scope": "openid"}
    assert loaded.state == flow.LOGIN_PENDING
    assert loaded.acr_level == 0


@pytest.mark.parametrize("iid", [None, 12345, b"bytes-id-1234", "", "short", "x" * 65])
def test_a_malformed_id_is_simply_unknown(store, iid) -> None:
    park(store)
    assert flow.load(store, iid, "browser-1") is None


def test_another_browser_or_none_cannot_load_it(store) -> None:
    inter = park(store)
    assert flow.load(store, inter.id, "browser-2") is None
    assert flow.load(store, inter.id, None) is None


@pytest.mark.parametrize(
    ("start", "to"),
    [
        (flow.LOGIN_PENDING, flow.AUTHENTICATED),
        (flow.AUTHENTICATED, flow.CONSENT_PENDING),
        (flow.AUTHENTICATED, flow.CONSENTED),
        (flow.CONSENT_PENDING, flow.CONSENTED),
        (flow.CONSENT_PENDING, flow.DENIED),
        (flow.CONSENT_PENDING, flow.LOGIN_PENDING),
    ],
)
def test_allowed_transitions_are_saved(store, start, to) -> None:
    inter = park(store, start)
    flow.advance(store, inter, to, TTL, citizen_id="c1")
    loaded = flow.load(store, inter.id, "browser-1")
    assert (loaded.state, loaded.citizen_id) == (to, "c1")


@pytest.mark.parametrize(
    ("start", "to"),
    [
        (flow.LOGIN_PENDING, flow.CONSENTED),
        (flow.LOGIN_PENDING, flow.CONSENT_PENDING),
        (flow.LOGIN_PENDING, flow.DENIED),
        (flow.CONSENT_PENDING, flow.AUTHENTICATED),
        (flow.CONSENTED, flow.CONSENT_PENDING),
        (flow.DENIED, flow.CONSENTED),
        (flow.DENIED, flow.LOGIN_PENDING),
    ],
)
def test_other_transitions_are_refused_and_nothing_is_saved(store, start, to) -> None:
    inter = park(store, start)
    with pytest.raises(flow.TransitionError, match=f"{start} -> {to}"):
        flow.advance(store, inter, to, TTL)
    assert flow.load(store, inter.id, "browser-1").state == start


def test_a_pending_state_may_be_saved_again_but_a_final_one_may_not(store) -> None:
    inter = park(store, flow.CONSENT_PENDING)
    flow.advance(store, inter, flow.CONSENT_PENDING, TTL, checks=["notice_changed"])
    assert flow.load(store, inter.id, "browser-1").checks == ["notice_changed"]
    for final in (flow.CONSENTED, flow.DENIED):
        done = park(store, final)
        with pytest.raises(flow.TransitionError):
            flow.advance(store, done, final, TTL)


def test_take_answers_once_and_only_for_its_browser(store) -> None:
    inter = park(store)
    foreign = flow.Interaction(**{**inter.__dict__, "binding": "someone else's"})
    assert flow.take(store, foreign) is None  # taken, but not answered to another browser
    inter = park(store)
    taken = flow.take(store, inter)
    assert taken is not None
    assert taken.id == inter.id
    assert flow.take(store, inter) is None
    assert flow.load(store, inter.id, "browser-1") is None
