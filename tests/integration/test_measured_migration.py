"""Issue 14: the class's measured-service fields move into ``measured.MeasuredService`` by a
data migration (and back when unapplied). The migration's functions are played on stand-in
models (migrating the test database back and forth disturbs the tests that follow it)."""

from __future__ import annotations

import datetime as dt
import importlib
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

migration = importlib.import_module("billcore.measured.migrations.0002_from_class_fields")
T0 = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)


class _Rows:
    def __init__(self, rows: list[Any]) -> None:
        self.rows = rows

    def all(self) -> _Rows:
        return self

    def order_by(self, *_: str) -> list[Any]:
        return self.rows


class _Measured:
    created: list[Any] = []

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)

    class objects:  # a manager's name
        @staticmethod
        def bulk_create(rows: list[Any]) -> None:
            _Measured.created.extend(rows)


def _class(pk: int, **fields: Any) -> SimpleNamespace:
    base = {
        "measured_service_enabled": False,
        "measured_service_unit": "minutes",
        "measured_service_quota": None,
        "measured_service_overage_rate": None,
    }
    return SimpleNamespace(pk=pk, updated_at=T0, **{**base, **fields})


def test_the_class_fields_become_the_class_default() -> None:
    classes = [
        _class(
            1,
            measured_service_enabled=True,
            measured_service_unit="mb",
            measured_service_quota=Decimal("5000.5"),
            measured_service_overage_rate=Decimal("0.012"),
        ),
        _class(2, measured_service_overage_rate=Decimal("1.5")),
        _class(3),  # nothing set: no definition
    ]
    models = {
        ("classes", "CustomerClass"): SimpleNamespace(objects=_Rows(classes)),
        ("measured", "MeasuredService"): _Measured,
    }
    apps = SimpleNamespace(get_model=lambda app, name: models[(app, name)])
    _Measured.created = []
    migration.forward(apps, None)
    got = [
        (
            r.customer_class_id,
            r.metric,
            r.apply_charge,
            r.charge_basis,
            r.price,
            r.free_items,
            r.rate_code,
            r.created_at,
        )
        for r in _Measured.created
    ]
    assert got == [
        (1, "active_calls", True, "maximum", Decimal("0.012"), Decimal("5000.5"), "mb", T0),
        (2, "active_calls", False, "maximum", Decimal("1.5"), Decimal(0), "minutes", T0),
    ]
