"""Real-time charging (issue 3): charge, authorise, reserve/commit/release, expiry, transfers,
fraud protection, on SQLite and PostgreSQL."""

import datetime as dt
from decimal import Decimal

import pytest

from billcore.charging.models import FraudAlert, Reservation, Xdr
from billcore.charging.services import (
    authorize,
    charge,
    commit_reservation,
    expire_reservations,
    parse_usage,
    release_reservation,
    reserve,
)
from billcore.classes.models import CustomerClass
from billcore.classes.services import create_class, update_class
from billcore.customers.models import Customer
from billcore.errors import Conflict, NotFound, ValidationFailed
from billcore.invoicing.settling import record_transaction
from billcore.ledger.customers import create_customer
from billcore.ledger.models import Transaction
from billcore.ledger.transfers import transfer
from billcore.subscribers.models import Account
from billcore.subscribers.services import create_account, update_account
from tests.support import ledger_sum


def _customer(admin, now, control="prepaid", name="Caller", cls=None, **extra):
    data = {
        "name": name,
        "currency": "USD",
        "balance_control": control,
        "customer_class": cls or CustomerClass.objects.get(is_default=True).pk,
    }
    if control == "prepaid":
        data["available_funds"] = "10"
    data.update(extra)
    return create_customer(actor=admin, now=now, data=data)


def _usage(now, amount, key=None, service="voice"):
    return parse_usage(
        service=service,
        amount=amount,
        quantity="60",
        unit="s",
        details={"cli": "+420111", "cld": "+420222"},
        external_id=key,
        now=now,
    )


def test_prepaid_charges_until_funds_run_out(admin, now):
    c = _customer(admin, now)
    first = charge(actor=admin, now=now, customer_id=c.pk, usage=_usage(now, "9.99999", "x1"))
    assert (first.allowed, first.balance, first.available_funds) == (
        True,
        Decimal("-0.00001"),
        Decimal("0.00001"),
    )
    denied = charge(actor=admin, now=now, customer_id=c.pk, usage=_usage(now, "0.00002", "x2"))
    assert (denied.allowed, denied.reason, denied.available_funds) == (
        False,
        "insufficient_funds",
        Decimal("0.00001"),
    )
    assert denied.message == "the customer's available funds do not cover the amount"
    kept = Xdr.objects.get(pk=denied.xdr_id)
    assert (kept.status, kept.deny_reason, kept.transaction_id) == (
        "denied",
        "insufficient_funds",
        None,
    )
    ok = Xdr.objects.get(pk=first.xdr_id)
    assert (ok.status, ok.details["cld"], ok.quantity, ok.transaction.amount) == (
        "charged",
        "+420222",
        Decimal("60.00000"),
        Decimal("9.99999"),
    )
    assert ledger_sum(customer_id=c.pk) == Decimal("-0.00001")


def test_same_external_id_charges_once(admin, now):
    c = _customer(admin, now)
    a = charge(actor=admin, now=now, customer_id=c.pk, usage=_usage(now, "1", "cdr-1"))
    b = charge(actor=admin, now=now, customer_id=c.pk, usage=_usage(now, "1", "cdr-1"))
    assert (b.xdr_id, b.replayed, b.balance) == (a.xdr_id, True, Decimal("-9.00000"))
    assert Xdr.objects.filter(customer=c).count() == 1
    with pytest.raises(Conflict):
        charge(actor=admin, now=now, customer_id=c.pk, usage=_usage(now, "2", "cdr-1"))


def test_a_twin_that_wins_the_race_is_replayed(admin, now, monkeypatch):
    """The first look finds no earlier record (a concurrent twin commits just after it): the
    unique external_id refuses the second insert and the twin's result is replayed."""
    from billcore.charging import services

    c = _customer(admin, now)
    first = charge(actor=admin, now=now, customer_id=c.pk, usage=_usage(now, "1", "twin"))
    real = services._target_seen

    def unseen(*args):
        cid, aid, owner, _ = real(*args)
        return cid, aid, owner, False

    monkeypatch.setattr(services, "_target_seen", unseen)
    again = charge(actor=admin, now=now, customer_id=c.pk, usage=_usage(now, "1", "twin"))
    assert (again.replayed, again.xdr_id, again.balance) == (True, first.xdr_id, Decimal("-9"))
    with pytest.raises(Conflict):
        charge(actor=admin, now=now, customer_id=c.pk, usage=_usage(now, "2", "twin"))
    assert Xdr.objects.count() == 1
    assert ledger_sum(customer_id=c.pk) == Decimal("-9")


