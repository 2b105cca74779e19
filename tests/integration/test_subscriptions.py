"""Subscriptions (issue 5 §3; CU-02, CU-13 Subscriptions tab, CU-15 … CU-18, CC-14, CC-19):
plans and subscriptions through the services, and the engine's subscriptions step. Exact
values throughout; the proration arithmetic is written beside each amount."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal as D
from typing import Any

import pytest

from billcore import engine as invoicing_engine
from billcore.audit.models import AuditEntry
from billcore.charging.services import charge, parse_usage
from billcore.classes.services import create_class
from billcore.customers import lifecycle
from billcore.customers.models import Customer
from billcore.errors import NotFound, ValidationFailed
from billcore.invoicing.models import Invoice, InvoiceLine
from billcore.invoicing.settling import record_transaction
from billcore.ledger.customers import create_customer
from billcore.ledger.models import Transaction
from billcore.subscriptions import selectors
from billcore.subscriptions.engine import charge_step, prorated_fee
from billcore.subscriptions.models import Subscription, SubscriptionCharge, SubscriptionPlan
from billcore.subscriptions.services import (
    create_plan,
    delete_plan,
    end_subscription,
    subscribe,
    update_plan,
)
from tests.support import ledger_sum

pytestmark = pytest.mark.django_db

UTC = dt.UTC
JAN1 = dt.datetime(2027, 1, 1, tzinfo=UTC)  # a Friday
JAN11 = dt.datetime(2027, 1, 11, tzinfo=UTC)
FEB1 = dt.datetime(2027, 2, 1, tzinfo=UTC)
MAR1 = dt.datetime(2027, 3, 1, tzinfo=UTC)
US = dt.timedelta(microseconds=1)


@dataclass
class Report:
    """The fields of the engine's report the step adds to."""

    fees_charged: int = 0
    status_changes: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def step(now: dt.datetime) -> Report:
    report = Report()
    charge_step(now=now, report=report)
    assert report.errors == []
    return report


def _class(admin: Any, **data: Any) -> Any:
    return create_class(
        actor=admin,
        now=JAN1,
        data={"name": data.pop("name", "Retail USD"), "currency": "USD", **data},
    )


def _customer(admin: Any, cls: Any, *, at: dt.datetime = JAN1, **data: Any) -> Customer:
    return create_customer(
        actor=admin,
        now=at,
        data={
            "name": data.pop("name", "Acme"),
            "currency": "USD",
            "balance_control": data.pop("balance_control", "postpaid"),
            "customer_class": cls.pk,
            **data,
        },
    )


def _plan(admin: Any, fee: str = "31", **data: Any) -> SubscriptionPlan:
    return create_plan(
        actor=admin,
        now=JAN1,
        data={"name": data.pop("name", "Gold"), "currency": "USD", "fee": fee, **data},
    )


def _sub(admin: Any, customer: Customer, plan: SubscriptionPlan, start: dt.datetime, **kw: Any):
    return subscribe(
        actor=admin,
        now=start,
        customer_id=customer.pk,
        data={"plan": plan.pk, "start_at": start, **kw},
    )


def _fees(customer: Customer) -> list[tuple[D, dt.datetime]]:
    return [
        (t.amount, t.created_at)
        for t in Transaction.objects.filter(customer=customer, action="subscription").order_by(
            "created_at", "id"
        )
    ]


def _charges(sub: Subscription) -> list[tuple[dt.datetime, dt.datetime, D, str]]:
    return [
        (c.period_start, c.period_end, c.amount, c.skipped)
        for c in SubscriptionCharge.objects.filter(subscription=sub).order_by("period_start")
    ]


# --------------------------------------------------------------------------- proration


