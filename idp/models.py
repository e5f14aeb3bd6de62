"""Import every package's models so Alembic sees the whole metadata."""

from idp.citizens import models as citizens_models  # noqa: F401
from idp.consent import models as consent_models  # noqa: F401
from idp.db import Base
from idp.keys import SigningKey  # noqa: F401
from idp.oauth import models as oauth_models  # noqa: F401

metadata = Base.metadata
