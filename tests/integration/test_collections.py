"""Collections and the engine's lifecycle steps (issue 5 §1, §2; CU-15 … CU-17, CC-20).

One class: grace 10 days; reminder 3 days before the due date; late-payment fee 2.50 five
days after it (notice 2 days); suspension 10 days after it (notice 3 days); termination 30
days after it (notice 5 days); reactivation fee 4.00; provisional termination lasts 5 days.
An invoice issued 2027-02-01 00:00Z is due 2027-02-11 00:00Z, so the rules put: reminder
02-08, late-fee notice 02-14, fee 02-16, suspension notice 02-18, suspension 02-21,
termination notice 03-08, termination 03-13.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from typing import Any

import pytest

from billcore.classes.services import create_class
from billcore.customers import lifecycle
from billcore.customers.models import Customer
from billcore.engine import run
from billcore.invoicing import closing
from billcore.invoicing.models import CollectionStep, Invoice
from billcore.invoicing.settling import record_transaction
from billcore.ledger.customers import create_customer
from billcore.ledger.models import Transaction
from billcore.ledger.postings import post_locked
from billcore.notifications.models import OutboundEmail
from tests.support import ledger_sum

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2027, 1, 10, 9, 0, tzinfo=dt.UTC)


def at(month: int, day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2027, month, day, hour, tzinfo=dt.UTC)


STEPS = ["close", "collections"]
ALL_NOTIFICATIONS = [
    "payment_due_soon",
    "invoice_overdue",
    "late_fee_warning",
    "suspension_warning",
    "termination_warning",
    "suspended",
    "service_restored",
    "provisionally_terminated",
    "permanently_terminated",
]


@pytest.fixture
def customer(admin: Any) -> Customer:
    cls = create_class(
        actor=admin,
        now=T0,
        data={
            "name": "Collections",
            "currency": "USD",
            "grace_period_days": 10,
            "reminder_days_before_due": 3,
            "late_fee_after_days": 5,
            "late_fee_amount": "2.50",
            "late_fee_notice_days": 2,
            "suspend_after_days": 10,
            "suspend_notice_days": 3,
            "terminate_after_days": 30,
            "terminate_notice_days": 5,
            "reactivation_fee": "4.00",
            "termination_delay_days": 5,
            "notifications": ALL_NOTIFICATIONS,
        },
    )
    c = create_customer(
        actor=admin,
        now=T0,
        data={
            "name": "Slow Payer",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": cls.pk,
            "email": "ap@slow.example",
        },
    )
    _charge(c, "100", T0 + dt.timedelta(days=1))
    return c


def _charge(c: Customer, amount: str, when: dt.datetime) -> None:
    from django.db import transaction

    with transaction.atomic():
        post_locked(customer_id=c.pk, action="manual_charge", amount=D(amount), now=when)


def _pay(admin: Any, c: Customer, amount: str, when: dt.datetime) -> None:
    record_transaction(
        actor=admin, now=when, customer_id=c.pk, action="manual_payment", amount=amount
    )


def _steps(c: Customer) -> list[tuple[str, str, dt.datetime, dt.datetime]]:
    return [
        (s.invoice.number, s.kind, s.scheduled_at, s.done_at)
        for s in CollectionStep.objects.filter(customer=c).select_related("invoice").order_by("id")
    ]


def _notes(c: Customer) -> list[str]:
    return list(
        OutboundEmail.objects.filter(customer=c, kind="notification")
        .order_by("id")
        .values_list("notification", flat=True)
    )


def _state(c: Customer) -> tuple[str, str, bool]:
    c.refresh_from_db()
    return (c.status, c.suspension_reason, c.blocked)


def test_every_step_on_its_day_then_payment_restores_service(admin: Any, customer: Any) -> None:
    c = customer
    for day in (
        at(2, 1),  # invoice INV-0000001, 100.00, due 02-11
        at(2, 7),
        at(2, 8),  # reminder
        at(2, 11),  # overdue
        at(2, 14),  # late-fee notice
        at(2, 16),  # fee
        at(2, 18),  # suspension notice
        at(2, 20),
        at(2, 21),  # suspension
    ):
        run(now=day, steps=STEPS)
        run(now=day, steps=STEPS)  # idempotent for the same now
    assert _steps(c) == [
        ("INV-0000001", "reminder", at(2, 8), at(2, 8)),
        ("INV-0000001", "late_fee_notice", at(2, 14), at(2, 14)),
        ("INV-0000001", "late_fee", at(2, 16), at(2, 16)),
        ("INV-0000001", "suspension_notice", at(2, 18), at(2, 18)),
        ("INV-0000001", "suspension", at(2, 21), at(2, 21)),
    ]
    assert _notes(c) == [
        "payment_due_soon",
        "invoice_overdue",
        "late_fee_warning",
        "suspension_warning",
        "suspended",
    ]
    assert _state(c) == ("suspended", "overdue", False)
    fee = Transaction.objects.get(
        customer=c, idempotency_key=f"late-fee-{Invoice.objects.get().pk}"
    )
    assert (fee.action, fee.amount, fee.created_at) == ("manual_charge", D("2.50000"), at(2, 16))
    # The invoice is paid (the fee is not on it yet: it is billed with the next period).
    _pay(admin, c, "100", at(2, 22))
    assert _state(c) == ("open", "", False)
    c.refresh_from_db()
    assert c.balance == D("6.50000") == ledger_sum(customer_id=c.pk)  # 2.50 fee + 4.00 reactivation
    assert _notes(c)[-1] == "service_restored"
    assert Invoice.objects.get().status == "paid"


def test_a_late_clock_sends_the_notices_first_and_waits_for_them(admin: Any, customer: Any) -> None:
    c = customer
    run(now=at(2, 1), steps=STEPS)
    run(now=at(3, 1), steps=STEPS)  # everything up to the suspension is past
    assert _steps(c) == [
        ("INV-0000001", "late_fee_notice", at(2, 14), at(3, 1)),
        ("INV-0000001", "suspension_notice", at(2, 18), at(3, 1)),
    ]
    assert _notes(c) == ["invoice_overdue", "late_fee_warning", "suspension_warning"]
    run(now=at(3, 2, 23), steps=STEPS)  # fee waits for its 2-day notice: 03-03
    assert [s[1] for s in _steps(c)] == ["late_fee_notice", "suspension_notice"]
    run(now=at(3, 3), steps=STEPS)
    assert _steps(c)[-1] == ("INV-0000001", "late_fee", at(3, 3), at(3, 3))
    assert _state(c) == ("open", "", False)
    run(now=at(3, 4), steps=STEPS)  # suspension: 3 days after its notice
    assert _steps(c)[-1] == ("INV-0000001", "suspension", at(3, 4), at(3, 4))
    assert _state(c) == ("suspended", "overdue", False)


def test_a_payment_that_moves_the_oldest_unpaid_invoice_never_skips_a_step(
    admin: Any, customer: Any
) -> None:
    """The known defect of other systems: A (due 02-11) and B (due 03-11) unpaid; A's
    suspension notice goes out; a payment settles A; B's notice must still go out before B's
    suspension, even when the clock is late."""
    c = customer
    run(now=at(2, 1), steps=STEPS)  # A = INV-0000001 (100.00)
    _charge(c, "30", at(2, 5))
    run(now=at(2, 18), steps=STEPS)  # A: both notices go out now; the fee waits until 02-20
    assert [s[1] for s in _steps(c)] == ["late_fee_notice", "suspension_notice"]
    _pay(admin, c, "100", at(2, 19))  # settles A
    assert Invoice.objects.get(number="INV-0000001").status == "paid"
    run(now=at(3, 1), steps=STEPS)  # B = INV-0000002: 30.00, due 03-11
    assert Invoice.objects.get(number="INV-0000002").total == D("30.00000")
    run(now=at(3, 25), steps=STEPS)  # late: B's suspension (03-21) must wait for its notice
    b_steps = [s for s in _steps(c) if s[0] == "INV-0000002"]
    assert b_steps == [
        ("INV-0000002", "late_fee_notice", at(3, 14), at(3, 25)),
        ("INV-0000002", "suspension_notice", at(3, 18), at(3, 25)),
    ]
    assert _state(c) == ("open", "", False)
    run(now=at(3, 28), steps=STEPS)
    assert _state(c) == ("suspended", "overdue", False)
    assert [s[1] for s in _steps(c) if s[0] == "INV-0000002"][-1] == "suspension"


def test_lift_the_suspension_until_a_date(admin: Any, customer: Any) -> None:
    c = customer
    for day in (at(2, 1), at(2, 18), at(2, 21)):
        run(now=day, steps=STEPS)
    assert _state(c) == ("suspended", "overdue", False)
    # An administrator cannot clear it (CU-15) …
    with pytest.raises(Exception, match="lifts by itself once the invoice is paid"):
        lifecycle.unsuspend(actor=admin, now=at(2, 22), customer_id=c.pk)
    # … only delay it.
    lifecycle.lift_suspension_until(actor=admin, now=at(2, 22), customer_id=c.pk, until=at(2, 25))
    assert _state(c) == ("open", "overdue", False)
    run(now=at(2, 24), steps=STEPS)
    assert _state(c) == ("open", "overdue", False)
    run(now=at(2, 25), steps=STEPS)  # the date passed: suspended again, the date removed
    c.refresh_from_db()
    assert (c.status, c.suspension_delay_until) == ("suspended", None)
    assert [s[1] for s in _steps(c)].count("suspension") == 1


def test_a_lift_date_set_in_advance_holds_the_suspension(admin: Any, customer: Any) -> None:
    c = customer
    run(now=at(2, 1), steps=STEPS)
    lifecycle.lift_suspension_until(actor=admin, now=at(2, 10), customer_id=c.pk, until=at(3, 1))
    run(now=at(2, 18), steps=STEPS)
    run(now=at(2, 21), steps=STEPS)
    assert _state(c) == ("open", "", False)  # the notice went out, the suspension waits
    run(now=at(3, 1), steps=STEPS)
    assert _state(c) == ("suspended", "overdue", False)
    assert _steps(c)[-1] == ("INV-0000001", "suspension", at(2, 21), at(3, 1))


def test_termination_then_permanent_after_n_days(admin: Any, customer: Any) -> None:
    c = customer
    for day in (at(2, 1), at(2, 18), at(2, 21), at(3, 8), at(3, 13)):
        run(now=day, steps=STEPS)
    c.refresh_from_db()
    assert (c.status, c.terminate_on) == ("provisionally_terminated", at(3, 18))
    run(now=at(3, 17), steps=STEPS)
    assert _state(c)[0] == "provisionally_terminated"
    run(now=at(3, 18), steps=STEPS)
    c.refresh_from_db()
    assert (c.status, c.closed_at) == ("closed", at(3, 18))
    assert _notes(c)[-3:] == [
        "termination_warning",
        "provisionally_terminated",
        "permanently_terminated",
    ]
    with pytest.raises(Exception, match="permanently terminated"):
        lifecycle.reactivate(actor=admin, now=at(3, 19), customer_id=c.pk)


def test_permanent_termination_now_with_a_midterm_invoice(admin: Any, customer: Any) -> None:
    c = customer
    run(now=at(2, 1), steps=STEPS)
    _charge(c, "12.345", at(2, 3))
    closing.terminate(
        actor=admin, now=at(2, 5, 10), customer_id=c.pk, permanent=True, midterm_invoice=True
    )
    c.refresh_from_db()
    assert (c.status, c.billed_to, c.next_billed_to) == ("closed", at(2, 5, 10), None)
    midterm = Invoice.objects.get(kind="midterm")
    assert (midterm.number, midterm.period_start, midterm.period_end, midterm.total) == (
        "INV-0000002",
        at(2, 1),
        at(2, 5, 10),
        D("12.35000"),  # 12.345 rounded up (currency default)
    )
    assert c.balance == D("112.35000") == ledger_sum(customer_id=c.pk)


def test_permanent_termination_on_a_future_date(admin: Any, customer: Any) -> None:
    c = customer
    closing.terminate(
        actor=admin,
        now=at(1, 20),
        customer_id=c.pk,
        permanent=True,
        terminate_on=at(1, 25),
        midterm_invoice=True,
    )
    assert _state(c) == ("open", "", False)
    run(now=at(1, 24), steps=STEPS)
    assert _state(c) == ("open", "", False)
    run(now=at(1, 25), steps=STEPS)
    c.refresh_from_db()
    assert (c.status, c.closed_at) == ("closed", at(1, 25))
    inv = Invoice.objects.get()
    assert (inv.kind, inv.period_start, inv.period_end, inv.total) == (
        "midterm",
        T0,
        at(1, 25),
        D("100.00000"),
    )
    again = run(now=at(2, 1), steps=STEPS)  # nothing more for a closed customer
    assert (again.invoices, again.status_changes) == (0, 0)


def test_reactivation_within_n_days_only(admin: Any, customer: Any) -> None:
    c = customer
    lifecycle.terminate(actor=admin, now=at(1, 20), customer_id=c.pk)
    c.refresh_from_db()
    assert (c.status, c.terminate_on) == ("provisionally_terminated", at(1, 25))
    lifecycle.reactivate(actor=admin, now=at(1, 24), customer_id=c.pk)
    assert _state(c) == ("open", "", False)
    lifecycle.terminate(actor=admin, now=at(1, 26), customer_id=c.pk)
    with pytest.raises(Exception, match="the reactivation period is over"):
        lifecycle.reactivate(actor=admin, now=at(1, 31), customer_id=c.pk)


def test_invoice_issued_is_notified_once_when_the_class_sends_it(admin: Any, customer: Any) -> None:
    from billcore.classes.services import update_class

    c = customer
    update_class(
        actor=admin,
        now=T0,
        class_id=c.customer_class_id,
        changes={"notifications": ["invoice_issued", *ALL_NOTIFICATIONS]},
    )
    run(now=at(2, 1), steps=STEPS)
    run(now=at(2, 1), steps=STEPS)
    mail = OutboundEmail.objects.get(customer=c, notification="invoice_issued")
    assert (mail.dedupe_key, mail.to_address, mail.status) == (
        f"invoice_issued:{Invoice.objects.get().pk}",
        "ap@slow.example",
        "pending",
    )
    assert "INV-0000001" in mail.subject + mail.body