def test_prorated_fee_is_exact_half_up_integer_arithmetic() -> None:
    day = dt.timedelta(days=1)
    # 10 * 21/31 = 6.774193548… -> 6.77419
    assert prorated_fee(D("10"), covered=21 * day, period=31 * day) == D("6.77419")
    # 0.00001 * 1/2 = 0.000005 -> half up -> 0.00001; * 1/3 -> 0.0000033 -> 0.00000
    assert prorated_fee(D("0.00001"), covered=day, period=2 * day) == D("0.00001")
    assert prorated_fee(D("0.00001"), covered=day, period=3 * day) == D("0.00000")
    # 1 µs short of a whole 31-day period: 99999.99999 * 2678399999999/2678400000000
    # = 99999.99999 - 0.0000000373… = 99999.9999899626… -> 99999.99999
    assert prorated_fee(D("99999.99999"), covered=31 * day - US, period=31 * day) == D(
        "99999.99999"
    )
    # exactly half: 49999.999995 -> half up -> 50000.00000 (binary floating point holds
    # 49999.99999499999… and would round down)
    assert prorated_fee(D("99999.99999"), covered=day, period=2 * day) == D("50000.00000")
    assert prorated_fee(D("7"), covered=7 * day, period=7 * day) == D("7")


# --------------------------------------------------------------------------- plans


def test_plan_create_update_delete_with_audit(admin: Any) -> None:
    plan = _plan(admin, fee="12.34567", description="Monthly gold", in_advance=False)
    assert (plan.fee, plan.in_advance, plan.prorate, plan.charge_while_suspended) == (
        D("12.34567"),
        False,
        True,
        False,
    )
    assert plan.charge_while_blocked is True  # CU-02: blocked customers still pay by default
    plan = update_plan(
        actor=admin, now=JAN11, plan_id=plan.pk, changes={"fee": "15", "prorate": False}
    )
    assert (plan.fee, plan.prorate, plan.updated_at) == (D("15"), False, JAN11)
    entries = list(
        AuditEntry.objects.filter(object_type="subscriptionplan")
        .order_by("id")
        .values_list("operation", "after")
    )
    assert entries[0][0] == "create"
    assert entries[1] == (
        "update",
        {"fee": "15.00000", "prorate": False, "updated_at": JAN11.isoformat()},
    )
    delete_plan(actor=admin, now=FEB1, plan_id=plan.pk)
    assert not SubscriptionPlan.objects.exists()
    assert (
        AuditEntry.objects.filter(object_type="subscriptionplan", operation="delete").count() == 1
    )


@pytest.mark.parametrize(
    ("data", "field", "text"),
    [
        ({"fee": "0"}, "fee", "fee must be greater than 0"),
        ({"fee": "-1"}, "fee", "fee must be greater than 0"),
        ({"fee": "1.000001"}, "fee", "fee"),
        ({"fee": ""}, "fee", "fee is required"),
        ({"currency": "JPY"}, "currency", "not in use"),
        ({"currency": "XXQ"}, "currency", "currency"),
        ({"name": ""}, "name", "name"),
        ({"name": "gold"}, "name", "already exists"),
        ({"colour": "red"}, "colour", "colour"),
    ],
)
def test_plan_validation_names_the_field(
    admin: Any, data: dict[str, Any], field: str, text: str
) -> None:
    _plan(admin, name="Gold")
    with pytest.raises(ValidationFailed) as exc:
        create_plan(
            actor=admin,
            now=JAN1,
            data={"name": "Silver", "currency": "USD", "fee": "5", **data},
        )
    assert exc.value.field == field
    assert text in exc.value.message


def test_plans_are_scoped_like_classes(world: dict[str, Any]) -> None:
    admin, ua, ub = world["admin"], world["ua"], world["ub"]
    admin_plan = _plan(admin, name="Admin plan")
    a_plan = create_plan(actor=ua, now=JAN1, data={"name": "A plan", "currency": "USD", "fee": "3"})
    assert a_plan.managed_by_id == world["ra"].pk
    assert [p.name for p in selectors.list_plans(actor=ua)] == ["A plan"]
    assert [p.name for p in selectors.list_plans(actor=admin)] == ["A plan", "Admin plan"]
    with pytest.raises(NotFound):
        update_plan(actor=ub, now=JAN1, plan_id=a_plan.pk, changes={"fee": "4"})
    with pytest.raises(NotFound):
        delete_plan(actor=ua, now=JAN1, plan_id=admin_plan.pk)
    with pytest.raises(ValidationFailed) as exc:
        create_plan(
            actor=ua,
            now=JAN1,
            data={"name": "Sneaky", "currency": "USD", "fee": "3", "managed_by": world["rb"].pk},
        )
    assert exc.value.field == "managed_by"


