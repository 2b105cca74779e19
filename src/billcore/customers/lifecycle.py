"""Customer statuses (CU-14 … CU-18): blocked, suspended, provisionally and permanently
terminated, exported; every change is recorded in the status history and the audit trail.

Transitions:
* Blocked (CU-14): set and cleared by an administrator at any time (not once closed).
* Suspended (CU-15): for an overdue invoice the engine sets it (reason "overdue") and it
  lifts by itself when paid; an administrator cannot clear that one, only delay it with
  "Lift the suspension until DATE". ``suspend_customer`` of the API suspends by hand
  (reason "manual"), and only such a suspension can be lifted by hand.
* Provisionally terminated (CU-16): services stop, data kept; permanent termination is
  scheduled at now + the class's N days (CC-20) or at an earlier chosen date; it can be
  reactivated before then.
* Permanently terminated (CU-17, "closed"): nothing is possible afterwards.
* Exported (CU-18): not operational; clearing the flag reactivates.

Which status each operation leads to, from which status, is the table of
``billcore.core.statuses`` (``TRANSITIONS``): consulted here before every change.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from billcore.accounts.access import Actor, user_row
from billcore.audit.services import record, snapshot
from billcore.core import statuses
from billcore.core.statuses import Op
from billcore.customers.models import Customer, Status, StatusChange
from billcore.customers.selectors import get_customer
from billcore.errors import ValidationFailed
from billcore.locks import for_update

# bill_status codes of the original API.
BILL_STATUS = {
    Status.OPEN: "O",
    Status.SUSPENDED: "S",
    Status.CLOSED: "C",
    Status.EXPORTED: "E",
    Status.PROVISIONALLY_TERMINATED: "D",
}


SUSPENSION_REASONS = ("manual", "overdue", "insufficient_funds")
# Suspensions only the engine lifts (when paid / when funds arrive); by hand they can only be
# delayed with "Lift the suspension until" (CU-15).
ENGINE_SUSPENSIONS = ("overdue", "insufficient_funds")


def display_status(customer: Customer) -> str:
    """The one status to show when several apply (portabilling.md priority): Closed, Blocked,
    Suspended, …, provisionally terminated with its scheduled date."""
    if customer.status == Status.CLOSED:
        return "Permanently terminated"
    if customer.blocked:
        return "Blocked"
    if customer.status == Status.PROVISIONALLY_TERMINATED and customer.terminate_on:
        return f"Provisionally terminated (permanent on {customer.terminate_on:%Y-%m-%d})"
    return str(Status(customer.status).label)


def _locked(actor: Actor, customer_id: int) -> Customer:
    visible = get_customer(actor=actor, customer_id=customer_id)
    customer: Customer = for_update(
        Customer.objects.select_related("customer_class").filter(pk=visible.pk)
    ).get()
    if customer.status == Status.CLOSED:
        raise ValidationFailed(
            "the customer is permanently terminated: no operation is possible (CU-17)",
            field="status",
            code="closed",
        )
    return customer


def record_status_change(
    *, actor: Actor, now: dt.datetime, customer: Customer, from_status: str, reason: str
) -> StatusChange:
    """One row of the status history; the customer already holds its new status."""
    return StatusChange.objects.create(
        customer=customer,
        at=now,
        actor=user_row(actor),
        actor_name=getattr(actor, "username", "") or "system",
        from_status=from_status,
        to_status=customer.status,
        blocked=customer.blocked,
        reason=reason[:200],
    )


def _next(op: Op, customer: Customer, refusal: str, code: str) -> str:
    """The status ``op`` leads ``customer`` to (``core.statuses``); refused otherwise."""
    status = statuses.after(op, customer.status)
    if status is None:
        raise ValidationFailed(refusal, field="status", code=code)
    return status


def _save(
    actor: Actor, now: dt.datetime, customer: Customer, before: dict[str, Any], reason: str
) -> Customer:
    customer.updated_at = now
    customer.save()
    record_status_change(
        actor=actor, now=now, customer=customer, from_status=before["status"], reason=reason
    )
    record(
        actor=actor,
        now=now,
        operation="update",
        obj=customer,
        before=before,
        after=snapshot(customer),
    )
    return customer


@transaction.atomic
def set_blocked(
    *, actor: Actor, now: dt.datetime, customer_id: int, blocked: bool, reason: str = ""
) -> Customer:
    """CU-14."""
    customer = _locked(actor, customer_id)
    before = snapshot(customer)
    customer.status = _next(Op.BLOCK, customer, "the customer cannot be blocked", "closed")
    customer.blocked = bool(blocked)
    return _save(actor, now, customer, before, reason or ("blocked" if blocked else "unblocked"))


@transaction.atomic
def suspend(
    *, actor: Actor, now: dt.datetime, customer_id: int, reason: str = "manual", note: str = ""
) -> Customer:
    """Suspend: "overdue" (an invoice is overdue, CU-15) and "insufficient_funds" (a prepaid
    customer cannot cover a subscription fee, CC-19) are the engine's; "manual" is the
    PortaBilling facade's ``suspend_customer``."""
    if reason not in SUSPENSION_REASONS:
        raise ValidationFailed(
            f"reason must be one of {', '.join(SUSPENSION_REASONS)}", field="reason"
        )
    customer = _locked(actor, customer_id)
    if (
        customer.status == Status.SUSPENDED
        and reason == "overdue"
        and customer.suspension_reason != "overdue"
    ):
        # The overdue suspension takes over one made by hand or for missing funds: from now on
        # only a payment lifts it (CU-15).
        before = snapshot(customer)
        customer.status = _next(Op.OVERDUE_TAKEOVER, customer, "not suspended", "not_suspended")
        customer.suspension_reason = reason
        return _save(actor, now, customer, before, note or "suspended (overdue)")
    before = snapshot(customer)
    customer.status = _next(
        Op.SUSPEND,
        customer,
        f"only an open customer can be suspended (this one is "
        f"{Status(customer.status).label.lower()})",
        "not_open",
    )
    customer.suspension_reason = reason
    return _save(actor, now, customer, before, note or f"suspended ({reason})")


