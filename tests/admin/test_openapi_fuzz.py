"""The admin API fuzzed from its own served OpenAPI document (schemathesis), both backends.

Every operation, a few generated requests each (``IDP_API_FUZZ_EXAMPLES``, default 6),
with an administrator's token: never a 5xx, every status code and body as documented.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from idp.admin import service as admin_service
from idp.store import MemoryStore
from tests.admin.helpers import bearer, staff_token
from tests.support.factories import new_portal

EXAMPLES = int(os.environ.get("IDP_API_FUZZ_EXAMPLES", "6"))
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]


@pytest.fixture
def admin_headers(db: Any) -> dict[str, str]:
    token, _ = staff_token(db, "admin")
    return bearer(token)


def test_every_operation_answers_as_documented(
    app: Any, db: Any, admin_headers: dict[str, str]
) -> None:
    # The document as the app serves it, driving the app in-process (WSGI). Each
    # operation gets its own Hypothesis run (schemathesis' pytest plugin is not used:
    # its fixture-based loader does not run under pytest 9).
    schema = schemathesis.openapi.from_wsgi("/admin/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 17
    # Path parameters name, in turn, what was generated, a live portal and a suspended
    # one, so that the portal operations also run past their 404.
    live = new_portal(db, scope="openid profile email").client_id
    suspended = new_portal(db, scope="openid profile").client_id
    admin_service.suspend_portal(db, MemoryStore(), client_id=suspended)
    db.commit()
    turn = itertools.cycle([None, live, suspended])

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def fuzz(case: Any) -> None:
            chosen = next(turn)
            if chosen and case.path_parameters and "client_id" in case.path_parameters:
                case.path_parameters["client_id"] = chosen
            case.call_and_validate(headers=admin_headers, checks=CHECKS)

        fuzz()
