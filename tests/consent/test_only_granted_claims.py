"""Only granted claims leave the provider (property test, both backends).

For random declared item sets, random requested scopes, random OIDC ``claims`` parameters
(id_token / userinfo members, unknown claims, ``essential``) and a random set of items the
citizen leaves unticked on the consent page, the ID token and userinfo carry exactly

    requested(target) ∩ claims(granted ∩ declared) ∩ claims the citizen has

where requested(userinfo) = the claims of the requested scopes ∪ ``claims.userinfo`` and
requested(id_token) = ``claims.id_token`` only (OIDC Core §5.4, §5.5). ``essential`` never
stops the citizen from declining. Nothing undeclared or ungranted ever appears, and an item
the citizen has no value for is never asked for.
"""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.consent.helpers import (
    ITEM_CLAIMS,
    ITEM_OF,
    ITEMS,
    PERSONAL,
    SCOPE_CLAIMS,
    SCOPE_ITEMS,
    Browser,
    personal,
    purposes,
)
from tests.support.factories import new_citizen, new_portal

EXAMPLES = settings(
    max_examples=int(os.environ.get("IDP_PROPERTY_EXAMPLES", "30")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

CLAIM_SCOPES = tuple(SCOPE_CLAIMS)
UNKNOWN_CLAIMS = ("nickname", "picture", "locale", "x_tax_code", "acr")
SPECS = [None, {}, {"essential": True}, {"essential": False}, {"essential": "yes"}]


@st.composite
def claims_parameter(draw: Any) -> dict[str, Any] | None:
    """A §5.5 claims request: id_token and/or userinfo members, unknown names too."""
    if draw(st.booleans()) and draw(st.booleans()):
        return None
    names = st.sampled_from(sorted(PERSONAL) + list(UNKNOWN_CLAIMS))
    out: dict[str, Any] = {}
    for target in ("id_token", "userinfo"):
        if draw(st.booleans()):
            members = draw(st.lists(names, max_size=5, unique=True))
            out[target] = {m: draw(st.sampled_from(SPECS)) for m in members}
    if draw(st.booleans()):
        out["other_target"] = {"email": {"essential": True}}  # ignored (§5.5)
    return out


@st.composite
def scenario(draw: Any) -> dict[str, Any]:
    declared = draw(st.sets(st.sampled_from(ITEMS)))
    scopes = draw(st.sets(st.sampled_from(CLAIM_SCOPES)))
    claims = draw(claims_parameter())
    untick = draw(st.sets(st.sampled_from(ITEMS)))
    who = draw(st.sampled_from(["full", "sparse"]))
    return {"declared": declared, "scopes": scopes, "claims": claims, "untick": untick, "who": who}


def requested(scopes: set[str], claims: dict[str, Any] | None, target: str) -> set[str]:
    names = {c for s in scopes for c in SCOPE_CLAIMS[s]} if target == "userinfo" else set()
    names |= {c for c in (claims or {}).get(target, {}) if c in PERSONAL}
    return names


def test_only_granted_claims_leave_the_provider(app, client, db, settings):  # noqa: C901
    full = new_citizen(db, settings)
    sparse = new_citizen(db, settings, middle_name="", email="")
    browsers = {"full": Browser(client, full), "sparse": Browser(app.test_client(), sparse)}
    has = {
        "full": set(PERSONAL),
        "sparse": set(PERSONAL) - {"middle_name", "email", "email_verified"},
    }
    on_file = {"full": set(ITEMS), "sparse": set(ITEMS) - {"email"}}
    profiles = {"full": full.profile, "sparse": sparse.profile}

    @EXAMPLES
    @given(case=scenario())
    def run(case: dict[str, Any]) -> None:
        declared, scopes, claims = case["declared"], case["scopes"], case["claims"]
        browser = browsers[case["who"]]
        # All declared optional: what the citizen clears is only limited by `essential`.
        portal = new_portal(db, purposes=purposes(declared))
        asked_items = {i for s in scopes for i in SCOPE_ITEMS[s]} | {
            ITEM_OF[c]
            for t in ("id_token", "userinfo")
            for c in (claims or {}).get(t, {})
            if c in PERSONAL
        }
        to_show = asked_items & declared & on_file[case["who"]]
        untick = case["untick"]
        params: dict[str, Any] = {"scope": " ".join(["openid", *sorted(scopes)])}
        if claims is not None:
            params["claims"] = json.dumps(claims)

        outcome = browser.authorize(portal, untick=untick, **params)
        assert outcome.code, outcome.params
        # The page lists exactly the requested, declared items; none when nothing to ask.
        assert set(outcome.shown) == to_show
        assert outcome.prompted == bool(to_show)
        granted = to_show - untick

        token = browser.token(portal, outcome)
        id_claims = browser.id_token(portal, token, outcome.nonce)
        resp = browser.userinfo(token["access_token"])
        assert resp.status_code == 200, resp.get_data(as_text=True)
        info = resp.get_json()
        assert info["sub"] == id_claims["sub"]

        allowed = {c for i in granted & declared for c in ITEM_CLAIMS[i]} & has[case["who"]]
        want_id = requested(scopes, claims, "id_token") & allowed
        want_ui = requested(scopes, claims, "userinfo") & allowed
        assert personal(id_claims) == want_id, (case, sorted(personal(id_claims)))
        assert set(info) - {"sub"} == want_ui, (case, sorted(info))
        # Nothing undeclared or ungranted, whatever the target.
        for released in (personal(id_claims), set(info) - {"sub"}):
            assert {ITEM_OF[c] for c in released} <= granted & declared
        # The values are the citizen's own.
        profile = profiles[case["who"]]
        for name in ("family_name", "given_name", "birthdate", "gender", "cccd", "email"):
            for released in (id_claims, info):
                if name in released:
                    assert released[name] == profile[name]
        for name in set(id_claims) & set(info) - {"sub"}:
            assert id_claims[name] == info[name]

    run()
