"""DID fees (issue 14; rating-and-tabs.md §3.1; CU-02, CU-16, CU-17).

* The activation fee is charged once, in the assignment's own transaction (``services``),
  with the assignment as its idempotency key.
* The recurring fee is charged by the engine (its ``subscriptions`` step calls
  ``charge_step``) with the subscription engine's machinery: along the customer's billing
  periods (``core.periods``, anchored at its creation), each cut to the assignment
  ``[assigned_at, released_at)``, a *part* per period, charged **in arrears** at the part's
  end and posted 1 µs before it (so the close step bills it with the period it pays for);
  the price of a whole period prorated by ``subscriptions.engine.prorated_fee`` over the
  customer's regular period.
* The time charged within a part is the time the customer was not provisionally terminated,
  exported or permanently terminated, read from its status history (``core.dids
  .charged_time``): a blocked or suspended customer keeps paying (CU-02); a provisionally
  terminated one is not charged while the numbers stay allocated (CU-16); a reactivation
  resumes the charge from its instant, the terminated interval stays free.
* At permanent termination (CU-17) the customer's numbers return to the inventory at its
  closing instant, after the part up to it is charged (``close_customer``), called by the
  termination (``invoicing.closing``) before the midterm invoice, and by the engine step for
  any closed customer still holding numbers.

Idempotent for the same ``now``: a part is charged once (``DidCharge`` unique per assignment,
kind and start; the ledger row keyed ``did-<assignment>-<start>``); one transaction per
customer with its row locked.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from django.db import DatabaseError, transaction
from django.db.models import Q

from billcore.accounts.access import ENGINE, Actor
from billcore.audit.services import record, snapshot
from billcore.core.dids import charged_time
from billcore.core.periods import period_containing
from billcore.customers.models import Customer, Status, StatusChange
from billcore.dids.models import ChargeKind, Did, DidAssignment, DidCharge, DidStatus
from billcore.errors import BillcoreError
from billcore.ledger.models import Action
from billcore.ledger.postings import post_locked
from billcore.locks import lock_row
from billcore.subscriptions.engine import prorated_fee, regular_period

ONE_US = dt.timedelta(microseconds=1)


class Report(Protocol):
    fees_charged: int
    errors: list[tuple[int, str]]


def history(customer_id: int) -> list[tuple[dt.datetime, str, str]]:
    return [
        (at, src, dst)
        for at, src, dst in StatusChange.objects.filter(customer_id=customer_id)
        .order_by("at", "id")
        .values_list("at", "from_status", "to_status")
    ]


def _days(customer: Customer, start: dt.datetime, end: dt.datetime) -> str:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(customer.time_zone)
    first = start.astimezone(zone).date()
    last = (end - ONE_US).astimezone(zone).date()
    return f"{first:%Y-%m-%d}" if first == last else f"{first:%Y-%m-%d} .. {last:%Y-%m-%d}"


@dataclass
class Part:
    start: dt.datetime
    end: dt.datetime
    covered: dt.timedelta
    amount: Decimal


def due_parts(
    customer: Customer,
    assignment: DidAssignment,
    *,
    now: dt.datetime,
    changes: list[tuple[dt.datetime, str, str]],
) -> list[Part]:
    """The parts of the assignment not charged yet whose end has come by ``now``."""
    cursor = max(assignment.charged_to or assignment.assigned_at, assignment.assigned_at)
    stop = assignment.released_at
    out: list[Part] = []
    while stop is None or cursor < stop:
        period = period_containing(
            at=cursor,
            period=customer.billing_period,
            time_zone=customer.time_zone,
            anchor=customer.created_at,
        )
        end = period.end if stop is None else min(period.end, stop)
        if end > now:
            break
        covered = charged_time(
            start=cursor, end=end, changes=changes, current_status=customer.status
        )
        full = regular_period(customer, cursor).duration
        amount = (
            prorated_fee(assignment.recurring_price, covered=covered, period=full)
            if covered
            else Decimal("0.00000")
        )
        out.append(Part(start=cursor, end=end, covered=covered, amount=amount))
        cursor = end
    return out


def charge_assignment(
    customer: Customer,
    assignment: DidAssignment,
    *,
    now: dt.datetime,
    changes: list[tuple[dt.datetime, str, str]],
) -> int:
    """Charge the parts due (the customer's row is locked by the caller); the number of fees
    posted."""
    posted = 0
    number = assignment.did.number
    for part in due_parts(customer, assignment, now=now, changes=changes):
        row = None
        if part.amount:
            row = post_locked(
                customer_id=customer.pk,
                action=Action.SUBSCRIPTION,
                amount=part.amount,
                now=part.end - ONE_US,
                visible_comment=f"DID {number} {_days(customer, part.start, part.end)}",
                idempotency_key=f"did-{assignment.pk}-{part.start.isoformat()}",
            )
            posted += 1
        DidCharge.objects.create(
            assignment=assignment,
            kind=ChargeKind.RECURRING,
            period_start=part.start,
            period_end=part.end,
            covered_seconds=int(part.covered.total_seconds()),
            amount=part.amount,
            transaction=row,
            created_at=now,
        )
        assignment.charged_to = part.end
    if assignment.released_at is not None and (
        assignment.charged_to is not None and assignment.charged_to >= assignment.released_at
    ):
        assignment.ended = True
    assignment.next_due_at = None if assignment.ended else next_due(customer, assignment)
    assignment.save(update_fields=["charged_to", "ended", "next_due_at"])
    return posted


def next_due(customer: Customer, assignment: DidAssignment) -> dt.datetime:
    """The end of the next part to charge (when the engine has something to do)."""
    cursor = max(assignment.charged_to or assignment.assigned_at, assignment.assigned_at)
    end = period_containing(
        at=cursor,
        period=customer.billing_period,
        time_zone=customer.time_zone,
        anchor=customer.created_at,
    ).end
    return end if assignment.released_at is None else min(end, assignment.released_at)


def release_locked(
    *, actor: Actor, now: dt.datetime, customer: Customer, did: Did, at: dt.datetime
) -> DidAssignment | None:
    """Return ``did`` to the inventory at ``at`` (the customer is locked) and charge its
    assignment up to then."""
    assignment = (
        DidAssignment.objects.select_related("did")
        .filter(did=did, customer=customer, released_at__isnull=True)
        .order_by("-assigned_at", "-id")
        .first()
    )
    before = snapshot(did)
    did.status = DidStatus.NOT_IN_USE
    did.customer = None
    did.account = None
    did.released_at = at
    did.updated_at = now
    did.save(update_fields=["status", "customer", "account", "released_at", "updated_at"])
    record(actor=actor, now=now, operation="update", obj=did, before=before, after=snapshot(did))
    if assignment is None:
        return None
    assignment.released_at = max(at, assignment.assigned_at)
    assignment.save(update_fields=["released_at"])
    charge_assignment(customer, assignment, now=now, changes=history(customer.pk))
    return assignment


def close_customer(*, actor: Actor, now: dt.datetime, customer: Customer) -> int:
    """CU-17: a permanently terminated customer's numbers return to the inventory at its
    closing; the part up to it is charged for the time it was not provisionally terminated.
    The customer is locked by the caller. Returns how many numbers were released."""
    if customer.status != Status.CLOSED:
        return 0
    at = customer.closed_at or now
    dids = list(Did.objects.filter(customer=customer).order_by("pk"))
    for did in dids:
        release_locked(actor=actor, now=now, customer=customer, did=did, at=at)
    return len(dids)


@dataclass
class CustomerResult:
    fees: int = 0
    released: int = 0


def charge_customer(*, customer_id: int, now: dt.datetime) -> CustomerResult:
    """Every DID fee due for one customer up to ``now``, in one transaction."""
    result = CustomerResult()
    with transaction.atomic():
        customer = lock_row(Customer.objects.select_related("customer_class"), customer_id)
        if customer is None:
            return result
        if customer.status == Status.CLOSED:
            result.released = close_customer(actor=ENGINE, now=now, customer=customer)
        changes = history(customer.pk)
        for assignment in (
            DidAssignment.objects.select_related("did")
            .filter(customer_id=customer.pk, ended=False)
            .order_by("assigned_at", "id")
        ):
            result.fees += charge_assignment(customer, assignment, now=now, changes=changes)
    return result


def customers_due(*, now: dt.datetime) -> list[int]:
    """Customers with a part due by ``now``, and permanently terminated customers still
    holding an assignment (their numbers return to the inventory)."""
    open_ = DidAssignment.objects.filter(ended=False)
    due = open_.filter(Q(next_due_at__lte=now) | Q(next_due_at__isnull=True))
    closed = open_.filter(customer__status=Status.CLOSED)
    return sorted(
        set(due.values_list("customer_id", flat=True))
        | set(closed.values_list("customer_id", flat=True))
    )


def charge_step(*, now: dt.datetime, report: Report) -> None:
    """The engine's part: ``charge_customer`` for every customer holding an assignment not
    charged to its end; a failing customer is rolled back whole, reported and retried."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    for cid in customers_due(now=now):
        try:
            result = charge_customer(customer_id=cid, now=now)
        except (BillcoreError, ValueError, DatabaseError) as exc:
            report.errors.append((cid, str(exc)))
            continue
        report.fees_charged += result.fees
