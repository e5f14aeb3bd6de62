"""RFC 7009 token revocation."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import UnsupportedTokenTypeError
from authlib.oauth2.rfc7009 import RevocationEndpoint as _RevocationEndpoint

from idp.admin import apitokens
from idp.db import get_db
from idp.hashing import digest
from idp.tokens import service as tokens
from idp.tokens.models import Token


class RevocationEndpoint(_RevocationEndpoint):
    """Revoke an access or refresh token of the authenticated portal."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]

    def check_params(self, request: Any, client: Any) -> None:
        try:
            super().check_params(request, client)
        except UnsupportedTokenTypeError as exc:
            # An RFC 6749 §5.2 error (400); Authlib's class is a 401 without a challenge.
            exc.status_code = 400
            raise

    def query_token(
        self, token_string: str, token_type_hint: str | None
    ) -> Token | apitokens.AdminToken | None:
        db = get_db()
        if token_type_hint == "refresh_token":
            found = tokens.by_refresh_token(db, token_string) or tokens.by_access_token(
                db, token_string
            )
        else:
            found = tokens.by_access_token(db, token_string) or tokens.by_refresh_token(
                db, token_string
            )
        # An automation client's admin API token (its own table).
        return found or apitokens.find(db, token_string)

    def revoke_token(self, token: Token | apitokens.AdminToken, request: Any) -> None:
        db = get_db()
        if isinstance(token, apitokens.AdminToken):
            apitokens.revoke(db, request.form["token"])
            db.commit()
            return
        if token.refresh_token_hash == digest(request.form["token"]):
            # RFC 7009 §2.1: revoking a refresh token also revokes what it stands for.
            tokens.revoke_chain(db, token.chain_id, "revoked_by_portal")
        else:
            tokens.revoke_token(db, token.id, "revoked_by_portal")
        db.commit()