def test_postpaid_credit_limit_and_temporary_increase(admin, now):
    c = _customer(admin, now, "postpaid", credit_limit="5")
    assert charge(actor=admin, now=now, customer_id=c.pk, usage=_usage(now, "5")).allowed
    r = charge(actor=admin, now=now, customer_id=c.pk, usage=_usage(now, "0.01"))
    assert (r.allowed, r.reason, r.available_funds) == (
        False,
        "credit_limit_exceeded",
        Decimal("0.00000"),
    )
    Customer.objects.filter(pk=c.pk).update(
        temp_credit_limit=Decimal("8"), credit_limit_until=now + dt.timedelta(days=1)
    )
    assert charge(actor=admin, now=now, customer_id=c.pk, usage=_usage(now, "3")).allowed
    later = now + dt.timedelta(days=1)
    after = authorize(actor=admin, now=later, customer_id=c.pk, amount="0.01")
    assert (after.allowed, after.reason, after.balance) == (
        False,
        "credit_limit_exceeded",
        Decimal("8.00000"),
    )


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("blocked", True, "customer_blocked"),
        ("status", "suspended", "customer_suspended"),
        ("status", "provisionally_terminated", "customer_terminated"),
        ("status", "closed", "customer_closed"),
        ("status", "exported", "customer_exported"),
    ],
)
def test_status_denies(admin, now, field, value, reason):
    c = _customer(admin, now)
    Customer.objects.filter(pk=c.pk).update(**{field: value})
    r = charge(actor=admin, now=now, customer_id=c.pk, usage=_usage(now, "1"))
    assert (r.allowed, r.reason) == (False, reason)
    c.refresh_from_db()
    assert c.balance == Decimal("-10.00000")


def test_reservations_hold_funds(admin, now):
    c = _customer(admin, now)
    r1 = reserve(
        actor=admin, now=now, customer_id=c.pk, service="voice", amount="6", external_id="s1"
    )
    assert (r1.allowed, r1.status, r1.available_funds) == (True, "open", Decimal("4.00000"))
    r2 = reserve(actor=admin, now=now, customer_id=c.pk, service="voice", amount="5")
    assert (r2.allowed, r2.reason) == (False, "insufficient_funds")
    assert not charge(actor=admin, now=now, customer_id=c.pk, usage=_usage(now, "4.5")).allowed
    done = commit_reservation(
        actor=admin, now=now, reservation_id=r1.reservation_id, amount="2.5", external_id="s1-cdr"
    )
    assert (done.status, done.balance, done.available_funds) == (
        "committed",
        Decimal("-7.50000"),
        Decimal("7.50000"),
    )
    again = commit_reservation(
        actor=admin, now=now, reservation_id=r1.reservation_id, amount="2.5", external_id="s1-cdr"
    )
    assert (again.replayed, again.xdr_id) == (True, done.xdr_id)
    with pytest.raises(ValidationFailed):
        release_reservation(actor=admin, now=now, reservation_id=r1.reservation_id)
    r3 = reserve(actor=admin, now=now, customer_id=c.pk, service="data", amount="7.5")
    with pytest.raises(ValidationFailed) as info:
        commit_reservation(actor=admin, now=now, reservation_id=r3.reservation_id, amount="8")
    assert info.value.code == "exceeds_reservation"
    rel = release_reservation(actor=admin, now=now, reservation_id=r3.reservation_id)
    assert (rel.status, rel.available_funds) == ("released", Decimal("7.50000"))
    c.refresh_from_db()
    assert (c.balance, c.reserved) == (Decimal("-7.50000"), Decimal("0.00000"))
    assert ledger_sum(customer_id=c.pk) == Decimal("-7.50000")


