"""Property-based fuzzing of ``/api/v1/me`` (issue 16) with a customer token, on SQLite and
PostgreSQL: the fuzzing of ``test_fuzz_api`` (schemathesis, seeded, in-process) runs there with
an administrator's token, which ``/me`` refuses (401) before any handler; here every ``/me``
operation gets valid and schema-breaking requests as customer A, its path ids drawn half the time
from A's and B's real invoices and accounts. Never a 5xx; every answer documented."""

from __future__ import annotations

from typing import Any

import pytest
from schemathesis import GenerationMode

from tests.e2e import test_fuzz_api as fuzz
from tests.selfcare_support import T0, make_world

pytestmark = pytest.mark.django_db

# Every /me operation but logout, which revokes the token the other examples need (the matrix
# test covers it).
ME_OPERATIONS = [
    op
    for op in fuzz.OPERATIONS
    if op.path.startswith("/api/v1/me") and not op.path.endswith("/logout")
]


def test_every_me_operation_is_fuzzed() -> None:
    assert len(ME_OPERATIONS) == 17
    # Their schemas have names of their own (a clash would replace another router's schema).
    components = fuzz.SCHEMA.raw_schema["components"]["schemas"]
    assert {"AccountOut", "MeAccountOut", "LoginOut", "MeLoginOut"} <= set(components)
    assert "created_at" in components["AccountOut"]["properties"]


@pytest.mark.parametrize("operation", ME_OPERATIONS, ids=[op.label for op in ME_OPERATIONS])
def test_every_me_operation(operation: Any, admin: Any, settings: Any) -> None:
    from billcore.customers import logins

    settings.BILLCORE_PAYMENT_GATEWAY = "test"
    w = make_world(admin)
    token, _ = logins.create_token(
        login=w["login_a"], kind="api", now=T0, lifetime=logins.API_TOKEN_LIFETIME * 1000
    )
    objects = {
        "ids": [w["inv_a"].pk, w["inv_b"].pk, w["a1"].pk, w["a2"].pk, w["b1"].pk, 1],
        "kinds": ["x"],
    }
    fuzz._run(operation, GenerationMode.POSITIVE, token, objects, fuzz.EXAMPLES)
    fuzz._run(operation, GenerationMode.NEGATIVE, token, objects, fuzz.EXAMPLES)
