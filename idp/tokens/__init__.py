"""Issued access and refresh tokens: storage, lookup, revocation by token, chain, grant
or portal.

Below both the protocol (idp.oauth issues and checks tokens) and consent (idp.consent
revokes a grant's tokens when the citizen withdraws it): both call this service.
"""
