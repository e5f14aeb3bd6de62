"""OpenID Provider metadata (OIDC Discovery 1.0 §3, RFC 8414): only what is supported."""

from __future__ import annotations

from typing import Any

from idp.assurance import ACR_VALUES_SUPPORTED
from idp.claims import SUPPORTED_SCOPES, supported_claims
from idp.oauth import ida
from idp.portals.service import AUTH_METHODS, CLIENT_ASSERTION_ALGS, ID_TOKEN_ALGS


def metadata(issuer: str, languages: tuple[str, ...]) -> dict[str, Any]:
    """Return the discovery document for ``issuer``."""
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/jwks",
        "revocation_endpoint": f"{issuer}/revoke",
        "introspection_endpoint": f"{issuer}/introspect",
        "end_session_endpoint": f"{issuer}/logout",
        "scopes_supported": list(SUPPORTED_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["pairwise", "public"],
        "id_token_signing_alg_values_supported": list(ID_TOKEN_ALGS),
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "introspection_endpoint_auth_methods_supported": [m for m in AUTH_METHODS if m != "none"],
        "token_endpoint_auth_signing_alg_values_supported": list(CLIENT_ASSERTION_ALGS),
        "revocation_endpoint_auth_signing_alg_values_supported": list(CLIENT_ASSERTION_ALGS),
        "introspection_endpoint_auth_signing_alg_values_supported": list(CLIENT_ASSERTION_ALGS),
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": supported_claims(),
        "claims_parameter_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "require_request_uri_registration": False,
        "acr_values_supported": list(ACR_VALUES_SUPPORTED),
        "prompt_values_supported": ["none", "login", "consent"],
        "display_values_supported": ["page", "touch"],
        "ui_locales_supported": list(languages),
        "claim_types_supported": ["normal"],
        "authorization_response_iss_parameter_supported": True,
        # OpenID Connect Back-Channel Logout 1.0 §2.1; no front-channel logout.
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "frontchannel_logout_supported": False,
        # OpenID Connect for Identity Assurance 1.0 §7.
        **ida.metadata(),
    }
