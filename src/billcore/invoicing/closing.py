"""Period closing (CC-12 … CC-18, CU-17): every period the engine, an operator or a
termination closes.

Closing a period, for one customer locked in one transaction:

1. the period's ledger rows are stamped with the ``ClosedPeriod`` (usage and charges posted
   before the period's end; while a period waits for approval, adjustments made until it
   closes land in it too, CC-18);
2. the invoices the class asks for are issued (``issuing.issue_invoice``) from the stamped rows
   that no invoice has billed yet: a regular one, and a separate one for subscription fees when
   CC-14 is on;
   (the measured-service charges of the period are posted into it first, each its own row
   and invoice line, ``measured.charging``);
3. a balance reset (CC-12) brings the balance to zero when the class says so;
4. the invoices are settled (``settling``) and the e-mails owed (invoice, statistics) are
   queued in the same transaction.

``fastclose`` is the engine's plain-SQL path for the common case; this module stays the
reference.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q, Sum

from billcore.accounts.access import Actor, user_row
from billcore.audit.services import record, snapshot
from billcore.classes.models import CustomerClass, PeriodCloseMode
from billcore.customers import lifecycle
from billcore.customers.models import Customer, Status
from billcore.customers.selectors import get_customer
from billcore.customers.services import open_period_end
from billcore.dids import charging as dids
from billcore.errors import Conflict, NotFound
from billcore.installation.models import InstallationSettings
from billcore.installation.services import get_settings
from billcore.invoicing.allocation import (
    PAYMENTS,
    billed_externally,
    lock_customer,
    settle_into,
)
from billcore.invoicing.issuing import issue_invoice, queue_emails
from billcore.invoicing.models import ClosedPeriod, Invoice, InvoiceKind, PeriodStatus
from billcore.ledger.models import Action, Transaction
from billcore.ledger.postings import post_locked
from billcore.measured.charging import (
    charging_definitions,
    custom_pattern,
    due_charges,
    record_charges,
)

ZERO = Decimal(0)

# A period's "payments" on its invoices: payments and refunds, and the taxes they contained
# (a prepaid customer taxed at payment time: the tax rows no invoice carries).
_PAID_IN = Q(action__in=PAYMENTS) | Q(action=Action.TAX, invoice__isnull=True)
# Adjustments an operator makes: while a period awaits approval they land in it (CC-18).
ADJUSTMENTS = (
    Action.MANUAL_CHARGE,
    Action.MANUAL_CREDIT,
    Action.PROMOTIONAL_CREDIT,
    *PAYMENTS[1:],
)


def _close(
    *,
    customer: Customer,
    period: ClosedPeriod,
    now: dt.datetime,
    inst: InstallationSettings,
    actor: Actor | None = None,
    adjustments_until: dt.datetime | None = None,
    kind: str = InvoiceKind.REGULAR,
) -> list[Invoice]:
    """Close ``period`` of the locked ``customer``: stamp, invoice, reset, queue e-mails."""
    cls = customer.customer_class
    mine = Transaction.objects.filter(customer_id=customer.pk)
    # A midterm period ends now: everything posted up to now is in it.
    window = (
        Q(created_at__lte=period.end)
        if kind == InvoiceKind.MIDTERM
        else Q(created_at__lt=period.end)
    )
    if adjustments_until is not None:
        window |= Q(action__in=ADJUSTMENTS, created_at__lte=adjustments_until)
    mine.filter(period__isnull=True).filter(window).update(period=period)
    _charge_measured(customer=customer, cls=cls, period=period, now=now)
    in_period = mine.filter(period=period)
    # Balance-forward figures, so that previous balance + payments + total = balance after on
    # every invoice: the previous balance is what was owed before the period plus what other
    # invoices billed within it (an out-of-turn invoice: its charges and its taxes and
    # rounding); the payments are the period's payments and refunds net of the taxes they
    # contained (prepaid customers taxed at payment time).
    sums = mine.filter(Q(period=period) | Q(period__isnull=True)).aggregate(
        in_period=Sum("amount", filter=Q(period=period)),
        later=Sum("amount", filter=Q(period__isnull=True)),
        payments=Sum("amount", filter=Q(period=period) & _PAID_IN),
        other=Sum("amount", filter=Q(period=period, invoice__isnull=False) & ~_PAID_IN),
    )
    previous_balance = customer.balance - (sums["in_period"] or ZERO) - (sums["later"] or ZERO)
    previous_balance += sums["other"] or ZERO
    payments = sums["payments"] or ZERO
    invoices: list[Invoice] = []
    external = billed_externally(customer, cls, inst)
    if cls.generate_regular_invoices and not external:
        unbilled = in_period.filter(invoice__isnull=True)
        if cls.separate_recurring_fee_invoice:
            recurring = issue_invoice(
                customer=customer,
                kind=InvoiceKind.RECURRING,
                rows=unbilled.filter(action=Action.SUBSCRIPTION),
                now=now,
                period=period,
                period_start=period.start,
                period_end=period.end,
                inst=inst,
                actor=actor,
                previous_balance=previous_balance,
                payments=payments,
            )
            if recurring is not None:
                invoices.append(recurring)
                previous_balance += recurring.total  # billed within the period, before
            unbilled = in_period.filter(invoice__isnull=True).exclude(action=Action.SUBSCRIPTION)
        regular = issue_invoice(
            customer=customer,
            kind=kind,
            rows=unbilled,
            now=now,
            period=period,
            period_start=period.start,
            period_end=period.end,
            inst=inst,
            actor=actor,
            previous_balance=previous_balance,
            payments=payments,
        )
        if regular is not None:
            invoices.append(regular)
    if inst.allow_external_billing and cls.reset_balance_every_period:
        balance = customer.balance
        if balance:
            row = post_locked(
                customer_id=customer.pk,
                action=Action.MANUAL_CREDIT if balance > 0 else Action.MANUAL_CHARGE,
                amount=-balance,
                now=now,
                visible_comment="Balance reset at the end of the billing period",
                period_id=period.pk,
                invoice_id=invoices[-1].pk if invoices else None,
                hidden=cls.hide_balance_reset_xdr,
                balance_reset=True,
                balance_before=balance,
            )
            customer.balance = row.balance_after
    period.status = PeriodStatus.CLOSED
    period.closed_at = now
    period.approved_by = user_row(actor)
    period.balance_after = customer.balance
    period.statement_wanted = bool(
        inst.show_financial_documents_page and cls.generate_financial_documentation
    )
    period.save()
    if invoices:
        settle_into(invoices, customer_id=customer.pk, now=now)
    queue_emails(customer=customer, cls=cls, period=period, invoices=invoices, now=now)
    return invoices


def _charge_measured(
    *, customer: Customer, cls: CustomerClass, period: ClosedPeriod, now: dt.datetime
) -> None:
    """The period's measured-service charges (``measured.charging``), posted into it, each
    its own ledger row (billed by the period's invoice as its own line)."""
    charges = due_charges(
        customer_id=customer.pk,
        definitions=charging_definitions(customer_id=customer.pk, class_id=cls.pk),
        start=period.start,
        end=period.end,
        decimals=customer.currency.decimals,
        custom_pattern=custom_pattern(cls),
    )
    ids = []
    for charge in charges:
        row = post_locked(
            customer_id=customer.pk,
            action=Action.MEASURED_SERVICE,
            amount=charge.amount,
            now=now,
            visible_comment=charge.comment,
            period_id=period.pk,
            balance_before=customer.balance,
        )
        customer.balance = row.balance_after
        ids.append(row.pk)
    record_charges(
        customer_id=customer.pk,
        charges=charges,
        transaction_ids=ids,
        start=period.start,
        end=period.end,
        now=now,
    )


@dataclass
class CustomerRun:
    customer_id: int
    closed: int = 0
    awaiting: int = 0
    invoices: list[int] = field(default_factory=list)
    skipped: bool = False  # another engine process holds the customer


def close_due_periods(
    *,
    customer_id: int,
    now: dt.datetime,
    skip_locked: bool = False,
    inst: InstallationSettings | None = None,
    deadlines: bool = True,
) -> CustomerRun:
    """Everything due for one customer up to ``now``, in one transaction: periods waiting for
    approval whose deadline passed are closed; ended open periods are closed (or put to
    approval, CC-18). Idempotent: a second call with the same ``now`` finds nothing due.
    ``deadlines=False``: the caller knows no approval deadline of this customer has passed
    (the engine does), which saves a query."""
    result = CustomerRun(customer_id=customer_id)
    with transaction.atomic():
        customer = lock_customer(customer_id, skip_locked=skip_locked)
        if customer is None:
            result.skipped = True
            return result
        inst = inst or get_settings()
        cls = customer.customer_class
        if customer.billed_to is None or customer.next_billed_to is None:
            customer.billed_to = customer.billed_to or customer.created_at
            customer.next_billed_to = open_period_end(customer, start=customer.billed_to)
            Customer.objects.filter(pk=customer.pk).update(
                billed_to=customer.billed_to, next_billed_to=customer.next_billed_to
            )
        external = billed_externally(customer, cls, inst)
        approval = cls.period_close == PeriodCloseMode.APPROVAL and not external
        while customer.next_billed_to <= now and customer.status != Status.CLOSED:
            start, end = customer.billed_to, customer.next_billed_to
            period = ClosedPeriod.objects.create(
                customer=customer,
                start=start,
                end=end,
                status=PeriodStatus.AWAITING_APPROVAL,
                approve_by=(
                    end + dt.timedelta(days=cls.approval_max_days)
                    if approval and cls.approval_max_days is not None
                    else None
                ),
                created_at=now,
            )
            if approval:
                result.awaiting += 1
            customer.billed_to = end
            customer.next_billed_to = open_period_end(customer, start=end)
            Customer.objects.filter(pk=customer.pk).update(
                billed_to=customer.billed_to, next_billed_to=customer.next_billed_to
            )
            if not approval:
                invoices = _close(customer=customer, period=period, now=now, inst=inst)
                result.closed += 1
                result.invoices.extend(inv.pk for inv in invoices)
        # Approval deadlines that passed (oldest first; they close in order).
        waiting = ClosedPeriod.objects.filter(
            customer=customer, status=PeriodStatus.AWAITING_APPROVAL, approve_by__lte=now
        )
        for period in waiting.order_by("start") if (deadlines or approval) else ():
            if _older_waiting(period):
                break
            invoices = _close(
                customer=customer,
                period=period,
                now=now,
                inst=inst,
                adjustments_until=period.approve_by,
            )
            result.closed += 1
            result.awaiting -= 1 if result.awaiting else 0
            result.invoices.extend(inv.pk for inv in invoices)
    return result


def close_open_period_now(
    *, customer: Customer, now: dt.datetime, actor: Actor | None = None
) -> None:
    """CU-17 midterm invoice: at a permanent termination, periods waiting for approval are
    closed (in order) and the open period is closed early, at ``now``, and invoiced. For the
    locked ``customer`` (with its class and currency), in the caller's transaction; its
    ``billed_to``/``next_billed_to`` are written here, its balance moves through the ledger
    and is kept up to date in memory."""
    inst = get_settings()
    for period in ClosedPeriod.objects.filter(
        customer=customer, status=PeriodStatus.AWAITING_APPROVAL
    ).order_by("start"):
        _close(
            customer=customer,
            period=period,
            now=now,
            inst=inst,
            actor=actor,
            adjustments_until=now,
        )
    start = customer.billed_to or customer.created_at
    if start < now:
        period = ClosedPeriod.objects.create(
            customer=customer,
            start=start,
            end=now,
            status=PeriodStatus.AWAITING_APPROVAL,
            created_at=now,
        )
        _close(
            customer=customer,
            period=period,
            now=now,
            inst=inst,
            actor=actor,
            kind=InvoiceKind.MIDTERM,
        )
    customer.billed_to = now
    customer.next_billed_to = None
    Customer.objects.filter(pk=customer.pk).update(billed_to=now, next_billed_to=None)


def _older_waiting(period: ClosedPeriod) -> bool:
    return ClosedPeriod.objects.filter(
        customer_id=period.customer_id,
        status=PeriodStatus.AWAITING_APPROVAL,
        start__lt=period.start,
    ).exists()


# --------------------------------------------------------------------------------------------
# Operator actions


def _visible_period(actor: Actor, period_id: Any) -> ClosedPeriod:
    try:
        pid = int(period_id)
    except (TypeError, ValueError):
        raise NotFound(f"period {period_id!r} not found") from None
    period = ClosedPeriod.objects.filter(pk=pid).first()
    if period is None:
        raise NotFound(f"period {pid} not found")
    get_customer(actor=actor, customer_id=period.customer_id)  # NotFound when not visible
    return period


@transaction.atomic
def approve_period(*, actor: Actor, now: dt.datetime, period_id: Any) -> list[Invoice]:
    """CC-18: close a period waiting for approval now (its adjustments until now included)."""
    period = _visible_period(actor, period_id)
    customer = lock_customer(period.customer_id)
    assert customer is not None
    period = ClosedPeriod.objects.get(pk=period.pk)
    if period.status != PeriodStatus.AWAITING_APPROVAL:
        raise Conflict(f"period {period.pk} is already closed", field="id", code="already_closed")
    older = (
        ClosedPeriod.objects.filter(
            customer_id=period.customer_id,
            status=PeriodStatus.AWAITING_APPROVAL,
            start__lt=period.start,
        )
        .order_by("start")
        .first()
    )
    if older is not None:
        raise Conflict(
            f"approve the customer's earlier period {older.pk} "
            f"({older.start:%Y-%m-%d} .. {older.end:%Y-%m-%d}) first",
            field="id",
            code="earlier_period_waiting",
        )
    before = snapshot(period)
    invoices = _close(
        customer=customer,
        period=period,
        now=now,
        inst=get_settings(),
        actor=actor,
        adjustments_until=now,
    )
    record(
        actor=actor, now=now, operation="update", obj=period, before=before, after=snapshot(period)
    )
    return invoices


# --------------------------------------------------------------------------------------------
# Termination with a midterm invoice (CU-17)


def _midterm(customer: Customer, *, now: dt.datetime, actor: Actor) -> Customer:
    """The midterm invoice of a customer ``lifecycle`` has just closed, when it asked for one:
    the customer re-read under its lock (with its class and currency), its open period closed
    at ``now`` and invoiced."""
    if customer.status != Status.CLOSED or not customer.midterm_invoice:
        return customer
    locked = lock_customer(customer.pk)
    assert locked is not None
    close_open_period_now(customer=locked, now=now, actor=actor)
    return locked


@transaction.atomic
def terminate(
    *,
    actor: Actor,
    now: dt.datetime,
    customer_id: int,
    permanent: bool = False,
    terminate_on: dt.datetime | None = None,
    midterm_invoice: bool = False,
) -> Customer:
    """CU-16 / CU-17 (``customers.lifecycle.terminate``), and for a permanent termination now
    with ``midterm_invoice`` the open period invoiced at once, in the same transaction."""
    customer = lifecycle.terminate(
        actor=actor,
        now=now,
        customer_id=customer_id,
        permanent=permanent,
        terminate_on=terminate_on,
        midterm_invoice=midterm_invoice,
    )
    dids.close_customer(actor=actor, now=now, customer=customer)  # CU-17, issue 14
    return _midterm(customer, now=now, actor=actor)


@transaction.atomic
def terminate_due(*, actor: Actor, now: dt.datetime, customer_id: int) -> Customer | None:
    """The engine: a permanent termination whose date has come
    (``customers.lifecycle.terminate_due``), with the midterm invoice it asked for. None when
    nothing is due."""
    customer = lifecycle.terminate_due(actor=actor, now=now, customer_id=customer_id)
    if customer is None:
        return None
    dids.close_customer(actor=actor, now=now, customer=customer)  # CU-17, issue 14
    return _midterm(customer, now=now, actor=actor)