def test_reservation_expires(admin, now):
    c = _customer(admin, now)
    r = reserve(actor=admin, now=now, customer_id=c.pk, service="voice", amount="10", seconds=60)
    assert not authorize(actor=admin, now=now, customer_id=c.pk, amount="1").allowed
    later = now + dt.timedelta(seconds=61)
    # A charge that needs the expired hold frees it at once.
    assert charge(actor=admin, now=later, customer_id=c.pk, usage=_usage(later, "1")).allowed
    assert Reservation.objects.get(pk=r.reservation_id).status == "expired"
    r2 = reserve(actor=admin, now=later, customer_id=c.pk, service="voice", amount="2", seconds=10)
    assert expire_reservations(now=later + dt.timedelta(seconds=11)) == 1
    assert Reservation.objects.get(pk=r2.reservation_id).status == "expired"
    c.refresh_from_db()
    assert (c.reserved, c.balance) == (Decimal("0.00000"), Decimal("-9.00000"))
    with pytest.raises(ValidationFailed) as info:
        commit_reservation(actor=admin, now=later, reservation_id=r2.reservation_id, amount="1")
    assert info.value.code == "reservation_expired"


def test_accounts_limits_and_transfers(admin, now):
    cls = create_class(actor=admin, now=now, data={"name": "S2S", "s2s_transfers_allowed": True})
    c = _customer(admin, now, cls=cls.pk, available_funds="100")
    debit = create_account(
        actor=admin,
        now=now,
        customer_id=c.pk,
        data={"identifier": "+420600000001", "account_type": "debit"},
    )
    credit = create_account(
        actor=admin,
        now=now,
        customer_id=c.pk,
        data={"identifier": "+420600000002", "credit_limit": "3"},
    )
    plain = create_account(
        actor=admin, now=now, customer_id=c.pk, data={"identifier": "+420600000003"}
    )
    # The debit account has no funds of its own yet.
    r = charge(actor=admin, now=now, account_id=debit.pk, usage=_usage(now, "1"))
    assert (r.allowed, r.reason) == (False, "account_insufficient_funds")
    record_transaction(
        actor=admin,
        now=now,
        customer_id=c.pk,
        action="Manual payment",
        amount="20",
        account_id=debit.pk,
    )
    assert charge(actor=admin, now=now, account_id=debit.pk, usage=_usage(now, "1")).allowed
    assert charge(actor=admin, now=now, account_id=credit.pk, usage=_usage(now, "3")).allowed
    assert (
        charge(actor=admin, now=now, account_id=credit.pk, usage=_usage(now, "0.1")).reason
        == "account_limit_exceeded"
    )
    # Transfers: debit -> credit-with-limit works; a plain credit account cannot take part.
    transfer(actor=admin, now=now, from_account_id=debit.pk, to_account_id=credit.pk, amount="2")
    debit.refresh_from_db()
    credit.refresh_from_db()
    assert (debit.balance, credit.balance) == (Decimal("-17.00000"), Decimal("1.00000"))
    with pytest.raises(ValidationFailed) as info:
        transfer(actor=admin, now=now, from_account_id=debit.pk, to_account_id=plain.pk, amount="1")
    assert info.value.field == "to_account"
    with pytest.raises(ValidationFailed) as info:
        transfer(
            actor=admin,
            now=now,
            from_account_id=debit.pk,
            to_account_id=credit.pk,
            amount="17.00001",
        )
    assert info.value.code == "insufficient_funds"
    update_account(actor=admin, now=now, account_id=plain.pk, changes={"blocked": True})
    assert (
        charge(actor=admin, now=now, account_id=plain.pk, usage=_usage(now, "1")).reason
        == "account_blocked"
    )
    c.refresh_from_db()
    # Customer: 100 opening, +20 payment, -1 -3 usage: 116 available; transfers moved nothing.
    assert c.available_funds == Decimal("116.00000")
    assert ledger_sum(customer_id=c.pk) == c.balance
    for acc in (debit, credit):
        total = sum(
            Transaction.objects.filter(account=acc).values_list("account_amount", flat=True)
        )
        acc.refresh_from_db()
        assert total == acc.balance