def test_subscribe_rules(world: dict[str, Any]) -> None:
    admin, ua = world["admin"], world["ua"]
    cls = _class(admin, name="Direct USD")
    c = _customer(admin, cls)
    plan = _plan(admin)
    a_plan = create_plan(actor=ua, now=JAN1, data={"name": "A plan", "currency": "USD", "fee": "3"})

    def fails(data: dict[str, Any], field: str, text: str, actor: Any = admin) -> None:
        with pytest.raises(ValidationFailed) as exc:
            subscribe(actor=actor, now=JAN11, customer_id=c.pk, data=data)
        assert exc.value.field == field
        assert text in exc.value.message

    fails({"start_at": JAN11}, "plan", "plan is required")
    fails({"plan": 999999, "start_at": JAN11}, "plan", "does not exist")
    fails({"plan": a_plan.pk, "start_at": JAN11}, "plan", "not one of the administrator's")
    fails({"plan": plan.pk}, "start_at", "start_at is required")
    fails({"plan": plan.pk, "start_at": "2027-01-11T00:00:00"}, "start_at", "time zone")
    fails({"plan": plan.pk, "start_at": "soon"}, "start_at", "date and time")
    fails({"plan": plan.pk, "start_at": JAN1 - US}, "start_at", "before the customer was created")
    fails({"plan": plan.pk, "start_at": JAN11, "end_at": JAN11}, "end_at", "after start_at")
    with pytest.raises(NotFound):
        subscribe(actor=ua, now=JAN11, customer_id=c.pk, data={"plan": plan.pk, "start_at": JAN11})
    sub = subscribe(
        actor=admin,
        now=JAN11,
        customer_id=c.pk,
        data={"plan": plan.pk, "start_at": "2027-01-11T01:00:00+01:00"},
    )
    assert (sub.start_at, sub.end_at, sub.status, sub.charged_to) == (JAN11, None, "active", None)
    assert AuditEntry.objects.filter(object_type="subscription", operation="create").count() == 1
    with pytest.raises(ValidationFailed) as exc:
        delete_plan(actor=admin, now=JAN11, plan_id=plan.pk)
    assert (exc.value.field, exc.value.code) == ("id", "in_use")
    with pytest.raises(ValidationFailed) as exc:
        update_plan(actor=admin, now=JAN11, plan_id=plan.pk, changes={"currency": "EUR"})
    assert exc.value.field == "currency"
    # a reseller's customer subscribes to the reseller's plans only
    sub_customer = create_customer(
        actor=ua,
        now=JAN1,
        data={
            "name": "A's retail",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": world["classes"]["a"].pk,
        },
    )
    s2 = subscribe(
        actor=ua,
        now=JAN11,
        customer_id=sub_customer.pk,
        data={"plan": a_plan.pk, "start_at": JAN11},
    )
    assert s2.plan_id == a_plan.pk
    assert [
        p.name for p in selectors.plans_for_customer(actor=admin, customer_id=sub_customer.pk)
    ] == ["A plan"]
    # closed customers cannot subscribe (CU-17)
    lifecycle.terminate(actor=admin, now=JAN11, customer_id=c.pk, permanent=True)
    with pytest.raises(ValidationFailed) as exc:
        subscribe(
            actor=admin, now=JAN11, customer_id=c.pk, data={"plan": plan.pk, "start_at": JAN11}
        )
    assert exc.value.field in ("customer_id", "status")


def test_plan_currency_must_equal_the_customers(admin: Any) -> None:
    cls = _class(admin)
    c = _customer(admin, cls)
    eur = create_plan(actor=admin, now=JAN1, data={"name": "Euro", "currency": "EUR", "fee": "1"})
    with pytest.raises(ValidationFailed) as exc:
        subscribe(
            actor=admin, now=JAN11, customer_id=c.pk, data={"plan": eur.pk, "start_at": JAN11}
        )
    assert (exc.value.field, exc.value.code) == ("plan", "currency_mismatch")


# --------------------------------------------------------------------------- the engine


