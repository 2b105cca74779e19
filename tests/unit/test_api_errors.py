"""The field a validation error names (billcore.api.base._field_of): the request location and the
handlers' body parameter are dropped, a field of the same name is kept."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("loc", "field"),
    [
        (["body"], None),
        (["body", "payload"], None),
        (["body", "payload", "name"], "name"),
        (["body", "payload", "body"], "body"),
        (["body", "payload", "taxes", 0, "rate"], "taxes.0.rate"),
        (["query", "limit"], "limit"),
        (["path", "customer_id"], "customer_id"),
    ],
)
def test_field_of(loc: list[object], field: str | None) -> None:
    from billcore.api.base import _field_of

    assert _field_of(loc) == field
