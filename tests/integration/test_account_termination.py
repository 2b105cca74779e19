"""Accounts as the PortaBilling facade drives them (issue 18), through the services on
SQLite and PostgreSQL: subscriptions taken for an account, terminating an account (its
subscriptions end, it stays blocked and unchangeable), its custom fields."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from typing import Any

import pytest

from billcore.charging.services import charge, parse_usage
from billcore.errors import ValidationFailed
from billcore.installation.services import create_custom_field
from billcore.ledger.customers import create_customer
from billcore.ledger.models import Action, Transaction
from billcore.subscribers.models import Account
from billcore.subscribers.services import create_account, update_account
from billcore.subscriptions.engine import charge_step
from billcore.subscriptions.models import Subscription, SubscriptionStatus
from billcore.subscriptions.services import create_plan, subscribe, terminate_account

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)


class Report:
    def __init__(self) -> None:
        self.fees_charged = 0
        self.status_changes = 0
        self.errors: list[tuple[int, str]] = []


def _customer(admin: Any, name: str) -> Any:
    return create_customer(
        actor=admin,
        now=T0,
        data={
            "name": name,
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": _class(admin).pk,
        },
    )


def _class(admin: Any) -> Any:
    from billcore.classes.models import CustomerClass
    from billcore.classes.services import create_class

    found = CustomerClass.objects.filter(name="Lines USD").first()
    return found or create_class(actor=admin, now=T0, data={"name": "Lines USD", "currency": "USD"})


def test_a_subscription_is_taken_only_for_the_customers_own_open_account(admin: Any) -> None:
    c1, c2 = _customer(admin, "One"), _customer(admin, "Two")
    plan = create_plan(actor=admin, now=T0, data={"name": "Line", "currency": "USD", "fee": "31"})
    mine = create_account(actor=admin, now=T0, customer_id=c1.pk, data={"identifier": "+1"})
    theirs = create_account(actor=admin, now=T0, customer_id=c2.pk, data={"identifier": "+2"})
    sub = subscribe(
        actor=admin,
        now=T0,
        customer_id=c1.pk,
        data={"plan": plan.pk, "start_at": T0, "account": mine.pk},
    )
    assert (sub.customer_id, sub.account_id) == (c1.pk, mine.pk)
    with pytest.raises(ValidationFailed) as exc:
        subscribe(
            actor=admin,
            now=T0,
            customer_id=c1.pk,
            data={"plan": plan.pk, "start_at": T0, "account": theirs.pk},
        )
    assert (exc.value.field, exc.value.code, exc.value.message) == (
        "account",
        "not_found",
        f"account: the customer has no account {theirs.pk}",
    )
    terminate_account(actor=admin, now=T0 + dt.timedelta(days=1), account_id=mine.pk)
    with pytest.raises(ValidationFailed) as exc:
        subscribe(
            actor=admin,
            now=T0,
            customer_id=c1.pk,
            data={"plan": plan.pk, "start_at": T0, "account": mine.pk},
        )
    assert (exc.value.code, exc.value.message) == ("terminated", "account: '+1' is terminated")
    assert Subscription.objects.filter(account=theirs).count() == 0


def test_terminating_an_account_ends_its_subscriptions_and_keeps_what_was_charged(
    admin: Any,
) -> None:
    """A monthly in-advance fee of 31 charged for January; the account terminated on
    January 11: the subscription ends then (nothing refunded), a later one never starts, the
    customer's own subscription goes on, and the engine charges the account's no more."""
    c = _customer(admin, "Lines")
    plan = create_plan(actor=admin, now=T0, data={"name": "Line", "currency": "USD", "fee": "31"})
    acc = create_account(actor=admin, now=T0, customer_id=c.pk, data={"identifier": "+1"})
    running = subscribe(
        actor=admin,
        now=T0,
        customer_id=c.pk,
        data={"plan": plan.pk, "start_at": T0, "account": acc.pk},
    )
    later = subscribe(
        actor=admin,
        now=T0,
        customer_id=c.pk,
        data={"plan": plan.pk, "start_at": T0 + dt.timedelta(days=40), "account": acc.pk},
    )
    own = subscribe(actor=admin, now=T0, customer_id=c.pk, data={"plan": plan.pk, "start_at": T0})
    charge_step(now=T0 + dt.timedelta(hours=1), report=Report())
    fees = Transaction.objects.filter(customer=c, action=Action.SUBSCRIPTION)
    assert sorted(t.amount for t in fees) == [D("31"), D("31")]
    jan11 = T0 + dt.timedelta(days=10)
    terminated = terminate_account(actor=admin, now=jan11, account_id=acc.pk)
    assert (terminated.blocked, terminated.terminated_at) == (True, jan11)
    rows = {s.pk: (s.end_at, s.status) for s in Subscription.objects.all()}
    assert rows == {
        running.pk: (jan11, SubscriptionStatus.ENDED),  # charged to Feb 1: ended at once
        later.pk: (T0 + dt.timedelta(days=40), SubscriptionStatus.ENDED),
        own.pk: (None, SubscriptionStatus.ACTIVE),
    }
    report = Report()
    charge_step(now=T0 + dt.timedelta(days=31, hours=1), report=report)
    assert report.fees_charged == 1  # the customer's own subscription only
    assert fees.all().count() == 3  # a fresh query: the first one is cached
    with pytest.raises(ValidationFailed) as exc:
        terminate_account(actor=admin, now=jan11, account_id=acc.pk)
    assert (exc.value.field, exc.value.code) == ("id", "terminated")
    with pytest.raises(ValidationFailed):
        update_account(actor=admin, now=jan11, account_id=acc.pk, changes={"blocked": False})
    usage = parse_usage(service="voice", amount="1", now=jan11)
    result = charge(actor=admin, now=jan11, account_id=acc.pk, usage=usage)
    assert (result.allowed, result.reason) == (False, "account_blocked")


def test_account_custom_fields_follow_the_field_types(admin: Any) -> None:
    create_custom_field(actor=admin, now=T0, name="seats", label="Seats", field_type="number")
    c = _customer(admin, "Fields")
    acc = create_account(actor=admin, now=T0, customer_id=c.pk, data={"identifier": "+1"})
    update_account(
        actor=admin, now=T0, account_id=acc.pk, changes={"custom_fields": {"seats": "12"}}
    )
    assert Account.objects.get(pk=acc.pk).custom_fields == {"seats": "12"}
    for values, field, message in (
        ({"seats": "many"}, "custom_fields.seats", "custom_fields.seats must be a number"),
        ({"nope": "1"}, "custom_fields.nope", "custom_fields.nope: no custom field with this name"),
    ):
        with pytest.raises(ValidationFailed) as exc:
            update_account(
                actor=admin, now=T0, account_id=acc.pk, changes={"custom_fields": values}
            )
        assert (exc.value.field, exc.value.message) == (field, message)
    update_account(actor=admin, now=T0, account_id=acc.pk, changes={"custom_fields": {"seats": ""}})
    assert Account.objects.get(pk=acc.pk).custom_fields == {}