@transaction.atomic
def unsuspend(*, actor: Actor, now: dt.datetime, customer_id: int, paid: bool = False) -> Customer:
    """Lift a suspension. An overdue-invoice suspension lifts only when paid (``paid`` is
    the engine's word for it); by hand it can only be delayed (CU-15)."""
    customer = _locked(actor, customer_id)
    status = _next(Op.UNSUSPEND, customer, "the customer is not suspended", "not_suspended")
    if customer.suspension_reason == "insufficient_funds" and not paid:
        raise ValidationFailed(
            "a suspension for insufficient funds for subscriptions lifts by itself, in the "
            "transaction of the payment that covers the subscription fees that wait (CC-19)",
            field="status",
            code="insufficient_funds_suspension",
        )
    if customer.suspension_reason in ENGINE_SUSPENSIONS and not paid:
        raise ValidationFailed(
            "a suspension for an overdue invoice lifts by itself once the invoice is paid; "
            "use 'Lift the suspension until' to delay it (CU-15)",
            field="status",
            code="overdue_suspension",
        )
    before = snapshot(customer)
    customer.status = status
    customer.suspension_reason = ""
    customer.suspension_delay_until = None
    return _save(
        actor,
        now,
        customer,
        before,
        ("funds arrived" if before["suspension_reason"] == "insufficient_funds" else "paid")
        if paid
        else "suspension lifted",
    )


@transaction.atomic
def lift_suspension_until(
    *, actor: Actor, now: dt.datetime, customer_id: int, until: dt.datetime | None
) -> Customer:
    """CU-15: delay the (next) suspension for an overdue invoice until ``until``."""
    customer = _locked(actor, customer_id)
    if until is not None:
        if until.tzinfo is None:
            raise ValidationFailed("until needs a time zone", field="until")
        if until <= now:
            raise ValidationFailed("until must be in the future", field="until")
    before = snapshot(customer)
    op = Op.LIFT_UNTIL if until is not None else Op.CLEAR_LIFT_UNTIL
    customer.status = _next(op, customer, "the customer's status does not allow it", "closed")
    customer.suspension_delay_until = until
    return _save(
        actor,
        now,
        customer,
        before,
        f"suspension lifted until {until:%Y-%m-%d %H:%M}" if until else "lift-until removed",
    )


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
    """CU-16 / CU-17.

    * Provisional: services stop now; permanent termination is scheduled at now + the class's
      N days (CC-20), or at an earlier chosen date; reactivation is possible until then.
    * Permanent, now (``terminate_on`` empty or past): closed at once; ``midterm_invoice``
      is kept on the customer, and the open period is invoiced by the caller that asked for
      it (``invoicing.closing.terminate``, CU-17: invoicing orchestrates, this module imports
      nothing of it).
    * Permanent on a future date: the customer stays as it is until ``terminate_on``; the
      engine then closes it and invoices the open period when asked
      (``invoicing.closing.terminate_due``).
    """
    customer = _locked(actor, customer_id)
    if terminate_on is not None and terminate_on.tzinfo is None:
        raise ValidationFailed("terminate_on needs a time zone", field="terminate_on")
    before = snapshot(customer)
    if permanent:
        customer.midterm_invoice = bool(midterm_invoice)
        if terminate_on is None or terminate_on <= now:
            return close_now(actor=actor, now=now, customer=customer, before=before)
        customer.termination_pending = True
        customer.terminate_on = terminate_on
        return _save(
            actor,
            now,
            customer,
            before,
            f"permanent termination scheduled for {terminate_on:%Y-%m-%d %H:%M}",
        )
    latest = now + dt.timedelta(days=customer.customer_class.termination_delay_days)
    if terminate_on is not None and terminate_on > latest:
        raise ValidationFailed(
            f"terminate_on can be at most {customer.customer_class.termination_delay_days} "
            "days after provisional termination (CC-20)",
            field="terminate_on",
        )
    if terminate_on is not None and terminate_on <= now:
        raise ValidationFailed(
            "terminate_on must be in the future for a provisional termination",
            field="terminate_on",
        )
    status = _next(
        Op.TERMINATE,
        customer,
        f"a {Status(customer.status).label.lower()} customer cannot be terminated provisionally",
        "not_open",
    )
    if customer.status != Status.PROVISIONALLY_TERMINATED:
        customer.provisionally_terminated_at = now
    customer.status = status
    customer.terminate_on = terminate_on or latest
    customer.midterm_invoice = bool(midterm_invoice)
    return _save(actor, now, customer, before, "provisionally terminated")


