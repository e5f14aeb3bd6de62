"""The OpenAPI 3.1 document of the JSON admin API (served at ``/admin/api/openapi.json``).

Written as data, next to the API it describes: ``REGISTRATION_FIELDS`` is both the
schema of a portal's registration in the document and what the API checks a request
body's types against, so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from idp.portals.service import ADMIN_SCOPES

_STR = {"type": "string"}
_STR_OR_NULL = {"type": ["string", "null"]}
_URIS = {"type": "array", "items": {"type": "string"}, "maxItems": 50}
_BOOL = {"type": "boolean"}

#: A portal's registration fields as a request body may carry them (JSON types only;
#: the rules of each field are the registry's, see docs/operations.md).
REGISTRATION_FIELDS: dict[str, dict[str, Any]] = {
    "name": {**_STR, "description": "Vietnamese name shown to citizens (1-200 characters)"},
    "name_en": {**_STR_OR_NULL, "description": "English name (falls back to name)"},
    "contact_email": {**_STR_OR_NULL, "description": "Whom operators call about the portal"},
    "redirect_uris": {**_URIS, "description": "Exact redirect URIs (RFC 9700 §2.1)"},
    "post_logout_redirect_uris": _URIS,
    "web_origins": {**_URIS, "description": "Browser-based portals: https://host[:port]"},
    "scope": {**_STR, "description": "Space-separated scopes"},
    "auth_method": {
        "type": "string",
        "enum": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
    },
    "id_token_signed_response_alg": {"type": "string", "enum": ["RS256", "ES256"]},
    "default_acr": _STR_OR_NULL,
    "backchannel_logout_uri": _STR_OR_NULL,
    "backchannel_logout_session_required": _BOOL,
    "backchannel_private": _BOOL,
    "jwks": {"type": ["object", "null"], "description": "private_key_jwt: public keys"},
    "jwks_uri": _STR_OR_NULL,
    "purposes": {
        "type": "object",
        "description": "Per claim item: {purpose: {vi, en}, required, verified}",
        "additionalProperties": {"type": "object"},
    },
}
#: Fields given at registration only.
CREATE_ONLY_FIELDS: dict[str, dict[str, Any]] = {
    "kind": {"type": "string", "enum": ["portal", "automation"]},
    "subject_type": {"type": "string", "enum": ["pairwise", "public"]},
    "sector_identifier": _STR_OR_NULL,
}

_ERROR = {
    "type": "object",
    "required": ["error", "error_description"],
    "properties": {
        "error": {"type": "string"},
        "error_description": {"type": "string"},
        "field": {"type": "string", "description": "The request field that was refused"},
    },
}

_DELIVERY = {
    "type": "object",
    "properties": {
        "time": _STR,
        "reason": _STR,
        "attempt": {"type": "integer"},
        "outcome": {"type": "string", "enum": ["delivered", "failed", "gave_up", "refused"]},
        "http_status": {"type": ["integer", "null"]},
        "detail": _STR_OR_NULL,
        "jti": _STR,
    },
}

_PORTAL = {
    "type": "object",
    "required": ["client_id", "scope", "disabled", "grant_types"],
    "properties": {
        "client_id": _STR,
        "client_name": _STR,
        "client_name#vi": _STR,
        "client_name#en": _STR,
        "contacts": {"type": "array", "items": _STR},
        "redirect_uris": {"type": "array", "items": _STR},
        "post_logout_redirect_uris": {"type": "array", "items": _STR},
        "web_origins": {"type": "array", "items": _STR},
        "scope": _STR,
        "token_endpoint_auth_method": _STR,
        "id_token_signed_response_alg": _STR,
        "subject_type": _STR,
        "sector_identifier": _STR,
        "grant_types": {"type": "array", "items": _STR},
        "response_types": {"type": "array", "items": _STR},
        "default_acr_values": {"type": "array", "items": _STR},
        "jwks_uri": _STR_OR_NULL,
        "jwks": {"type": ["object", "null"]},
        "backchannel_logout_uri": _STR_OR_NULL,
        "backchannel_logout_session_required": _BOOL,
        "backchannel_private": _BOOL,
        "created_at": _STR_OR_NULL,
        "disabled": _BOOL,
        "notice_version": {"type": ["integer", "null"]},
        "purposes": {"type": "object"},
    },
}

_OVERVIEW = {
    "allOf": [
        {"$ref": "#/components/schemas/Portal"},
        {
            "type": "object",
            "required": ["kind", "live_grants", "last_sign_in", "deliveries"],
            "properties": {
                "kind": {"type": "string", "enum": ["portal", "automation"]},
                "live_grants": {"type": "integer", "minimum": 0},
                "last_sign_in": _STR_OR_NULL,
                "deliveries": {"type": "object", "additionalProperties": {"type": "integer"}},
                "recent_deliveries": {"type": "array", "items": {"type": "object"}},
            },
        },
    ]
}

_AUDIT_EVENT = {
    "type": "object",
    "required": ["seq", "at", "name", "data", "prev_hash", "hash"],
    "properties": {
        "seq": {"type": "integer"},
        "at": _STR,
        "name": _STR,
        "data": {"type": "object"},
        "prev_hash": _STR,
        "hash": _STR,
    },
}

_KEY = {
    "type": "object",
    "required": ["kid", "alg", "state"],
    "properties": {
        "kid": _STR,
        "alg": _STR,
        "state": _STR,
        "created_at": _STR_OR_NULL,
        "activates_at": _STR_OR_NULL,
        "retired_at": _STR_OR_NULL,
    },
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: str) -> dict[str, Any]:
    text = {
        "400": "Bad input: the field named and why (nothing was written)",
        "401": "No token, or a token that is not a live admin token",
        "403": "The token lacks the scope (the staff member's roles do not allow it)",
        "404": "No portal with this client_id",
        "409": "The portal's state does not allow it (e.g. delete before suspend)",
        "413": "The body is too large",
    }
    return {
        code: {"$ref": f"#/components/responses/E{code}"} for code in ("401", "403", *codes)
    } | {
        code: {
            "description": text[code],
            "content": {"application/json": {"schema": _ref("Error")}},
        }
        for code in codes
        if code not in ("401", "403")
    }


def _op(
    op_id: str,
    summary: str,
    scope: str,
    ok: dict[str, Any],
    *errors: str,
    ok_status: str = "200",
    body: dict[str, Any] | None = None,
    params: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": op_id,
        "summary": summary,
        "security": [{"bearer": [scope]}, {"oauth2": [scope]}],
        "responses": {ok_status: ok, **_errors(*errors)},
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if params:
        op["parameters"] = params
    return op


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


_CLIENT_ID = {
    "name": "client_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 64},
}

_AUDIT_FILTERS = [
    _query("name", {"type": "string", "maxLength": 60}, "Event name, or a prefix ending in '.'"),
    _query("client_id", {"type": "string", "maxLength": 64}, "Events naming this portal"),
    _query("from", {"type": "string"}, "From this date or time (ISO 8601, UTC), inclusive"),
    _query("to", {"type": "string"}, "Until this date or time (ISO 8601, UTC), exclusive"),
    _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "At most (default 100)"),
    _query("before", {"type": "integer", "minimum": 1}, "Rows before this seq (paging)"),
]
_MONTHS = [_query("months", {"type": "integer", "minimum": 1, "maximum": 120}, "Default 12")]


def _with_csv(
    path: str,
    op_id: str,
    summary: str,
    scope: str,
    ok: dict[str, Any],
    params: list[dict[str, Any]],
) -> dict[str, Any]:
    """Return a read operation at ``path`` and the same as CSV at ``path.csv``."""
    csv = {"description": "CSV", "content": {"text/csv": {"schema": _STR}}}
    return {
        path: {"get": _op(op_id, summary, scope, ok, "400", params=params)},
        f"{path}.csv": {
            "get": _op(f"{op_id}Csv", f"{summary}, as CSV", scope, csv, "400", params=params)
        },
    }


def document(issuer: str) -> dict[str, Any]:
    """Return the OpenAPI 3.1 document of the admin API served under ``issuer``."""
    portals, audit, figures, keys = ADMIN_SCOPES
    registration = {
        "type": "object",
        "additionalProperties": False,
        "properties": REGISTRATION_FIELDS,
    }
    creation = {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "scope"],
        "properties": {**REGISTRATION_FIELDS, **CREATE_ONLY_FIELDS},
    }
    path = [_CLIENT_ID]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Citizen sign-on: admin API",
            "version": "1",
            "description": "Portals, audit trail, adoption figures and signing keys. "
            "Every call needs a bearer admin token (see docs/admin-api.md).",
        },
        "servers": [{"url": issuer.rstrip("/") + "/admin/api"}],
        "paths": {
            "/portals": {
                "get": _op(
                    "listPortals",
                    "Every registered portal",
                    portals,
                    _json({"type": "array", "items": _ref("Portal")}, "The portals, oldest first"),
                ),
                "post": _op(
                    "createPortal",
                    "Register a portal or an automation client",
                    portals,
                    _json(_ref("Registered"), "Registered; the secret is shown once"),
                    "400",
                    "413",
                    ok_status="201",
                    body=creation,
                ),
            },
            "/portals/{client_id}": {
                "get": _op(
                    "showPortal",
                    "A portal with its overview",
                    portals,
                    _json(_ref("Overview"), "The portal"),
                    "404",
                    params=path,
                ),
                "patch": _op(
                    "updatePortal",
                    "Change any registration field (and the purposes)",
                    portals,
                    _json(_ref("Updated"), "The portal and what changed"),
                    "400",
                    "404",
                    "413",
                    body=registration,
                    params=path,
                ),
                "delete": _op(
                    "deletePortal",
                    "Delete a suspended portal (the citizens' record stays)",
                    portals,
                    _json(_ref("Deleted"), "Deleted"),
                    "404",
                    "409",
                    params=path,
                ),
            },
            "/portals/{client_id}/suspend": {
                "post": _op(
                    "suspendPortal",
                    "Cut the portal off at once",
                    portals,
                    _json(_ref("Suspended"), "Suspended (or already)"),
                    "404",
                    params=path,
                )
            },
            "/portals/{client_id}/resume": {
                "post": _op(
                    "resumePortal",
                    "Let a suspended portal sign citizens in again",
                    portals,
                    _json(_ref("Overview"), "Resumed (or already active)"),
                    "404",
                    params=path,
                )
            },
            "/portals/{client_id}/rotate-secret": {
                "post": _op(
                    "rotateSecret",
                    "A new client secret; the previous one works for grace seconds",
                    portals,
                    _json(_ref("Secret"), "The new secret (shown once)"),
                    "400",
                    "404",
                    "409",
                    "413",
                    body={
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "grace": {"type": "integer", "minimum": 0, "maximum": 2592000}
                        },
                    },
                    params=path,
                )
            },
            "/portals/{client_id}/deliveries": {
                "get": _op(
                    "portalDeliveries",
                    "The latest back-channel logout deliveries, newest first",
                    portals,
                    _json({"type": "array", "items": _DELIVERY}, "Deliveries"),
                    "400",
                    "404",
                    params=[
                        *path,
                        _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, ""),
                    ],
                )
            },
            "/portals/{client_id}/purposes": {
                "put": _op(
                    "declarePurposes",
                    "Declare why the portal needs each claim (a new notice if changed)",
                    portals,
                    _json(_ref("Purposes"), "The current notice"),
                    "400",
                    "404",
                    "413",
                    body=REGISTRATION_FIELDS["purposes"],
                    params=path,
                )
            },
            **_with_csv(
                "/audit",
                "searchAudit",
                "Audited events, newest first",
                audit,
                _json(_ref("AuditPage"), "A page of events"),
                _AUDIT_FILTERS,
            ),
            "/audit/verify": {
                "get": _op(
                    "verifyAudit",
                    "Walk the hash chain",
                    audit,
                    _json(_ref("Verdict"), "Where the chain breaks, if anywhere"),
                )
            },
            **_with_csv(
                "/figures",
                "figures",
                "Adoption figures per portal and month (counts only)",
                figures,
                _json({"type": "object", "required": ["from", "portals"]}, "Figures"),
                _MONTHS,
            ),
            "/keys": {
                "get": _op(
                    "listKeys",
                    "Every signing key's state",
                    keys,
                    _json({"type": "array", "items": _KEY}, "Keys"),
                )
            },
            "/keys/rotate": {
                "post": _op(
                    "rotateKeys",
                    "Publish the next key; it signs after the overlap",
                    keys,
                    _json({"type": "array", "items": _KEY}, "Keys after the rotation"),
                    "400",
                    "413",
                    body={
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "alg": {"type": "string", "enum": ["RS256", "ES256", "all"]},
                            "overlap": {"type": "integer", "minimum": 0, "maximum": 604800},
                        },
                    },
                )
            },
        },
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An admin token: client_credentials, or /staff/api-token",
                },
                "oauth2": {
                    "type": "oauth2",
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": issuer.rstrip("/") + "/token",
                            "scopes": {
                                portals: "Register, change, suspend, resume, delete portals",
                                audit: "Read and verify the audit trail",
                                figures: "Read the adoption figures",
                                keys: "List and rotate the signing keys",
                            },
                        }
                    },
                },
            },
            "responses": {
                "E401": {
                    "description": "No token, or not a live admin token (RFC 6750 §3.1)",
                    "headers": {"WWW-Authenticate": {"schema": _STR}},
                    "content": {"application/json": {"schema": _ref("Error")}},
                },
                "E403": {
                    "description": "insufficient_scope: the role or registration does not allow it",
                    "headers": {"WWW-Authenticate": {"schema": _STR}},
                    "content": {"application/json": {"schema": _ref("Error")}},
                },
            },
            "schemas": {
                "Error": _ERROR,
                "Portal": _PORTAL,
                "Overview": _OVERVIEW,
                "Registered": {
                    "allOf": [
                        _ref("Overview"),
                        {
                            "type": "object",
                            "required": ["client_secret"],
                            "properties": {"client_secret": _STR_OR_NULL},
                        },
                    ]
                },
                "Updated": {
                    "type": "object",
                    "required": ["portal", "changed"],
                    "properties": {
                        "portal": _ref("Overview"),
                        "changed": {"type": "array", "items": _STR},
                    },
                },
                "Deleted": {
                    "type": "object",
                    "required": ["client_id", "deleted"],
                    "properties": {"client_id": _STR, "deleted": {"const": True}},
                },
                "Suspended": {
                    "type": "object",
                    "required": ["client_id", "tokens_revoked", "sessions_told", "already"],
                    "properties": {
                        "client_id": _STR,
                        "tokens_revoked": {"type": "integer"},
                        "sessions_told": {"type": "integer"},
                        "already": {"type": "boolean", "description": "It was suspended before"},
                    },
                },
                "Secret": {
                    "type": "object",
                    "required": ["client_id", "client_secret", "previous_works_for"],
                    "properties": {
                        "client_id": _STR,
                        "client_secret": _STR,
                        "previous_works_for": {"type": "integer"},
                    },
                },
                "Purposes": {
                    "type": "object",
                    "required": ["client_id", "notice_version", "purposes"],
                    "properties": {
                        "client_id": _STR,
                        "notice_version": {"type": "integer"},
                        "notice_hash": _STR,
                        "purposes": {"type": "object"},
                    },
                },
                "AuditPage": {
                    "type": "object",
                    "required": ["events", "next_before"],
                    "properties": {
                        "events": {"type": "array", "items": _AUDIT_EVENT},
                        "next_before": {"type": ["integer", "null"]},
                    },
                },
                "Verdict": {
                    "type": "object",
                    "required": ["ok", "rows", "broken_at", "reason"],
                    "properties": {
                        "ok": _BOOL,
                        "rows": {"type": "integer"},
                        "broken_at": {"type": ["integer", "null"]},
                        "reason": _STR,
                    },
                },
            },
        },
    }
