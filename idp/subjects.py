"""Subject identifiers: pairwise by default (OIDC Core §8.1).

Each portal (sector) sees its own ``sub`` for a citizen, so portals cannot correlate
citizens unless the citizen shares the ID number. A leaf module: the protocol side
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


def pairwise_subject(*, sector_identifier: str, local_id: str, salt: str) -> str:
    """Return the pairwise ``sub`` (OIDC Core §8.1): one value per sector and citizen."""
    mac = hmac.new(salt.encode(), f"{sector_identifier}\x00{local_id}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")


def subject_for(citizen_id: str, portal: HasSector) -> str:
    """Return the citizen's ``sub`` as this portal sees it (pairwise, salted per deployment)."""
    return pairwise_subject(
        sector_identifier=portal.sector_identifier,
        local_id=citizen_id,
        salt=runtime.settings().pairwise_salt,
    )