def test_in_advance_whole_periods_and_idempotent(admin: Any) -> None:
    c = _customer(admin, _class(admin))
    sub = _sub(admin, c, _plan(admin, fee="31"), JAN1)
    r = step(JAN1)
    assert (r.fees_charged, r.status_changes) == (1, 0)
    assert _fees(c) == [(D("31.00000"), JAN1)]
    assert step(JAN1).fees_charged == 0  # the same now: nothing new
    assert step(FEB1 - US).fees_charged == 0
    r = step(MAR1 + dt.timedelta(days=3))  # the engine missed February 1st: posted when due
    assert r.fees_charged == 2
    assert _fees(c) == [(D("31.00000"), JAN1), (D("31.00000"), FEB1), (D("31.00000"), MAR1)]
    sub.refresh_from_db()
    assert (sub.charged_to, sub.status) == (dt.datetime(2027, 4, 1, tzinfo=UTC), "active")
    assert step(MAR1 + dt.timedelta(days=3)).fees_charged == 0
    c.refresh_from_db()
    assert c.balance == D("93.00000") == ledger_sum(customer_id=c.pk)
    t = Transaction.objects.filter(customer=c, action="subscription").order_by("id").first()
    assert t is not None
    assert (t.idempotency_key, t.visible_comment) == (
        f"sub-{sub.pk}-{JAN1.isoformat()}",
        "Gold 2027-01-01 .. 2027-01-31",
    )


def test_in_advance_prorated_start_mid_period(admin: Any) -> None:
    c = _customer(admin, _class(admin))
    sub = _sub(admin, c, _plan(admin, fee="10"), JAN11)
    assert step(JAN11 - US).fees_charged == 0
    assert step(JAN11).fees_charged == 1
    step(FEB1)
    # January 11 .. 31 is 21 of January's 31 days: 10 * 21/31 = 6.774193… -> 6.77419;
    # February whole: 10.
    assert _fees(c) == [(D("6.77419"), JAN11), (D("10.00000"), FEB1)]
    assert _charges(sub) == [
        (JAN11, FEB1, D("6.77419"), ""),
        (FEB1, MAR1, D("10.00000"), ""),
    ]


def test_without_proration_a_part_costs_the_whole_fee(admin: Any) -> None:
    c = _customer(admin, _class(admin))
    _sub(
        admin,
        c,
        _plan(admin, fee="10", prorate=False),
        JAN11,
        end_at=dt.datetime(2027, 2, 3, tzinfo=UTC),
    )
    step(MAR1)
    assert _fees(c) == [(D("10.00000"), JAN11), (D("10.00000"), FEB1)]


def test_in_arrears_prorated_end_mid_period_posted_in_the_period(admin: Any) -> None:
    c = _customer(admin, _class(admin))
    end = dt.datetime(2027, 1, 20, 12, 0, tzinfo=UTC)
    sub = _sub(admin, c, _plan(admin, fee="10", in_advance=False), JAN1, end_at=end)
    assert step(end - US).fees_charged == 0  # due at the subscription's end
    assert step(end).fees_charged == 1
    # January 1 00:00 .. 20 12:00 is 19.5 of 31 days: 10 * 19.5/31 = 6.290322… -> 6.29032,
    # posted 1 µs before the end (the last instant it covers).
    assert _fees(c) == [(D("6.29032"), end - US)]
    sub.refresh_from_db()
    assert (sub.status, sub.charged_to) == ("ended", end)
    assert step(MAR1).fees_charged == 0
    assert AuditEntry.objects.filter(object_type="subscription", actor_name="engine").count() == 1


def test_in_arrears_whole_period_due_at_its_end(admin: Any) -> None:
    c = _customer(admin, _class(admin))
    _sub(admin, c, _plan(admin, fee="31", in_advance=False), JAN1)
    assert step(FEB1 - US).fees_charged == 0
    assert step(FEB1).fees_charged == 1
    assert _fees(c) == [(D("31.00000"), FEB1 - US)]


def test_weekly_customer_created_midweek_in_arrears(admin: Any) -> None:
    # Created Wednesday 2027-01-06: the first weekly period is [Wed 6, Mon 11), 5 of the
    # regular week's 7 days: 7 * 5/7 = 5.00000; then [Jan 11, Jan 18) whole: 7.00000.
    wed = dt.datetime(2027, 1, 6, tzinfo=UTC)
    c = _customer(admin, _class(admin), at=wed, billing_period=2)
    _sub(admin, c, _plan(admin, fee="7", in_advance=False), wed)
    r = step(dt.datetime(2027, 1, 18, tzinfo=UTC))
    assert r.fees_charged == 2
    assert _fees(c) == [
        (D("5.00000"), JAN11 - US),
        (D("7.00000"), dt.datetime(2027, 1, 18, tzinfo=UTC) - US),
    ]


