"""The measured-services sampler (rating-and-tabs.md §3.4): readings of each measured metric
for each customer it applies to, at fixed slots: every 5 minutes for active calls, each UTC day
for concurrent calls and PBX extensions.

* Active calls: the customer's open reservations that have not expired at the moment of the
  reading (live network sessions hold reservations).
* Concurrent calls: the customer's simultaneous-call limit in force (its Service
  Configuration's "simultaneous calls", ``features.call_limits``), else the effective
  definition's own ``configured_limit``; no reading without either; not measured for
  resellers.
* PBX extensions: the customer's accounts with an extension number, not terminated at the
  moment of the reading.

A reading is taken for the slot that contains ``now`` only: a slot nobody read (the server
was down) has no sample, never an invented one. Taking the same slot twice writes nothing the
second time. Permanently terminated customers are not sampled.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count, Q

from billcore.charging.models import Reservation, ReservationStatus
from billcore.customers.models import Customer, CustomerType, Status
from billcore.features.services import call_limits
from billcore.measured.models import MeasuredSample, MeasuredService, Metric
from billcore.subscribers.models import Account

INTERVAL: dict[str, int] = {
    Metric.ACTIVE_CALLS: 5 * 60,
    Metric.CONCURRENT_CALLS: 24 * 3600,
    Metric.PBX_EXTENSIONS: 24 * 3600,
}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def slot_of(metric: str, now: dt.datetime) -> dt.datetime:
    """The start of the slot of ``metric`` containing ``now`` (UTC)."""
    step = INTERVAL[metric]
    seconds = int((now - _EPOCH).total_seconds())
    return _EPOCH + dt.timedelta(seconds=seconds - seconds % step)


@dataclass
class SampleRun:
    """Per metric: the slot read and the number of samples written."""

    slots: dict[str, dt.datetime] = field(default_factory=dict)
    taken: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.taken.values())


def _measured_customers(metric: str) -> dict[int, MeasuredService]:
    """customer id → its effective definition of ``metric`` (override, else class default)."""
    overrides = {
        r.customer_id: r
        for r in MeasuredService.objects.filter(customer__isnull=False, metric=metric)
    }
    defaults = {
        r.customer_class_id: r
        for r in MeasuredService.objects.filter(customer_class__isnull=False, metric=metric)
    }
    if not overrides and not defaults:
        return {}
    customers = (
        Customer.objects.exclude(status=Status.CLOSED)
        .filter(Q(pk__in=list(overrides)) | Q(customer_class_id__in=list(defaults)))
        .values_list("id", "customer_class_id", "customer_type")
    )
    out: dict[int, MeasuredService] = {}
    for pk, class_id, kind in customers:
        if metric == Metric.CONCURRENT_CALLS and kind == CustomerType.RESELLER:
            continue
        definition = overrides.get(pk) or defaults.get(class_id)
        if definition is not None:
            out[pk] = definition
    return out


def _readings(metric: str, now: dt.datetime, who: dict[int, MeasuredService]) -> dict[int, int]:
    ids = list(who)
    if metric == Metric.ACTIVE_CALLS:
        counted = dict(
            Reservation.objects.filter(
                customer_id__in=ids, status=ReservationStatus.OPEN, expires_at__gt=now
            )
            .values("customer_id")
            .annotate(n=Count("id"))
            .values_list("customer_id", "n")
        )
        return {pk: counted.get(pk, 0) for pk in ids}
    if metric == Metric.PBX_EXTENSIONS:
        counted = dict(
            Account.objects.filter(customer_id__in=ids, extension__gt="")
            .filter(Q(terminated_at__isnull=True) | Q(terminated_at__gt=now))
            .values("customer_id")
            .annotate(n=Count("id"))
            .values_list("customer_id", "n")
        )
        return {pk: counted.get(pk, 0) for pk in ids}
    readings = {}
    for pk, d in who.items():
        own, _ = call_limits(customer_id=pk, account_id=None)
        limit = own.max_calls if own.max_calls is not None else d.configured_limit
        if limit is not None:
            readings[pk] = limit
    return readings


def take_samples(*, now: dt.datetime, metrics: Iterable[str] | None = None) -> SampleRun:
    """Read ``metrics`` (all by default) for the slot containing ``now``."""
    run = SampleRun()
    for metric in metrics if metrics is not None else Metric.values:
        slot = slot_of(metric, now)
        run.slots[metric] = slot
        with transaction.atomic():
            who = _measured_customers(metric)
            values = _readings(metric, now, who) if who else {}
            done = set(
                MeasuredSample.objects.filter(
                    metric=metric, taken_at=slot, customer_id__in=list(values)
                ).values_list("customer_id", flat=True)
            )
            rows = [
                MeasuredSample(
                    customer_id=pk, metric=metric, taken_at=slot, value=value, created_at=now
                )
                for pk, value in sorted(values.items())
                if pk not in done
            ]
            MeasuredSample.objects.bulk_create(rows, ignore_conflicts=True)
        run.taken[metric] = len(rows)
    return run


class Sampler:
    """Beside the engine (``billcore serve``): each tick reads the metrics whose slot has
    changed since the last tick of this process."""

    def __init__(self) -> None:
        self.last: dict[str, dt.datetime] = {}

    def tick(self, *, now: dt.datetime) -> SampleRun:
        due = [m for m in Metric.values if self.last.get(m) != slot_of(m, now)]
        run = take_samples(now=now, metrics=due)
        self.last.update(run.slots)
        return run
