"""CC-19 when funds arrive (issue 10 §4): a prepaid customer suspended for insufficient funds
for its subscriptions is charged the fees that waited, and its suspension lifted, in the
transaction of the payment (or credit) that covers them — not at the next engine run. While
suspended, its denials say "insufficient funds for subscriptions", not "overdue invoice".
Exact values; SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from typing import Any

import pytest

from billcore.charging.models import Xdr
from billcore.charging.services import authorize, charge, parse_usage
from billcore.classes.services import create_class
from billcore.customers import lifecycle
from billcore.customers.models import Customer, StatusChange
from billcore.errors import ValidationFailed
from billcore.invoicing.settling import record_transaction
from billcore.ledger.customers import create_customer
from billcore.ledger.models import Transaction
from billcore.subscriptions.engine import charge_step
from billcore.subscriptions.models import Subscription
from billcore.subscriptions.services import create_plan, subscribe
from tests.support import ledger_sum

pytestmark = pytest.mark.django_db

UTC = dt.UTC
JAN1 = dt.datetime(2027, 1, 1, tzinfo=UTC)
JAN5 = dt.datetime(2027, 1, 5, 10, 30, tzinfo=UTC)
FUNDS_TEXT = "the customer is suspended: insufficient funds for subscriptions"


class _Report:
    def __init__(self) -> None:
        self.fees_charged = 0
        self.status_changes = 0
        self.errors: list[tuple[int, str]] = []


def _engine(now: dt.datetime) -> _Report:
    report = _Report()
    charge_step(now=now, report=report)
    assert report.errors == []
    return report


def _suspended_customer(admin: Any, *, funds: str, fees: tuple[str, ...] = ("30",)) -> Customer:
    """A prepaid CC-19 customer with ``funds``, subscribed on Jan 1 to one plan per fee (in
    advance, not prorated, in this order), after the engine's Jan 1 run."""
    cls = create_class(
        actor=admin,
        now=JAN1,
        data={"name": "CC-19", "currency": "USD", "suspend_on_insufficient_funds": True},
    )
    c = create_customer(
        actor=admin,
        now=JAN1,
        data={
            "name": "Pre",
            "currency": "USD",
            "balance_control": "prepaid",
            "available_funds": funds,
            "customer_class": cls.pk,
        },
    )
    for i, fee in enumerate(fees):
        plan = create_plan(
            actor=admin,
            now=JAN1,
            data={"name": f"Plan {i}", "currency": "USD", "fee": fee, "prorate": False},
        )
        subscribe(
            actor=admin,
            now=JAN1,
            customer_id=c.pk,
            data={"plan": plan.pk, "start_at": JAN1 + dt.timedelta(seconds=i)},
        )
    _engine(JAN1 + dt.timedelta(minutes=1))
    c.refresh_from_db()
    return c


def _state(c: Customer) -> tuple[str, str, D]:
    c.refresh_from_db()
    return c.status, c.suspension_reason, c.balance


def _fees(c: Customer) -> list[tuple[D, dt.datetime]]:
    return list(
        Transaction.objects.filter(customer=c, action="subscription")
        .order_by("id")
        .values_list("amount", "created_at")
    )


def _pay(admin: Any, c: Customer, amount: str, **kw: Any) -> Any:
    return record_transaction(
        actor=admin,
        now=kw.pop("now", JAN5),
        customer_id=c.pk,
        action=kw.pop("action", "manual_payment"),
        amount=amount,
        **kw,
    )


def test_the_payment_that_covers_the_fee_charges_it_and_lifts_the_suspension(admin: Any) -> None:
    c = _suspended_customer(admin, funds="20")
    assert _state(c) == ("suspended", "insufficient_funds", D("-20"))  # 30 > 20: waits
    assert _fees(c) == []
    posted = _pay(admin, c, "15")
    # the payment: funds 20 + 15 = 35 (its own row says so) ...
    assert (posted.balance, posted.available_funds) == (D("-35"), D("35"))
    # ... then in the same transaction the waiting fee 30: funds 35 - 30 = 5, service resumes
    assert _state(c) == ("open", "", D("-5"))
    assert _fees(c) == [(D("30"), JAN5)]
    ledger = list(
        Transaction.objects.filter(customer=c).order_by("id").values_list("action", "amount")
    )
    assert ledger == [
        ("opening_balance", D("-20")),
        ("manual_payment", D("-15")),
        ("subscription", D("30")),
    ]
    assert c.balance == ledger_sum(customer_id=c.pk)
    sub = Subscription.objects.get(customer=c)
    assert (sub.status, sub.charged_to) == ("active", dt.datetime(2027, 2, 1, tzinfo=UTC))
    last = StatusChange.objects.filter(customer=c).latest("id")
    assert (last.at, last.from_status, last.to_status, last.reason, last.actor_name) == (
        JAN5,
        "suspended",
        "open",
        "funds arrived",
        "engine",
    )
    # the next engine run has nothing left to do
    r = _engine(JAN5 + dt.timedelta(hours=1))
    assert (r.fees_charged, r.status_changes) == (0, 0)
    assert _state(c) == ("open", "", D("-5"))
    # usage is served again
    usage = parse_usage(service="voice", amount="1", now=JAN5)
    assert charge(actor=admin, now=JAN5, customer_id=c.pk, usage=usage).allowed


