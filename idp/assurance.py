"""Levels of assurance (``acr``) and authentication methods (``amr``, RFC 8176).

A leaf module: sign-in records them in the session, the protocol puts them in tokens
and advertises them in discovery.
"""

from __future__ import annotations

#: RFC 8176 authentication method reference: a password.
AMR_PASSWORD = "pwd"
#: Level 1: signed in with a password.
ACR_PASSWORD = "1"
ACR_VALUES_SUPPORTED = (ACR_PASSWORD,)
