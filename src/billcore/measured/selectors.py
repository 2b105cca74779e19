"""Reads of measured services, scoped to what the actor may see (through the class and
customer selectors): a class's defaults, a customer's effective definitions (its override or
the inherited default), its samples and the charges its closed periods made."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, QuerySet

from billcore.accounts.access import Actor
from billcore.classes.selectors import get_class
from billcore.customers.selectors import get_customer
from billcore.measured.models import MeasuredCharge, MeasuredSample, MeasuredService, Metric


@dataclass(frozen=True)
class Effective:
    """One metric as it applies to a customer: ``definition`` is the customer's override, or
    the class's default when ``inherited`` (None when neither exists)."""

    metric: str
    definition: MeasuredService | None
    inherited: bool
    samples: int  # the samples kept for the customer

    @property
    def label(self) -> str:
        return Metric(self.metric).label

    @property
    def measured(self) -> bool:
        return self.definition is not None


def class_services(*, actor: Actor, class_id: int) -> list[tuple[str, MeasuredService | None]]:
    """Every metric with the class's definition (None when the class has none)."""
    cls = get_class(actor=actor, class_id=class_id)
    rows = {r.metric: r for r in MeasuredService.objects.filter(customer_class_id=cls.pk)}
    return [(m, rows.get(m)) for m in Metric.values]


def effective_definitions(
    *, customer_id: int, class_id: int
) -> dict[str, tuple[MeasuredService, bool]]:
    """metric → (definition, inherited) of one customer, unscoped (for the engine)."""
    found: dict[str, tuple[MeasuredService, bool]] = {}
    rows = MeasuredService.objects.filter(customer_id=customer_id) | MeasuredService.objects.filter(
        customer_class_id=class_id
    )
    for row in rows:
        if row.customer_id is not None:
            found[row.metric] = (row, False)
        else:
            found.setdefault(row.metric, (row, True))
    return found


def customer_services(*, actor: Actor, customer_id: int) -> list[Effective]:
    """Every metric as it applies to the customer, with the number of samples kept."""
    customer = get_customer(actor=actor, customer_id=customer_id)
    defs = effective_definitions(customer_id=customer.pk, class_id=customer.customer_class_id)
    counts = dict(
        MeasuredSample.objects.filter(customer_id=customer.pk)
        .values("metric")
        .annotate(n=Count("id"))
        .values_list("metric", "n")
    )
    out = []
    for metric in Metric.values:
        definition, inherited = defs.get(metric, (None, False))
        out.append(
            Effective(
                metric=metric,
                definition=definition,
                inherited=inherited,
                samples=counts.get(metric, 0),
            )
        )
    return out


def customer_samples(
    *,
    actor: Actor,
    customer_id: int,
    metric: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> QuerySet[MeasuredSample]:
    """The customer's samples, oldest first; ``until`` is exclusive."""
    customer = get_customer(actor=actor, customer_id=customer_id)
    qs = MeasuredSample.objects.filter(customer_id=customer.pk)
    if metric:
        qs = qs.filter(metric=metric)
    if since is not None:
        qs = qs.filter(taken_at__gte=since)
    if until is not None:
        qs = qs.filter(taken_at__lt=until)
    return qs.order_by("taken_at", "metric")


def customer_charges(*, actor: Actor, customer_id: int) -> QuerySet[MeasuredCharge]:
    """What the customer's closed periods charged, newest first."""
    customer = get_customer(actor=actor, customer_id=customer_id)
    return MeasuredCharge.objects.filter(customer_id=customer.pk).order_by(
        "-period_start", "metric"
    )
