"""Collections: what happens to an unpaid invoice (issue 5 §2; CU-15, CU-16, CC-20;
portabilling.md "Collections").

The class's Regular Invoices tab (and Out-of-Turn Invoices tab for out-of-turn invoices) sets
the steps, each off when its "after days" is empty:

* a reminder N days before the due date ("payment due soon");
* "invoice overdue" at the due date;
* a late-payment fee N days after the due date, announced M days before;
* a suspension N days after the due date, announced M days before;
* a (provisional) termination N days after the due date, announced M days before.

Rules that make the steps exact:

1. The subject is the customer's **oldest unpaid invoice**. Steps are recorded per invoice
   (``CollectionStep``, unique per invoice and kind), so each happens at most once per
   invoice; when a payment settles the oldest invoice, the next one starts its own sequence
   from its own due date, so a partial payment that moves the oldest unpaid date never makes a
   step skip (or repeat).
2. A step never happens before its scheduled time, and an announced step never happens before
   its notice had its M days: ``at = max(due + N, notice sent + M)``. When the engine comes
   late (the clock jumped past both), the notice goes out first and the step waits M days.
3. "Lift the suspension until DATE" holds the suspension (not the notices or fees) until that
   date; the date is removed once it has passed or the overdue invoices are paid.
4. A suspension for an overdue invoice lifts by itself, in the same transaction as the
   payment, once no invoice is overdue any more; the reactivation fee is charged then.
5. Permanent terminations whose date has come (CC-20, or a scheduled one) are made here too.

Everything runs per customer in one transaction, at every engine run (clock move), at every
payment (``after_payment``) and after every invoice (the engine's close step runs first).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import DatabaseError, transaction
from django.db.models import Q

from billcore.accounts.access import ENGINE
from billcore.classes.models import CustomerClass
from billcore.customers import lifecycle
from billcore.customers.models import Customer, Status
from billcore.errors import BillcoreError
from billcore.invoicing.closing import terminate_due
from billcore.invoicing.models import (
    CollectionStep,
    CollectionStepKind,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
)
from billcore.ledger.models import Action, Transaction
from billcore.ledger.postings import post_locked
from billcore.locks import lock_row
from billcore.notifications.services import notify

UNPAID = (InvoiceStatus.ISSUED, InvoiceStatus.PARTLY_PAID, InvoiceStatus.OVERDUE)
DAY = dt.timedelta(days=1)
K = CollectionStepKind


@dataclass(frozen=True)
class Policy:
    reminder_days: int | None
    late_fee_days: int | None
    late_fee_amount: Decimal | None
    late_fee_notice: int
    suspend_days: int | None
    suspend_notice: int
    terminate_days: int | None
    terminate_notice: int


def policy_for(cls: CustomerClass, kind: str) -> Policy:
    """The Regular Invoices tab's steps, or the Out-of-Turn Invoices tab's."""
    p = "oot_" if kind == InvoiceKind.OUT_OF_TURN else ""

    def get(name: str) -> Any:
        return getattr(cls, p + name)

    return Policy(
        reminder_days=get("reminder_days_before_due"),
        late_fee_days=get("late_fee_after_days"),
        late_fee_amount=get("late_fee_amount"),
        late_fee_notice=get("late_fee_notice_days"),
        suspend_days=get("suspend_after_days"),
        suspend_notice=get("suspend_notice_days"),
        terminate_days=get("terminate_after_days"),
        terminate_notice=get("terminate_notice_days"),
    )


def _notify(customer: Customer, kind: str, now: dt.datetime, key: str, **context: Any) -> bool:
    return (
        notify(customer=customer, kind=kind, now=now, context=context, dedupe_key=key) is not None
    )


@dataclass
class Outcome:
    steps: int = 0
    status_changes: int = 0
    notifications: int = 0


class _Run:
    """The collection steps of one locked customer at ``now``."""

    def __init__(self, customer: Customer, now: dt.datetime) -> None:
        self.customer = customer
        self.now = now
        self.outcome = Outcome()

    def record(self, invoice: Invoice, kind: str, scheduled: dt.datetime, detail: str = "") -> None:
        CollectionStep.objects.create(
            invoice=invoice,
            customer=self.customer,
            kind=kind,
            scheduled_at=scheduled,
            done_at=self.now,
            detail=detail[:300],
        )
        self.outcome.steps += 1

    def notify(self, kind: str, key: str, **context: Any) -> None:
        if _notify(self.customer, kind, self.now, key, **context):
            self.outcome.notifications += 1

    def reload(self) -> None:
        self.customer = Customer.objects.select_related("customer_class", "currency").get(
            pk=self.customer.pk
        )

    # -- the steps ------------------------------------------------------------------------

    def evaluate(self) -> None:
        c = self.customer
        if c.status in (Status.CLOSED, Status.EXPORTED):
            return
        self.expire_lift_date()
        invoice = (
            Invoice.objects.filter(customer_id=c.pk, status__in=UNPAID)
            .order_by("issued_at", "id")
            .first()
        )
        if invoice is None:
            return
        policy = policy_for(c.customer_class, invoice.kind)
        done = {s.kind: s for s in CollectionStep.objects.filter(invoice=invoice)}
        due = invoice.due_at
        ctx = {"invoice": invoice, "amount_due": invoice.amount_due, "due_at": due}
        # Reminder: only while the due date is ahead (a "due soon" after it would mislead).
        if policy.reminder_days is not None and K.REMINDER not in done:
            at = due - policy.reminder_days * DAY
            if at <= self.now < due:
                self.record(invoice, K.REMINDER, at)
                self.notify("payment_due_soon", f"payment_due_soon:{invoice.pk}", **ctx)
        if self.now >= due:
            self.notify("invoice_overdue", f"invoice_overdue:{invoice.pk}", **ctx)
        if policy.late_fee_days is not None and policy.late_fee_amount:
            self.announced(
                invoice,
                done,
                notice=K.LATE_FEE_NOTICE,
                step=K.LATE_FEE,
                at=due + policy.late_fee_days * DAY,
                notice_days=policy.late_fee_notice,
                notification="late_fee_warning",
                ctx={**ctx, "fee": policy.late_fee_amount},
                action=lambda: self.late_fee(invoice, policy.late_fee_amount),
            )
        if policy.suspend_days is not None:
            self.announced(
                invoice,
                done,
                notice=K.SUSPENSION_NOTICE,
                step=K.SUSPENSION,
                at=due + policy.suspend_days * DAY,
                notice_days=policy.suspend_notice,
                notification="suspension_warning",
                ctx=ctx,
                action=lambda: self.suspend(invoice),
            )
        if (
            K.SUSPENSION in done
            and c.status == Status.OPEN
            and c.suspension_delay_until is None
            and done[K.SUSPENSION].detail
            in ("suspended", "already suspended for an overdue invoice")
        ):
            # Suspended, then lifted until a date that has passed, and still unpaid: the
            # suspension resumes (CU-15); it is the same step, not a new one.
            self.suspend(invoice, again=True)
        if policy.terminate_days is not None:
            self.announced(
                invoice,
                done,
                notice=K.TERMINATION_NOTICE,
                step=K.TERMINATION,
                at=due + policy.terminate_days * DAY,
                notice_days=policy.terminate_notice,
                notification="termination_warning",
                ctx=ctx,
                action=lambda: self.terminate(invoice),
            )

    def announced(
        self,
        invoice: Invoice,
        done: dict[str, CollectionStep],
        *,
        notice: str,
        step: str,
        at: dt.datetime,
        notice_days: int,
        notification: str,
        ctx: dict[str, Any],
        action: Any,
    ) -> None:
        """A step with its advance notice: the notice at ``at - M days`` (or now, if late),
        the step at ``max(at, notice sent + M days)``; each once per invoice."""
        if step in done:
            return
        if notice_days:
            sent = done.get(notice)
            if sent is None:
                notice_at = at - notice_days * DAY
                if self.now < notice_at:
                    return
                self.record(invoice, notice, notice_at)
                self.notify(
                    notification,
                    f"{notification}:{invoice.pk}",
                    **ctx,
                    step_at=max(at, self.now + notice_days * DAY),
                )
                return  # the step waits for its notice period, even when the clock is late
            at = max(at, sent.done_at + notice_days * DAY)
        if self.now < at:
            return
        detail = action()
        if detail is not None:
            self.record(invoice, step, at, detail)

    def late_fee(self, invoice: Invoice, amount: Decimal) -> str:
        c = self.customer
        key = f"late-fee-{invoice.pk}"
        if not Transaction.objects.filter(customer_id=c.pk, idempotency_key=key).exists():
            row = post_locked(
                customer_id=c.pk,
                action=Action.MANUAL_CHARGE,
                amount=amount,
                now=self.now,
                visible_comment=f"Late-payment fee for invoice {invoice.number}",
                idempotency_key=key,
            )
            c.balance = row.balance_after
        return f"fee {amount}"

    def suspend(self, invoice: Invoice, *, again: bool = False) -> str | None:
        """None (not done yet) while a lift-until date holds it (CU-15)."""
        c = self.customer
        if c.suspension_delay_until is not None and self.now < c.suspension_delay_until:
            return None
        if c.status == Status.SUSPENDED and c.suspension_reason == "overdue":
            return "already suspended for an overdue invoice"
        if c.status not in (Status.OPEN, Status.SUSPENDED):
            return f"not suspended: the customer is {Status(c.status).label.lower()}"
        # An open customer is suspended; one suspended by hand or for missing funds is now
        # suspended for the overdue invoice, which only a payment lifts (CU-15).
        lifecycle.suspend(
            actor=ENGINE,
            now=self.now,
            customer_id=c.pk,
            reason="overdue",
            note=f"invoice {invoice.number} overdue"
            + (" (the lift-until date has passed)" if again else ""),
        )
        self.reload()
        self.outcome.status_changes += 1
        key = f"suspended:{invoice.pk}" + (f":{self.now.isoformat()}" if again else "")
        self.notify("suspended", key, invoice=invoice)
        return "suspended"

    def terminate(self, invoice: Invoice) -> str:
        c = self.customer
        if c.status not in (Status.OPEN, Status.SUSPENDED):
            return f"not terminated: the customer is {Status(c.status).label.lower()}"
        lifecycle.terminate(actor=ENGINE, now=self.now, customer_id=c.pk)
        self.reload()
        self.outcome.status_changes += 1
        self.notify(
            "provisionally_terminated",
            f"provisionally_terminated:{invoice.pk}",
            invoice=invoice,
            terminate_on=self.customer.terminate_on,
        )
        return "provisionally terminated"

    # -- lifting ----------------------------------------------------------------------------

    def expire_lift_date(self) -> None:
        c = self.customer
        if c.suspension_delay_until is not None and c.suspension_delay_until <= self.now:
            Customer.objects.filter(pk=c.pk).update(suspension_delay_until=None)
            c.suspension_delay_until = None

    def lift_if_paid(self) -> None:
        """CU-15: the overdue suspension lifts once nothing is overdue (the reactivation fee
        is charged when service comes back); the lift-until date is removed once everything
        is paid (or, in ``expire_lift_date``, once it has passed)."""
        c = self.customer
        unpaid = set(
            Invoice.objects.filter(customer_id=c.pk, status__in=UNPAID).values_list(
                "status", flat=True
            )
        )
        if not unpaid and c.suspension_delay_until is not None:
            Customer.objects.filter(pk=c.pk).update(suspension_delay_until=None)
            c.suspension_delay_until = None
        if InvoiceStatus.OVERDUE in unpaid:
            return
        if c.status == Status.OPEN and c.suspension_reason:
            # Paid while a lift-until date held the suspension: nothing is left to resume.
            Customer.objects.filter(pk=c.pk).update(suspension_reason="")
            c.suspension_reason = ""
        if c.status == Status.SUSPENDED and c.suspension_reason == "overdue":
            lifecycle.unsuspend(actor=ENGINE, now=self.now, customer_id=c.pk, paid=True)
            self.reload()
            self.outcome.status_changes += 1
            fee = self.customer.customer_class.reactivation_fee
            if fee:
                post_locked(
                    customer_id=c.pk,
                    action=Action.MANUAL_CHARGE,
                    amount=fee,
                    now=self.now,
                    visible_comment="Reactivation fee",
                )
                self.reload()
            self.notify(
                "service_restored",
                f"service_restored:{self.now.isoformat()}",
            )


def _locked(customer_id: int) -> Customer | None:
    return lock_row(Customer.objects.select_related("customer_class", "currency"), customer_id)


def evaluate_customer(*, customer_id: int, now: dt.datetime) -> Outcome:
    """All collection work of one customer at ``now``, in one transaction."""
    with transaction.atomic():
        customer = _locked(customer_id)
        if customer is None:
            return Outcome()
        run = _Run(customer, now)
        if customer.status != Status.CLOSED:
            if terminate_due(actor=ENGINE, now=now, customer_id=customer.pk):
                run.outcome.status_changes += 1
                run.reload()
                run.notify("permanently_terminated", "permanently_terminated")
                return run.outcome
            run.lift_if_paid()
            run.evaluate()
        return run.outcome


def after_payment(*, customer: Customer, now: dt.datetime) -> None:
    """Called inside a payment's transaction after settling (the customer is locked)."""
    run = _Run(customer, now)
    run.lift_if_paid()


def due_customers(*, now: dt.datetime) -> list[int]:
    """Customers with collection work possibly due: unpaid invoices, an overdue suspension,
    a lift-until date or a permanent termination date that has come."""
    unpaid = Invoice.objects.filter(status__in=UNPAID).values_list("customer_id", flat=True)
    other = Customer.objects.filter(
        Q(status=Status.SUSPENDED, suspension_reason="overdue")
        | Q(suspension_delay_until__lte=now)
        | Q(terminate_on__lte=now, status=Status.PROVISIONALLY_TERMINATED)
        | Q(terminate_on__lte=now, termination_pending=True)
    ).values_list("pk", flat=True)
    return sorted(set(unpaid) | set(other))


def collections_step(*, now: dt.datetime, report: Any) -> None:
    """The engine step: every customer with collection work, one transaction each."""
    for cid in due_customers(now=now):
        try:
            outcome = evaluate_customer(customer_id=cid, now=now)
        except (BillcoreError, DatabaseError) as exc:
            report.errors.append((cid, str(exc)))
            continue
        report.collection_steps += outcome.steps
        report.status_changes += outcome.status_changes
        report.notifications_queued += outcome.notifications
