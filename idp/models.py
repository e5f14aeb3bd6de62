"""Import every package's models so Alembic sees the whole metadata."""

from idp.admin import apitokens as admin_tokens  # noqa: F401
from idp.audit import AuditEvent  # noqa: F401
from idp.citizens import models as citizens_models  # noqa: F401
from idp.consent import models as consent_models  # noqa: F401
from idp.db import Base
from idp.keys import SigningKey  # noqa: F401
from idp.portals import models as portals_models  # noqa: F401
from idp.staff import models as staff_models  # noqa: F401
from idp.tokens import models as tokens_models  # noqa: F401

metadata = Base.metadata