def test_a_payment_short_of_the_fee_changes_nothing_but_the_funds(admin: Any) -> None:
    c = _suspended_customer(admin, funds="20")
    _pay(admin, c, "9.99999")  # 29.99999 < 30
    assert _state(c) == ("suspended", "insufficient_funds", D("-29.99999"))
    assert _fees(c) == []
    assert Subscription.objects.get(customer=c).status == "waiting_for_funds"
    _pay(admin, c, "0.00001", now=JAN5 + dt.timedelta(minutes=1))  # exactly 30
    assert _state(c) == ("open", "", D("0"))
    assert _fees(c) == [(D("30"), JAN5 + dt.timedelta(minutes=1))]


def test_waiting_fees_are_charged_oldest_first_as_the_funds_allow(admin: Any) -> None:
    """Two plans: 10 (subscribed first) and 30; funds 5 cover neither, so both wait."""
    c = _suspended_customer(admin, funds="5", fees=("10", "30"))
    assert _state(c) == ("suspended", "insufficient_funds", D("-5"))
    _pay(admin, c, "10")  # 15: the 10 is charged (5 left), the 30 still waits
    assert _state(c) == ("suspended", "insufficient_funds", D("-5"))
    assert _fees(c) == [(D("10"), JAN5)]
    later = JAN5 + dt.timedelta(days=1)
    _pay(admin, c, "30", now=later)  # 35: the 30 is charged, 5 left
    assert _state(c) == ("open", "", D("-5"))
    assert _fees(c) == [(D("10"), JAN5), (D("30"), later)]
    assert list(Subscription.objects.filter(customer=c).values_list("status", flat=True)) == [
        "active",
        "active",
    ]


@pytest.mark.parametrize("action", ["manual_credit", "promotional_credit"])
def test_a_credit_is_funds_arriving_too(admin: Any, action: str) -> None:
    c = _suspended_customer(admin, funds="20")
    _pay(admin, c, "10", action=action)
    assert _state(c) == ("open", "", D("0"))
    assert _fees(c) == [(D("30"), JAN5)]


def test_a_replayed_payment_charges_nothing_twice(admin: Any) -> None:
    c = _suspended_customer(admin, funds="20")
    first = _pay(admin, c, "15", idempotency_key="pay-1")
    again = _pay(admin, c, "15", idempotency_key="pay-1", now=JAN5 + dt.timedelta(minutes=5))
    assert (again.replayed, again.transaction_id) == (True, first.transaction_id)
    assert _state(c) == ("open", "", D("-5"))
    assert _fees(c) == [(D("30"), JAN5)]


def test_the_denial_says_insufficient_funds_for_subscriptions(admin: Any) -> None:
    c = _suspended_customer(admin, funds="20")
    usage = parse_usage(service="voice", amount="1", now=JAN5)
    denied = charge(actor=admin, now=JAN5, customer_id=c.pk, usage=usage)
    assert (denied.allowed, denied.reason, denied.message) == (
        False,
        "customer_suspended_funds",
        FUNDS_TEXT,
    )
    assert Xdr.objects.get(pk=denied.xdr_id).deny_reason == "customer_suspended_funds"
    asked = authorize(actor=admin, now=JAN5, customer_id=c.pk, amount="1")
    assert (asked.allowed, asked.reason, asked.message) == (
        False,
        "customer_suspended_funds",
        FUNDS_TEXT,
    )
    with pytest.raises(ValidationFailed) as refused:
        lifecycle.unsuspend(actor=admin, now=JAN5, customer_id=c.pk)
    assert (refused.value.field, refused.value.code, refused.value.message) == (
        "status",
        "insufficient_funds_suspension",
        "a suspension for insufficient funds for subscriptions lifts by itself, in the "
        "transaction of the payment that covers the subscription fees that wait (CC-19)",
    )
    assert _state(c) == ("suspended", "insufficient_funds", D("-20"))


@pytest.mark.parametrize(
    ("reason", "code", "text"),
    [
        ("overdue", "customer_suspended", "the customer is suspended for an overdue invoice"),
        ("manual", "customer_suspended_manual", "the customer is suspended by an operator"),
    ],
)
def test_other_suspensions_keep_their_own_reason(
    admin: Any, reason: str, code: str, text: str
) -> None:
    cls = create_class(actor=admin, now=JAN1, data={"name": "P", "currency": "USD"})
    c = create_customer(
        actor=admin,
        now=JAN1,
        data={
            "name": "Post",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": cls.pk,
        },
    )
    lifecycle.suspend(actor=admin, now=JAN1, customer_id=c.pk, reason=reason)
    asked = authorize(actor=admin, now=JAN5, customer_id=c.pk, amount="1")
    assert (asked.allowed, asked.reason, asked.message) == (False, code, text)
