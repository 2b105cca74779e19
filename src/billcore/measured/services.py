"""Every write to measured-service definitions (CC-22 Measured Service tab, CU-13 Measured
Services tab; rating-and-tabs.md §3.4).

A class's definition of a metric is the default for its customers; a customer's definition of
the same metric overrides it whole (the customer tab shows the class's as *Inherited* until
then). Services take the acting user and ``now``, run in one transaction each and write an
audit row. ``set_*`` creates the definition or changes the given fields of the existing one;
a new customer override starts from the inherited definition (or the defaults).

Fields: ``apply_charge`` (false = statistics only), ``charge_basis`` (average / maximum /
minimum of the period's samples), ``price`` (per item, ≥ 0), ``free_items`` (≥ 0),
``rate_code``, ``service`` (a catalogue service code, shown on the invoice line),
``configured_limit`` (concurrent calls only: the simultaneous-call limit that is sampled).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db import transaction

from billcore.accounts.access import Actor
from billcore.audit.services import record, snapshot
from billcore.classes.selectors import get_class
from billcore.customers.selectors import get_customer
from billcore.errors import NotFound, ValidationFailed
from billcore.measured.models import ChargeBasis, MeasuredService, Metric
from billcore.rating.models import Service
from billcore.validation import as_bool, as_choice, as_int, as_money, as_str, reject_unknown

FIELDS = (
    "apply_charge",
    "charge_basis",
    "price",
    "free_items",
    "rate_code",
    "service",
    "configured_limit",
)
ZERO = Decimal(0)
# The invoice line's service column holds 16 characters.
SERVICE_MAX = 16


def as_metric(value: Any, *, field: str = "metric") -> str:
    return as_choice(field, value, Metric.values)


def _apply(row: MeasuredService, data: Mapping[str, Any]) -> None:
    reject_unknown(dict(data), FIELDS)
    if "apply_charge" in data:
        row.apply_charge = as_bool("apply_charge", data["apply_charge"])
    if "charge_basis" in data:
        row.charge_basis = as_choice("charge_basis", data["charge_basis"], ChargeBasis.values)
    if "price" in data:
        row.price = as_money("price", data["price"], allow_none=False, minimum=ZERO)
    if "free_items" in data:
        row.free_items = as_money("free_items", data["free_items"], allow_none=False, minimum=ZERO)
    if "rate_code" in data:
        row.rate_code = as_str("rate_code", data["rate_code"], max_length=32)
    if "service" in data:
        code = as_str("service", data["service"], max_length=SERVICE_MAX)
        if code and not Service.objects.filter(code=code).exists():
            raise ValidationFailed(
                f"service {code!r} is not a service of the catalogue", field="service"
            )
        row.service = code
    if "configured_limit" in data:
        value = data["configured_limit"]
        if value is None or value == "":
            row.configured_limit = None
        else:
            row.configured_limit = as_int("configured_limit", value, minimum=0, maximum=1_000_000)
    if row.configured_limit is not None and row.metric != Metric.CONCURRENT_CALLS:
        raise ValidationFailed(
            "configured_limit applies only to concurrent calls", field="configured_limit"
        )


def _copy_of(source: MeasuredService | None) -> dict[str, Any]:
    if source is None:
        return {}
    return {name: getattr(source, name) for name in FIELDS}


def _save(
    *,
    actor: Actor,
    now: dt.datetime,
    row: MeasuredService | None,
    new: MeasuredService,
    data: Mapping[str, Any],
) -> MeasuredService:
    before = snapshot(row) if row is not None else None
    target = row if row is not None else new
    _apply(target, data)
    target.updated_at = now
    target.save()
    record(
        actor=actor,
        now=now,
        operation="update" if before is not None else "create",
        obj=target,
        before=before,
        after=snapshot(target),
    )
    return target


@transaction.atomic
def set_class_service(
    *, actor: Actor, now: dt.datetime, class_id: int, metric: Any, data: Mapping[str, Any]
) -> MeasuredService:
    """Create or change the class's default definition of ``metric``."""
    cls = get_class(actor=actor, class_id=class_id)
    code = as_metric(metric)
    row = (
        MeasuredService.objects.select_for_update()
        .filter(customer_class_id=cls.pk, metric=code)
        .first()
    )
    new = MeasuredService(customer_class_id=cls.pk, metric=code, created_at=now, updated_at=now)
    return _save(actor=actor, now=now, row=row, new=new, data=data)


@transaction.atomic
def delete_class_service(*, actor: Actor, now: dt.datetime, class_id: int, metric: Any) -> None:
    """Remove the class's default for ``metric`` (customers' own overrides stay)."""
    cls = get_class(actor=actor, class_id=class_id)
    code = as_metric(metric)
    row = MeasuredService.objects.filter(customer_class_id=cls.pk, metric=code).first()
    if row is None:
        raise NotFound(f"the class has no measured service {code}", field="metric")
    record(actor=actor, now=now, operation="delete", obj=row, before=snapshot(row), after=None)
    row.delete()


@transaction.atomic
def set_customer_service(
    *, actor: Actor, now: dt.datetime, customer_id: int, metric: Any, data: Mapping[str, Any]
) -> MeasuredService:
    """Create or change the customer's override of ``metric``; a new override starts from
    the class's definition (what was inherited)."""
    customer = get_customer(actor=actor, customer_id=customer_id)
    code = as_metric(metric)
    row = (
        MeasuredService.objects.select_for_update()
        .filter(customer_id=customer.pk, metric=code)
        .first()
    )
    inherited = MeasuredService.objects.filter(
        customer_class_id=customer.customer_class_id, metric=code
    ).first()
    new = MeasuredService(
        customer_id=customer.pk,
        metric=code,
        created_at=now,
        updated_at=now,
        **_copy_of(inherited),
    )
    return _save(actor=actor, now=now, row=row, new=new, data=data)


@transaction.atomic
def delete_customer_service(
    *, actor: Actor, now: dt.datetime, customer_id: int, metric: Any
) -> None:
    """Drop the customer's override: the class's definition applies again (inherited)."""
    customer = get_customer(actor=actor, customer_id=customer_id)
    code = as_metric(metric)
    row = MeasuredService.objects.filter(customer_id=customer.pk, metric=code).first()
    if row is None:
        raise NotFound(f"the customer has no override of {code}", field="metric")
    record(actor=actor, now=now, operation="delete", obj=row, before=snapshot(row), after=None)
    row.delete()