def test_monthly_customer_created_mid_month_prorates_against_the_whole_month(admin: Any) -> None:
    # Created 2027-01-10 09:00 in Europe/Prague (08:00Z). Its first period is
    # [Jan 10 08:00Z, Jan 31 23:00Z); January in Prague lasts 31 days, so
    # covered = 21 days 15 h = 519 h of 744 h: 31 * 519/744 = 21.625 -> 21.62500.
    created = dt.datetime(2027, 1, 10, 8, 0, tzinfo=UTC)
    c = _customer(admin, _class(admin), at=created, time_zone="Europe/Prague")
    _sub(admin, c, _plan(admin, fee="31"), created)
    step(created)
    assert _fees(c) == [(D("21.62500"), created)]


def test_anniversary_customer_created_on_the_31st(admin: Any) -> None:
    # Monthly anniversary (type 5) from 2027-01-31 10:00Z: the boundary day is the 28th
    # (core.periods), so the first period is [Jan 31 10:00, Feb 28 00:00), part of the
    # regular [Jan 28, Feb 28) of 31 days = 744 h; covered 27 days 14 h = 662 h:
    # 31 * 662/744 = 27.583333… -> 27.58333. Then [Feb 28, Mar 28) whole: 31.00000.
    created = dt.datetime(2027, 1, 31, 10, 0, tzinfo=UTC)
    c = _customer(admin, _class(admin), at=created, billing_period=5)
    _sub(admin, c, _plan(admin, fee="31"), created)
    feb28 = dt.datetime(2027, 2, 28, tzinfo=UTC)
    assert step(feb28).fees_charged == 2
    assert _fees(c) == [(D("27.58333"), created), (D("31.00000"), feb28)]


# --------------------------------------------------------------------------- statuses


def test_suspended_customer_skips_unless_the_plan_charges_while_suspended(admin: Any) -> None:
    c = _customer(admin, _class(admin))
    skip = _sub(admin, c, _plan(admin, fee="10", name="Basic"), JAN1)
    pay = _sub(admin, c, _plan(admin, fee="20", name="Always", charge_while_suspended=True), JAN1)
    step(JAN1)
    lifecycle.suspend(actor=admin, now=JAN11, customer_id=c.pk, reason="manual")
    step(FEB1)
    lifecycle.unsuspend(actor=admin, now=FEB1 + dt.timedelta(days=2), customer_id=c.pk)
    step(FEB1 + dt.timedelta(days=2))
    step(MAR1)
    assert _charges(skip) == [
        (JAN1, FEB1, D("10.00000"), ""),
        (FEB1, MAR1, D("0.00000"), "suspended"),  # skipped, and not charged later
        (MAR1, dt.datetime(2027, 4, 1, tzinfo=UTC), D("10.00000"), ""),
    ]
    assert [c[2] for c in _charges(pay)] == [D("20.00000")] * 3
    c.refresh_from_db()
    assert c.balance == D("80.00000")


def test_blocked_customers_pay_by_default_cu02(admin: Any) -> None:
    c = _customer(admin, _class(admin))
    default = _sub(admin, c, _plan(admin, fee="10", name="Default"), JAN1)
    free = _sub(
        admin, c, _plan(admin, fee="20", name="Not blocked", charge_while_blocked=False), JAN1
    )
    lifecycle.set_blocked(actor=admin, now=JAN1, customer_id=c.pk, blocked=True)
    step(JAN1)
    assert _charges(default) == [(JAN1, FEB1, D("10.00000"), "")]
    assert _charges(free) == [(JAN1, FEB1, D("0.00000"), "blocked")]


