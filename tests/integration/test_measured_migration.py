"""Issue 14: the class's measured-service fields move into ``measured.MeasuredService`` by a
data migration (and back when unapplied)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("measured", "0001_initial"), ("classes", "0007_managed_by_resellers_only")]
AFTER = [("measured", "0002_from_class_fields"), ("classes", "0008_measured_service_moved")]
T0 = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)


def _migrate(targets: list[tuple[str, str]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection).loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_the_class_fields_become_the_class_default_and_come_back() -> None:
    old = _migrate(BEFORE)
    CustomerClass = old.get_model("classes", "CustomerClass")
    common = {"created_at": T0, "updated_at": T0}
    on = CustomerClass.objects.create(
        name="On",
        name_key="on",
        measured_service_enabled=True,
        measured_service_unit="mb",
        measured_service_quota=Decimal("5000.5"),
        measured_service_overage_rate=Decimal("0.012"),
        **common,
    )
    rate_only = CustomerClass.objects.create(
        name="Rate only",
        name_key="rate only",
        measured_service_overage_rate=Decimal("1.5"),
        **common,
    )
    CustomerClass.objects.create(name="Off", name_key="off", **common)
    new = _migrate(AFTER)
    MeasuredService = new.get_model("measured", "MeasuredService")
    rows = list(
        MeasuredService.objects.order_by("customer_class_id").values(
            "customer_class_id",
            "metric",
            "apply_charge",
            "charge_basis",
            "price",
            "free_items",
            "rate_code",
        )
    )
    assert rows == [
        {
            "customer_class_id": on.pk,
            "metric": "active_calls",
            "apply_charge": True,
            "charge_basis": "maximum",
            "price": Decimal("0.01200"),
            "free_items": Decimal("5000.50000"),
            "rate_code": "mb",
        },
        {
            "customer_class_id": rate_only.pk,
            "metric": "active_calls",
            "apply_charge": False,
            "charge_basis": "maximum",
            "price": Decimal("1.50000"),
            "free_items": Decimal("0.00000"),
            "rate_code": "minutes",
        },
    ]
    back = _migrate(BEFORE)
    restored = back.get_model("classes", "CustomerClass").objects.get(pk=on.pk)
    assert (
        restored.measured_service_enabled,
        restored.measured_service_unit,
        restored.measured_service_quota,
        restored.measured_service_overage_rate,
    ) == (True, "mb", Decimal("5000.50000"), Decimal("0.01200"))
    _migrate(AFTER)