def close_now(
    *, actor: Actor, now: dt.datetime, customer: Customer, before: dict[str, Any]
) -> Customer:
    """Permanently terminate the locked ``customer`` now (CU-17). Runs inside the caller's
    transaction; the midterm invoice (``customer.midterm_invoice``) is the caller's
    (``invoicing.closing``)."""
    customer.status = Status.CLOSED
    customer.closed_at = now
    customer.terminate_on = now
    customer.termination_pending = False
    customer.suspension_delay_until = None
    return _save(actor, now, customer, before, "permanently terminated")


@transaction.atomic
def terminate_due(*, actor: Actor, now: dt.datetime, customer_id: int) -> Customer | None:
    """The engine: permanent termination whose date has come (CC-20 after a provisional
    termination, or a scheduled one). None when nothing is due (idempotent)."""
    customer = _locked(actor, customer_id)
    due = customer.terminate_on is not None and customer.terminate_on <= now
    if not due or not (
        customer.status == Status.PROVISIONALLY_TERMINATED or customer.termination_pending
    ):
        return None
    return close_now(actor=actor, now=now, customer=customer, before=snapshot(customer))


@transaction.atomic
def reactivate(*, actor: Actor, now: dt.datetime, customer_id: int) -> Customer:
    """Restore a provisionally terminated customer before its permanent date (CU-16), or call
    off a scheduled permanent termination (CU-17)."""
    customer = _locked(actor, customer_id)
    if customer.termination_pending:  # a scheduled permanent termination is called off
        before = snapshot(customer)
        customer.status = _next(Op.CANCEL_CLOSE, customer, "cannot be called off", "closed")
        customer.termination_pending = False
        customer.terminate_on = None
        customer.midterm_invoice = False
        return _save(actor, now, customer, before, "scheduled termination cancelled")
    status = _next(
        Op.REACTIVATE, customer, "the customer is not provisionally terminated", "not_terminated"
    )
    if customer.terminate_on is not None and now >= customer.terminate_on:
        raise ValidationFailed("the reactivation period is over", field="status", code="too_late")
    before = snapshot(customer)
    customer.status = status
    customer.terminate_on = None
    customer.provisionally_terminated_at = None
    customer.midterm_invoice = False
    return _save(actor, now, customer, before, "reactivated")


@transaction.atomic
def set_exported(*, actor: Actor, now: dt.datetime, customer_id: int, exported: bool) -> Customer:
    """CU-18: exported customers are not operational; clearing the flag reactivates."""
    customer = _locked(actor, customer_id)
    before = snapshot(customer)
    if exported:
        if customer.status == Status.EXPORTED:
            return customer
        customer.status = _next(Op.EXPORT, customer, "cannot be exported", "closed")
    else:
        customer.status = _next(
            Op.CLEAR_EXPORT, customer, "the customer is not exported", "not_exported"
        )
    return _save(actor, now, customer, before, "exported" if exported else "export cleared")


def status_history(*, actor: Actor, customer_id: int) -> list[StatusChange]:
    customer = get_customer(actor=actor, customer_id=customer_id)
    return list(StatusChange.objects.filter(customer=customer).order_by("-at", "-id"))