@pytest.mark.parametrize("how", ["provisional", "exported"])
def test_terminated_or_exported_customers_are_never_charged(admin: Any, how: str) -> None:
    c = _customer(admin, _class(admin))
    sub = _sub(
        admin,
        c,
        _plan(admin, fee="10", charge_while_suspended=True, charge_while_blocked=True),
        JAN1,
    )
    step(JAN1)
    if how == "provisional":
        lifecycle.terminate(actor=admin, now=JAN11, customer_id=c.pk)
    else:
        lifecycle.set_exported(actor=admin, now=JAN11, customer_id=c.pk, exported=True)
    step(FEB1)
    reason = "provisionally_terminated" if how == "provisional" else "exported"
    assert _charges(sub) == [
        (JAN1, FEB1, D("10.00000"), ""),
        (FEB1, MAR1, D("0.00000"), reason),
    ]
    assert _fees(c) == [(D("10.00000"), JAN1)]


def test_permanently_terminated_customer_ends_its_subscriptions(admin: Any) -> None:
    c = _customer(admin, _class(admin))
    sub = _sub(admin, c, _plan(admin, fee="10"), JAN1)
    step(JAN1)
    lifecycle.terminate(actor=admin, now=JAN11, customer_id=c.pk, permanent=True)
    r = step(MAR1)
    assert r.fees_charged == 0
    sub.refresh_from_db()
    assert (sub.status, sub.end_at, sub.charged_to) == ("ended", JAN11, FEB1)
    assert _fees(c) == [(D("10.00000"), JAN1)]


def test_end_subscription(admin: Any) -> None:
    c = _customer(admin, _class(admin))
    sub = _sub(admin, c, _plan(admin, fee="31"), JAN1)
    step(JAN1)
    with pytest.raises(ValidationFailed) as exc:
        end_subscription(actor=admin, now=JAN11, subscription_id=sub.pk, end_at=JAN1)
    assert exc.value.field == "end_at"
    # Ending inside the period already charged in advance: ended at once, nothing refunded.
    sub = end_subscription(actor=admin, now=JAN11, subscription_id=sub.pk, end_at=JAN11)
    assert (sub.status, sub.end_at) == ("ended", JAN11)
    with pytest.raises(ValidationFailed) as exc:
        end_subscription(actor=admin, now=JAN11, subscription_id=sub.pk, end_at=FEB1)
    assert (exc.value.field, exc.value.code) == ("end_at", "ended")
    assert step(MAR1).fees_charged == 0
    # A later end is charged up to it by the engine.
    other = _sub(admin, c, _plan(admin, fee="31", name="Other", in_advance=False), JAN11)
    end_subscription(
        actor=admin, now=JAN11, subscription_id=other.pk, end_at="2027-01-21T00:00:00Z"
    )
    step(MAR1)
    other.refresh_from_db()
    assert other.status == "ended"
    # January 11 .. 21 is 10 of 31 days: 31 * 10/31 = 10.00000
    assert _charges(other) == [(JAN11, dt.datetime(2027, 1, 21, tzinfo=UTC), D("10.00000"), "")]


# --------------------------------------------------------------------------- CC-19


def _prepaid(admin: Any, cc19: bool, funds: str) -> Customer:
    cls = _class(admin, name="Prepaid USD", suspend_on_insufficient_funds=cc19)
    return _customer(admin, cls, balance_control="prepaid", available_funds=funds)