def test_transfers_need_the_class_option(admin, now):
    c = _customer(admin, now)
    a = create_account(
        actor=admin, now=now, customer_id=c.pk, data={"identifier": "a", "account_type": "debit"}
    )
    b = create_account(
        actor=admin, now=now, customer_id=c.pk, data={"identifier": "b", "account_type": "debit"}
    )
    with pytest.raises(ValidationFailed) as info:
        transfer(actor=admin, now=now, from_account_id=a.pk, to_account_id=b.pk, amount="1")
    assert info.value.code == "not_allowed"


def test_fraud_daily_limit_blocks_until_next_local_day(admin, now):
    cls = create_class(
        actor=admin,
        now=now,
        data={
            "name": "Guarded",
            "currency": "USD",
            "fraud_daily_limit": "5",
            "fraud_action": "block",
        },
    )
    c = _customer(admin, now, cls=cls.pk, available_funds="100", time_zone="America/New_York")
    assert charge(actor=admin, now=now, customer_id=c.pk, usage=_usage(now, "4")).allowed
    r = charge(actor=admin, now=now, customer_id=c.pk, usage=_usage(now, "1.5"))
    assert (r.allowed, r.reason) == (False, "fraud_daily_limit")
    # now is 12:00 UTC = 07:00 in New York; the local day ends at 05:00 UTC next day.
    still_today = dt.datetime(2026, 11, 2, 4, 59, tzinfo=dt.UTC)
    assert not charge(
        actor=admin, now=still_today, customer_id=c.pk, usage=_usage(still_today, "1.5")
    ).allowed
    next_day = dt.datetime(2026, 11, 2, 5, 1, tzinfo=dt.UTC)
    assert charge(
        actor=admin, now=next_day, customer_id=c.pk, usage=_usage(next_day, "1.5")
    ).allowed
    update_class(actor=admin, now=now, class_id=cls.pk, changes={"fraud_action": "notify"})
    notified = charge(actor=admin, now=next_day, customer_id=c.pk, usage=_usage(next_day, "4"))
    assert notified.allowed
    tx = Xdr.objects.get(pk=notified.xdr_id).transaction
    assert tx.internal_comment == "fraud protection: daily limit passed (notify)"
    charge(actor=admin, now=next_day, customer_id=c.pk, usage=_usage(next_day, "1"))
    (alert,) = FraudAlert.objects.filter(customer=c)
    assert (alert.day, alert.daily_limit, alert.spent) == (
        dt.date(2026, 11, 2),
        Decimal("5.00000"),
        Decimal("5.50000"),
    )


def test_reseller_cannot_charge_foreign_customers(world, now):
    c = create_customer(
        actor=world["ub"],
        now=now,
        data={
            "name": "B sub",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": world["classes"]["b"].pk,
        },
    )
    with pytest.raises(NotFound):
        charge(actor=world["ua"], now=now, customer_id=c.pk, usage=_usage(now, "1"))
    with pytest.raises(NotFound):
        reserve(actor=world["ua"], now=now, customer_id=c.pk, service="voice", amount="1")
    assert Xdr.objects.count() == 0
    assert Account.objects.count() == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"service": "fax", "amount": "1"}, "service"),
        ({"service": "voice", "amount": "-1"}, "amount"),
        ({"service": "voice", "amount": "1.000001"}, "amount"),
        ({"service": "voice", "amount": "1", "started_at": "yesterday"}, "started_at"),
        ({"service": "voice", "amount": "1", "started_at": "2026-11-01T10:00:00"}, "started_at"),
        ({"service": "voice", "amount": "1", "details": [1]}, "details"),
    ],
)
@pytest.mark.django_db  # an unknown service code is looked up in the catalogue (issue 12)
def test_bad_usage(now, kwargs, field):
    with pytest.raises(ValidationFailed) as info:
        parse_usage(now=now, **kwargs)
    assert info.value.field == field
