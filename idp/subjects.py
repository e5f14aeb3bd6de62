"""Subject identifiers: pairwise by default (OIDC Core §8.1), public on request.

Each portal (sector) sees its own ``sub`` for a citizen, so portals cannot correlate
citizens unless the citizen shares the ID number. A portal registered with the
``public`` subject type sees the one ``sub`` every public portal sees (still derived
with the deployment's salt, never the internal account id). A leaf module: the protocol side
(ID tokens, userinfo, introspection) and the consent side (receipts) both name the
citizen to a portal this way.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Protocol

from idp import runtime


class HasSector(Protocol):
    """Anything that names a sector (a registered portal)."""

    sector_identifier: str
    subject_type: str


#: The "sector" every public-subject portal shares (cannot collide with a host name).
PUBLIC_SECTOR = "\x00public"


def pairwise_subject(*, sector_identifier: str, local_id: str, salt: str) -> str:
    """Return the pairwise ``sub`` (OIDC Core §8.1): one value per sector and citizen."""
    mac = hmac.new(salt.encode(), f"{sector_identifier}\x00{local_id}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")


def subject_for(citizen_id: str, portal: HasSector) -> str:
    """Return the citizen's ``sub`` as this portal sees it (salted per deployment)."""
    public = getattr(portal, "subject_type", "pairwise") == "public"
    return pairwise_subject(
        sector_identifier=PUBLIC_SECTOR if public else portal.sector_identifier,
        local_id=citizen_id,
        salt=runtime.settings().pairwise_salt,
    )
