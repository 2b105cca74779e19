"""The measured-service charges of a closing period (rating-and-tabs.md §3.4, §7 item 5),
for both close paths (``invoicing.closing`` and ``invoicing.fastclose``): the same
``due_charges`` decides, each path posts the rows its own way, and ``record_charges`` keeps
what was charged.

For each metric whose effective definition (the customer's override, else the class's
default) applies a charge: the statistic (average / maximum / minimum) of the samples taken in
``[start, end)``, minus the free items, floored at 0, times the price, rounded once by the
class's rounding method (``core.measured``). No samples, or an amount of 0: no charge.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Max, Min, Sum

from billcore.classes.models import CustomerClass, RoundingMode
from billcore.core import measured as arithmetic
from billcore.measured.models import MeasuredCharge, MeasuredSample, MeasuredService, Metric
from billcore.measured.selectors import effective_definitions


@dataclass(frozen=True)
class DueCharge:
    metric: str
    charge_basis: str
    samples: int
    statistic: Decimal
    free_items: Decimal
    quantity: Decimal
    price: Decimal
    amount: Decimal
    rate_code: str
    service: str

    @property
    def comment(self) -> str:
        """The ledger row's visible comment."""
        label = Metric(self.metric).label
        code = f" [{self.rate_code}]" if self.rate_code else ""
        return f"{label}{code}: {self.quantity.normalize():f} x {self.price.normalize():f}"


def custom_pattern(cls: CustomerClass) -> str | None:
    """The class's custom rounding pattern (CC-17), None for the currency default."""
    if cls.invoice_rounding == RoundingMode.CUSTOM and cls.invoice_rounding_pattern:
        return cls.invoice_rounding_pattern
    return None


class DefinitionIndex:
    """Every definition that applies a charge or could hide one, read once (the fast close
    path's engine run): ``for_customer`` gives what ``charging_definitions`` gives."""

    def __init__(self) -> None:
        self.by_class: dict[int, dict[str, MeasuredService]] = {}
        self.by_customer: dict[int, dict[str, MeasuredService]] = {}
        for row in MeasuredService.objects.all():
            if row.customer_id is not None:
                self.by_customer.setdefault(row.customer_id, {})[row.metric] = row
            elif row.customer_class_id is not None:
                self.by_class.setdefault(row.customer_class_id, {})[row.metric] = row

    def for_customer(self, *, customer_id: int, class_id: int) -> list[MeasuredService]:
        merged = {**self.by_class.get(class_id, {}), **self.by_customer.get(customer_id, {})}
        return [d for _, d in sorted(merged.items()) if d.apply_charge]


def charging_definitions(*, customer_id: int, class_id: int) -> list[MeasuredService]:
    """The customer's effective definitions that apply a charge, by metric."""
    defs = effective_definitions(customer_id=customer_id, class_id=class_id)
    return [d for m, (d, _) in sorted(defs.items()) if d.apply_charge]


def due_charges(
    *,
    customer_id: int,
    definitions: list[MeasuredService],
    start: dt.datetime,
    end: dt.datetime,
    decimals: int,
    custom_pattern: str | None,
) -> list[DueCharge]:
    """The charges of ``[start, end)`` for ``definitions`` (``charging_definitions``)."""
    if not definitions:
        return []
    figures = {
        r["metric"]: r
        for r in MeasuredSample.objects.filter(
            customer_id=customer_id,
            metric__in=[d.metric for d in definitions],
            taken_at__gte=start,
            taken_at__lt=end,
        )
        .values("metric")
        .annotate(n=Count("id"), total=Sum("value"), high=Max("value"), low=Min("value"))
    }
    out = []
    for d in definitions:
        f = figures.get(d.metric)
        if f is None or not f["n"]:
            continue
        value = _statistic(d.charge_basis, n=f["n"], total=f["total"], high=f["high"], low=f["low"])
        quantity = arithmetic.charged_quantity(value, free_items=d.free_items)
        amount = arithmetic.charge_amount(
            quantity, price=d.price, decimals=decimals, custom_pattern=custom_pattern
        )
        if not amount:
            continue
        out.append(
            DueCharge(
                metric=d.metric,
                charge_basis=d.charge_basis,
                samples=f["n"],
                statistic=arithmetic.stored(value),
                free_items=d.free_items,
                quantity=arithmetic.stored(quantity),
                price=d.price,
                amount=amount,
                rate_code=d.rate_code,
                service=d.service,
            )
        )
    return out


def _statistic(basis: str, *, n: int, total: int, high: int, low: int) -> Decimal:
    """The statistic from the aggregates (the same as ``core.measured.statistic`` of the
    values, without reading them)."""
    if basis == arithmetic.MAXIMUM:
        return Decimal(high)
    if basis == arithmetic.MINIMUM:
        return Decimal(low)
    return arithmetic.mean(total=total, count=n)


def record_charges(
    *,
    customer_id: int,
    charges: list[DueCharge],
    transaction_ids: list[int],
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
) -> None:
    """Keep each charge with the ledger row that carried it."""
    MeasuredCharge.objects.bulk_create(
        MeasuredCharge(
            customer_id=customer_id,
            metric=c.metric,
            period_start=start,
            period_end=end,
            charge_basis=c.charge_basis,
            samples=c.samples,
            statistic=c.statistic,
            free_items=c.free_items,
            quantity=c.quantity,
            price=c.price,
            amount=c.amount,
            rate_code=c.rate_code,
            service=c.service,
            transaction_id=tid,
            created_at=now,
        )
        for c, tid in zip(charges, transaction_ids, strict=True)
    )
