"""The engine's ``subscriptions`` step: every subscription fee due up to ``now``
(issue 5 §3, CU-02, CU-15, CC-19). Idempotent for the same ``now``; one transaction per
customer, with the customer's row locked, so a crash leaves each customer charged wholly or
not at all.

What is due. A subscription covers ``[start_at, end_at)``. It is charged along the
customer's billing periods (its ``billing_period`` type in its ``time_zone``, anchored at its
creation, exactly the periods ``core.periods`` gives the invoicing engine), each cut to the
subscription: a *part* ``[from, to)`` per period, charged once, in order, from ``charged_to``
(everything before it is charged or skipped) onwards.

* In advance: a part's fee is due at its start (the later of the period's start and the
  subscription's start) and is posted at that instant.
* In arrears: due at its end (the earlier of the period's end and the subscription's end);
  it is posted 1 µs before that end, the last instant it covers, so the close step (which
  takes the rows created before the period's end) bills it with the period it pays for even
  when the engine charges it at the very instant the period closes.
* A fee charged later than it was due (the engine did not run meanwhile) is still posted at
  the instant it was due; only fees that waited for funds (CC-19) are posted when charged.

The fee. ``plan.fee`` is the price of one whole billing period. With ``plan.prorate`` a part
costs ``fee * covered / period``, both lengths in microseconds of elapsed time and the period
being the customer's regular period (a first period cut short by the customer's creation
counts at its full length), rounded half-up to 5 decimals in exact integer arithmetic (no
binary floating point, no Decimal context rounding). Without proration a part costs the whole
fee.

Statuses, read when the fee is due (the engine runs often, so "when due" is "now"):

* provisionally terminated (CU-16) or exported (CU-18): the part is skipped;
* suspended (CU-15) for an overdue invoice or by hand: skipped unless the plan charges while
  suspended;
* blocked (CU-02): charged unless the plan says otherwise (by default blocked customers pay);
* permanently terminated (CU-17): the customer's subscriptions end at its closing; nothing
  more is charged.

A skipped part is recorded (a ``SubscriptionCharge`` with ``skipped`` set, amount 0, no
ledger row) and is never charged later. A part whose prorated fee rounds to 0.00000 is
recorded the same way without a reason: there is nothing to post.

CC-19 (class ``suspend_on_insufficient_funds``) for a prepaid customer: a fee its available
funds (``-balance - reserved``) cannot cover is not charged; the customer is suspended with
reason ``insufficient_funds`` (if it was open), the subscription waits
(``waiting_for_funds``) and so does every fee due after it. A later run charges the waiting
fees, oldest first, as funds allow (each once: the part's start is the ledger row's
idempotency key and a ``SubscriptionCharge`` is unique per subscription and start); when all
are charged the customer's suspension for insufficient funds is lifted. The same happens at
once, in the payment's own transaction, when a payment or credit arrives
(``after_funds_arrive``, called by ``invoicing.settling.settle_after_payment``): the customer
does not stay suspended until the next run. With CC-19 off (or for a postpaid customer) the
fee is charged and the funds may go negative.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from django.db import DatabaseError, transaction
from django.db.models import Q

from billcore.accounts.access import ENGINE
from billcore.audit.services import record, snapshot
from billcore.core.periods import BillingPeriod, Period, local_day_start, period_containing
from billcore.customers import lifecycle
from billcore.customers.models import Customer, Status
from billcore.errors import BillcoreError
from billcore.ledger.models import Action
from billcore.ledger.postings import post_locked
from billcore.locks import lock_row
from billcore.subscriptions.models import (
    SkipReason,
    Subscription,
    SubscriptionCharge,
    SubscriptionStatus,
)

ONE_US = dt.timedelta(microseconds=1)
UNITS = 100_000  # money has 5 decimals
INSUFFICIENT_FUNDS = "insufficient_funds"
OPEN_STATUSES = (SubscriptionStatus.ACTIVE, SubscriptionStatus.WAITING_FOR_FUNDS)


class Report(Protocol):
    """What the step adds to (the engine's ``EngineReport``)."""

    fees_charged: int
    status_changes: int
    errors: list[tuple[int, str]]


def prorated_fee(fee: Decimal, *, covered: dt.timedelta, period: dt.timedelta) -> Decimal:
    """``fee * covered / period`` rounded half-up to 5 decimals, exactly: the fee in units
    of 0.00001 (an integer, fees have at most 5 decimals) times the covered microseconds,
    divided by the period's microseconds with an integer remainder deciding the rounding."""
    if covered >= period:
        return fee
    units = int(fee * UNITS)
    if Decimal(units) != fee * UNITS:
        raise ValueError(f"fee {fee} has more than 5 decimals")
    numerator = units * (covered // ONE_US)
    denominator = period // ONE_US
    quotient, remainder = divmod(numerator, denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return (Decimal(quotient) / UNITS).quantize(Decimal("0.00001"))


def regular_period(customer: Customer, at: dt.datetime) -> Period:
    """The customer's billing period containing ``at``, not cut at the customer's creation:
    computed with an anchor far enough back that keeps the period grid (the same day of month
    for anniversary periods, a multiple of 30 days for 30-day ones)."""
    zone = customer.time_zone
    day = customer.created_at.astimezone(ZoneInfo(zone)).date()
    if customer.billing_period == BillingPeriod.MONTHLY_ANNIVERSARY:
        earlier = day.replace(year=day.year - 28)  # the same calendar, 29 February included
    else:
        earlier = day - dt.timedelta(days=30 * 400)
    return period_containing(
        at=at,
        period=customer.billing_period,
        time_zone=zone,
        anchor=local_day_start(earlier, zone),
    )


@dataclass
class Due:
    """One part of a billing period a subscription covers, due at ``due_at``."""

    subscription: Subscription
    start: dt.datetime
    end: dt.datetime
    due_at: dt.datetime
    posted_at: dt.datetime
    amount: Decimal


def dues(customer: Customer, sub: Subscription, *, now: dt.datetime) -> list[Due]:
    """The parts of ``sub`` not charged yet whose fee is due at ``now``, in order."""
    plan = sub.plan
    cursor = max(sub.charged_to or sub.start_at, sub.start_at, customer.created_at)
    out: list[Due] = []
    while sub.end_at is None or cursor < sub.end_at:
        period = period_containing(
            at=cursor,
            period=customer.billing_period,
            time_zone=customer.time_zone,
            anchor=customer.created_at,
        )
        end = period.end if sub.end_at is None else min(period.end, sub.end_at)
        due_at = cursor if plan.in_advance else end
        if due_at > now:
            break
        amount = (
            prorated_fee(
                plan.fee, covered=end - cursor, period=regular_period(customer, cursor).duration
            )
            if plan.prorate
            else plan.fee
        )
        out.append(
            Due(
                subscription=sub,
                start=cursor,
                end=end,
                due_at=due_at,
                posted_at=cursor if plan.in_advance else end - ONE_US,
                amount=amount,
            )
        )
        cursor = end
    return out


def skip_reason(customer: Customer, sub: Subscription) -> str | None:
    """Why a fee due now is not charged (see the module docstring), or None."""
    plan = sub.plan
    if customer.status == Status.PROVISIONALLY_TERMINATED:
        return SkipReason.PROVISIONALLY_TERMINATED
    if customer.status == Status.EXPORTED:
        return SkipReason.EXPORTED
    if (
        customer.status == Status.SUSPENDED
        and customer.suspension_reason != INSUFFICIENT_FUNDS
        and not plan.charge_while_suspended
    ):
        return SkipReason.SUSPENDED
    if customer.blocked and not plan.charge_while_blocked:
        return SkipReason.BLOCKED
    return None


def _lock(customer_id: int) -> Customer | None:
    return lock_row(Customer.objects.select_related("customer_class", "currency"), customer_id)


def _local_days(customer: Customer, start: dt.datetime, end: dt.datetime) -> str:
    zone = ZoneInfo(customer.time_zone)
    first = start.astimezone(zone).date()
    last = (end - ONE_US).astimezone(zone).date()
    return f"{first:%Y-%m-%d}" if first == last else f"{first:%Y-%m-%d} .. {last:%Y-%m-%d}"


@dataclass
class CustomerResult:
    fees: int = 0
    skipped: int = 0
    status_changes: int = 0


def _save_subscription(sub: Subscription, before: dict[str, Any], now: dt.datetime) -> None:
    after = snapshot(sub)
    if after == before:
        return
    sub.updated_at = now
    sub.save(update_fields=["charged_to", "status", "end_at", "updated_at"])
    if before["status"] != sub.status or before["end_at"] != after["end_at"]:
        record(
            actor=ENGINE,
            now=now,
            operation="update",
            obj=sub,
            before=before,
            after=snapshot(sub),
        )


def charge_customer(*, customer_id: int, now: dt.datetime) -> CustomerResult:
    """Everything due for one customer up to ``now``, in one transaction."""
    result = CustomerResult()
    with transaction.atomic():
        customer = _lock(customer_id)
        if customer is None:
            return result
        subs = list(
            Subscription.objects.select_related("plan")
            .filter(customer_id=customer.pk, status__in=OPEN_STATUSES)
            .order_by("start_at", "id")
        )
        befores = {sub.pk: snapshot(sub) for sub in subs}
        if customer.status == Status.CLOSED:
            closed = customer.closed_at or now
            for sub in subs:
                if sub.end_at is None or sub.end_at > closed:
                    sub.end_at = max(closed, sub.start_at)
                sub.status = SubscriptionStatus.ENDED
                _save_subscription(sub, befores[sub.pk], now)
            return result
        waiting = customer.suspension_reason == INSUFFICIENT_FUNDS or any(
            sub.status == SubscriptionStatus.WAITING_FOR_FUNDS for sub in subs
        )
        due = sorted(
            (d for sub in subs for d in dues(customer, sub, now=now)),
            key=lambda d: (d.due_at, d.subscription.start_at, d.subscription.pk),
        )
        cls = customer.customer_class
        cc19 = cls.suspend_on_insufficient_funds and customer.is_prepaid
        balance: Decimal = customer.balance
        short: set[int] = set()  # subscriptions with a fee waiting for funds
        for d in due:
            sub = d.subscription
            if short:
                short.add(sub.pk)  # everything after a fee that waits, waits too
                continue
            reason = skip_reason(customer, sub)
            if reason is not None:
                SubscriptionCharge.objects.create(
                    subscription=sub,
                    period_start=d.start,
                    period_end=d.end,
                    amount=Decimal(0),
                    transaction=None,
                    skipped=reason,
                    created_at=now,
                )
                sub.charged_to = d.end
                result.skipped += 1
                continue
            if not d.amount:
                # A sliver of a period whose prorated fee rounds to 0: recorded, no ledger row.
                SubscriptionCharge.objects.create(
                    subscription=sub,
                    period_start=d.start,
                    period_end=d.end,
                    amount=d.amount,
                    transaction=None,
                    created_at=now,
                )
                sub.charged_to = d.end
                continue
            if cc19 and -balance - customer.reserved < d.amount:
                short.add(sub.pk)
                continue
            row = post_locked(
                customer_id=customer.pk,
                action=Action.SUBSCRIPTION,
                amount=d.amount,
                now=now if waiting else d.posted_at,
                visible_comment=f"{sub.plan.name} {_local_days(customer, d.start, d.end)}"[:500],
                idempotency_key=f"sub-{sub.pk}-{d.start.isoformat()}",
                balance_before=balance,
            )
            balance = row.balance_after
            SubscriptionCharge.objects.create(
                subscription=sub,
                period_start=d.start,
                period_end=d.end,
                amount=d.amount,
                transaction=row,
                created_at=row.created_at,
            )
            sub.charged_to = d.end
            result.fees += 1
        for sub in subs:
            if sub.pk in short:
                sub.status = SubscriptionStatus.WAITING_FOR_FUNDS
            elif (
                sub.end_at is not None
                and sub.charged_to is not None
                and sub.charged_to >= sub.end_at
            ):
                sub.status = SubscriptionStatus.ENDED
            else:
                sub.status = SubscriptionStatus.ACTIVE
            _save_subscription(sub, befores[sub.pk], now)
        if short and customer.status == Status.OPEN:
            lifecycle.suspend(
                actor=ENGINE, now=now, customer_id=customer.pk, reason=INSUFFICIENT_FUNDS
            )
            result.status_changes += 1
        elif (
            not short
            and customer.status == Status.SUSPENDED
            and customer.suspension_reason == INSUFFICIENT_FUNDS
        ):
            lifecycle.unsuspend(actor=ENGINE, now=now, customer_id=customer.pk, paid=True)
            result.status_changes += 1
    return result


def waits_for_funds(customer_id: int) -> bool:
    """Whether the customer is suspended for insufficient funds or has a subscription fee
    waiting for funds (CC-19)."""
    return (
        Customer.objects.filter(
            pk=customer_id, status=Status.SUSPENDED, suspension_reason=INSUFFICIENT_FUNDS
        ).exists()
        or Subscription.objects.filter(
            customer_id=customer_id, status=SubscriptionStatus.WAITING_FOR_FUNDS
        ).exists()
    )


def after_funds_arrive(*, customer_id: int, now: dt.datetime) -> CustomerResult | None:
    """CC-19 when funds arrive: called inside the transaction of a payment or credit (the
    customer is locked). For a customer waiting for funds, the fees that waited (and any other
    fee due up to ``now``) are charged, oldest first, as the funds allow, and the suspension
    for insufficient funds is lifted once none waits: service resumes with the payment, not
    at the next engine run. None when the customer waits for nothing."""
    if not waits_for_funds(customer_id):
        return None
    return charge_customer(customer_id=customer_id, now=now)


def customers_due(*, now: dt.datetime) -> list[int]:
    """Customers with a subscription that may have something due, and customers suspended
    for insufficient funds (whose suspension may lift)."""
    with_subs = Subscription.objects.filter(
        status__in=OPEN_STATUSES, start_at__lte=now
    ).values_list("customer_id", flat=True)
    waiting = Customer.objects.filter(
        Q(status=Status.SUSPENDED, suspension_reason=INSUFFICIENT_FUNDS)
    ).values_list("pk", flat=True)
    return sorted(set(with_subs) | set(waiting))


def charge_step(*, now: dt.datetime, report: Report) -> None:
    """The engine's step: ``charge_customer`` for every customer that may owe a fee; a
    customer whose transaction fails is reported in ``report.errors`` (rolled back whole)
    and retried by the next run."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    for cid in customers_due(now=now):
        try:
            result = charge_customer(customer_id=cid, now=now)
        except (BillcoreError, ValueError, DatabaseError) as exc:
            # The customer's transaction rolled back whole; reported, retried next run. A
            # database error (a constraint, a value too long) stops this customer only.
            report.errors.append((cid, str(exc)))
            continue
        report.fees_charged += result.fees
        report.status_changes += result.status_changes