def test_cc19_on_suspends_then_charges_once_when_funds_arrive(admin: Any) -> None:
    c = _prepaid(admin, True, "25")
    sub = _sub(admin, c, _plan(admin, fee="20"), JAN1)
    assert step(JAN1).fees_charged == 1  # 25 covers 20; 5 left
    r = step(FEB1)  # 5 cannot cover 20
    assert (r.fees_charged, r.status_changes) == (0, 1)
    c.refresh_from_db()
    sub.refresh_from_db()
    assert (c.status, c.suspension_reason, c.available_funds) == (
        "suspended",
        "insufficient_funds",
        D("5.00000"),
    )
    assert (sub.status, sub.charged_to) == ("waiting_for_funds", FEB1)
    # again, and later: still waiting, nothing charged, no second suspension
    assert (step(FEB1).fees_charged, step(FEB1).status_changes) == (0, 0)
    record_transaction(
        actor=admin,
        now=FEB1 + dt.timedelta(days=2),
        customer_id=c.pk,
        action="manual_payment",
        amount="10",
    )
    assert step(FEB1 + dt.timedelta(days=2, hours=1)).fees_charged == 0  # 15 < 20
    c.refresh_from_db()
    assert (c.status, c.available_funds) == ("suspended", D("15.00000"))
    paid = FEB1 + dt.timedelta(days=3)
    record_transaction(
        actor=admin, now=paid, customer_id=c.pk, action="manual_payment", amount="10"
    )
    # issue 10 §4: in the payment's own transaction, not at the next engine run
    c.refresh_from_db()
    sub.refresh_from_db()
    assert (c.status, c.suspension_reason, c.available_funds) == ("open", "", D("5.00000"))
    assert (sub.status, sub.charged_to) == ("active", MAR1)
    r = step(paid + dt.timedelta(hours=1))
    assert (r.fees_charged, r.status_changes) == (0, 0)
    # the waiting fee is posted when it is charged: with the payment
    assert _fees(c) == [(D("20.00000"), JAN1), (D("20.00000"), paid)]
    assert (step(paid + dt.timedelta(hours=1)).fees_charged, step(MAR1 - US).fees_charged) == (0, 0)
    assert c.balance == ledger_sum(customer_id=c.pk)
    history = [
        (h.from_status, h.to_status, h.actor_name)
        for h in lifecycle.status_history(actor=admin, customer_id=c.pk)
    ]
    assert history[:2] == [("suspended", "open", "engine"), ("open", "suspended", "engine")]


def test_cc19_reserved_funds_do_not_count(admin: Any) -> None:
    c = _prepaid(admin, True, "20")
    Customer.objects.filter(pk=c.pk).update(reserved=D("0.00001"))
    _sub(admin, c, _plan(admin, fee="20"), JAN1)
    r = step(JAN1)  # available 20 - 0.00001 < 20
    assert (r.fees_charged, r.status_changes) == (0, 1)


def test_cc19_off_charges_and_funds_go_negative(admin: Any) -> None:
    c = _prepaid(admin, False, "5")
    sub = _sub(admin, c, _plan(admin, fee="20"), JAN1)
    r = step(JAN1)
    assert (r.fees_charged, r.status_changes) == (1, 0)
    c.refresh_from_db()
    sub.refresh_from_db()
    assert (c.status, c.available_funds, sub.status) == ("open", D("-15.00000"), "active")


def test_cc19_suspension_lifts_when_the_waiting_subscription_is_ended(admin: Any) -> None:
    c = _prepaid(admin, True, "0")
    sub = _sub(admin, c, _plan(admin, fee="20"), JAN11)
    assert step(JAN11).status_changes == 1
    end_subscription(actor=admin, now=JAN11, subscription_id=sub.pk, end_at=JAN11 + US)
    # 1 µs of a 31-day month: 20 * 1/2678400000000 -> 0.00000: nothing to post
    r = step(JAN11 + dt.timedelta(hours=1))
    assert (r.fees_charged, r.status_changes) == (0, 1)
    c.refresh_from_db()
    sub.refresh_from_db()
    assert (c.status, sub.status) == ("open", "ended")
    assert _charges(sub) == [(JAN11, JAN11 + US, D("0.00000"), "")]
    assert _fees(c) == []


def test_cc19_is_for_prepaid_customers_only(admin: Any) -> None:
    cls = _class(admin, suspend_on_insufficient_funds=True)
    c = _customer(admin, cls, credit_limit="1")
    _sub(admin, c, _plan(admin, fee="20"), JAN1)
    r = step(JAN1)
    assert (r.fees_charged, r.status_changes) == (1, 0)


def test_an_error_rolls_back_that_customer_only(admin: Any) -> None:
    cls = _class(admin)
    bad = _customer(admin, cls, name="Bad")
    good = _customer(admin, cls, name="Good")
    plan = _plan(admin, fee="10")
    _sub(admin, bad, plan, JAN1)
    _sub(admin, good, plan, JAN1)
    Customer.objects.filter(pk=bad.pk).update(time_zone="Mars/Olympus")
    report = Report()
    charge_step(now=JAN1, report=report)
    assert report.fees_charged == 1
    assert [cid for cid, _ in report.errors] == [bad.pk]
    assert "Mars/Olympus" in report.errors[0][1]
    assert _fees(bad) == [] and _fees(good) == [(D("10.00000"), JAN1)]


def test_a_database_error_rolls_back_that_customer_only(admin: Any, monkeypatch: Any) -> None:
    from django.db import IntegrityError

    from billcore.subscriptions import engine

    cls = _class(admin)
    bad = _customer(admin, cls, name="Bad")
    good = _customer(admin, cls, name="Good")
    plan = _plan(admin, fee="10")
    bad_sub = _sub(admin, bad, plan, JAN1)
    _sub(admin, good, plan, JAN1)
    real = SubscriptionCharge.objects.create

    def create(**kw: Any) -> Any:
        if kw["subscription"].pk == bad_sub.pk:
            raise IntegrityError("boom")
        return real(**kw)

    monkeypatch.setattr(SubscriptionCharge.objects, "create", create)
    report = Report()
    engine.charge_step(now=JAN1, report=report)
    assert (report.fees_charged, report.errors) == (1, [(bad.pk, "boom")])
    # the bad customer's ledger row was rolled back with its transaction
    assert _fees(bad) == [] and _fees(good) == [(D("10.00000"), JAN1)]
    bad.refresh_from_db()
    assert bad.balance == D("0.00000")


# --------------------------------------------------------------------------- invoices


def _run(now: dt.datetime) -> None:
    """The engine's subscriptions and close steps, in its order."""
    if "subscriptions" in invoicing_engine.STEPS:
        report = invoicing_engine.run(now=now, steps=["subscriptions", "close"])
        assert report.errors == []
    else:
        step(now)
        assert invoicing_engine.run(now=now, steps=["close"]).errors == []


def _use(admin: Any, customer: Customer, amount: str, at: dt.datetime) -> None:
    usage = parse_usage(service="voice", amount=amount, quantity="1", started_at=at, now=at)
    assert charge(actor=admin, now=at, customer_id=customer.pk, usage=usage).allowed


def test_regular_invoice_has_a_subscription_fees_line(admin: Any) -> None:
    c = _customer(admin, _class(admin))
    _sub(admin, c, _plan(admin, fee="5", name="Advance"), JAN1)
    _sub(admin, c, _plan(admin, fee="10", name="Arrears", in_advance=False), JAN11)
    for at in (JAN1, JAN11, dt.datetime(2027, 1, 20, tzinfo=UTC)):
        _run(at)
    _run(FEB1)
    inv = Invoice.objects.get(customer=c)
    # January: advance 5.00000 (posted Jan 1) + arrears 10 * 21/31 = 6.77419 (posted
    # Feb 1 - 1 µs) = 11.77419; February's advance fee (posted Feb 1) is February's.
    lines = [(x.kind, x.description, x.amount) for x in InvoiceLine.objects.filter(invoice=inv)]
    assert lines == [
        ("subscription", "Subscription fees", D("11.77419")),
        ("rounding", "Invoice rounding", D("0.00581")),
    ]
    assert (inv.kind, inv.total, inv.period_start, inv.period_end) == (
        "regular",
        D("11.78000"),
        JAN1,
        FEB1,
    )
    c.refresh_from_db()
    # 11.78 invoiced + February's advance fee 5
    assert c.balance == D("16.78000") == ledger_sum(customer_id=c.pk)


def test_separate_recurring_fee_invoice_cc14(admin: Any) -> None:
    cls = _class(admin, auto_charge_invoices=True, separate_recurring_fee_invoice=True)
    c = _customer(admin, cls)
    _sub(admin, c, _plan(admin, fee="10", in_advance=False), JAN11)
    _use(admin, c, "3.5", JAN11)
    _run(FEB1)
    invoices = list(Invoice.objects.filter(customer=c).order_by("id"))
    assert [(i.kind, i.total) for i in invoices] == [
        ("recurring", D("6.78000")),  # 10 * 21/31 = 6.77419 -> 6.78
        ("regular", D("3.50000")),
    ]
    assert [(x.kind, x.amount) for x in InvoiceLine.objects.filter(invoice=invoices[0])] == [
        ("subscription", D("6.77419")),
        ("rounding", D("0.00581")),
    ]
    assert [(x.kind, x.amount) for x in InvoiceLine.objects.filter(invoice=invoices[1])] == [
        ("usage", D("3.50000"))
    ]
