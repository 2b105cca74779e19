"""Re-rating the open period (issue 12 §2): after a rate correction, a customer's (or a
tariff's) usage of the open period is priced again; each difference is its own ledger row
(``rerating``, linked to the usage row it corrects); usage denied for want of a rate is
charged once it has one; a period awaiting approval counts as open (the correction lands on
its invoice); closed periods are never touched; a second run changes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from billcore.charging.models import Xdr
from billcore.charging.rerating import rerate
from billcore.charging.services import charge, parse_usage
from billcore.classes.services import create_class
from billcore.engine import run
from billcore.errors import NotFound, ValidationFailed
from billcore.invoicing.closing import approve_period
from billcore.invoicing.models import ClosedPeriod, Invoice
from billcore.ledger.customers import create_customer
from billcore.ledger.models import Transaction
from billcore.rating import services
from billcore.rating.rates import update_rate
from billcore.subscribers.services import create_account
from tests.support import ledger_sum

T0 = dt.datetime(2027, 1, 10, 9, 0, tzinfo=dt.UTC)
pytestmark = pytest.mark.django_db


def _world(world: dict[str, Any], *, approval: bool = False) -> dict[str, Any]:
    admin = world["admin"]
    retail = services.create_tariff(
        actor=admin, now=T0, data={"name": "Retail", "currency": "USD", "service": "voice"}
    )
    uk = services.create_rate(
        actor=admin,
        now=T0,
        tariff_id=retail.pk,
        data={"prefix": "44", "price_first": "0.10", "price_next": "0.10", "effective_from": T0},
    )
    product = services.create_product(actor=admin, now=T0, data={"name": "Home", "currency": "USD"})
    services.create_entry(
        actor=admin, now=T0, product_id=product.pk, data={"service": "voice", "tariff": retail.pk}
    )
    data: dict[str, Any] = {"name": "Approval", "currency": "USD"}
    if approval:
        data |= {"period_close": "approval", "approval_max_days": 5}
    cls = create_class(actor=admin, now=T0, data=data)
    acme = create_customer(
        actor=admin,
        now=T0,
        data={
            "name": "Acme",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": cls.pk,
            "billing_period": 4,
        },
    )
    account = create_account(actor=admin, now=T0, customer_id=acme.pk, data={"identifier": "a1"})
    services.set_account_products(
        actor=admin, now=T0, account_id=account.pk, product=product.pk, addons=[]
    )
    return {"admin": admin, "retail": retail, "uk": uk, "acme": acme, "account": account}


def _call(w: dict[str, Any], at: dt.datetime, cld: str, seconds: int) -> Any:
    usage = parse_usage(service="voice", cld=cld, quantity=str(seconds), started_at=at, now=at)
    return charge(actor=w["admin"], now=at, account_id=w["account"].pk, usage=usage)


def _balance(w: dict[str, Any]) -> Decimal:
    w["acme"].refresh_from_db()
    return w["acme"].balance


def test_a_rate_correction_is_posted_as_differences_and_denied_usage_is_charged(
    world: dict[str, Any],
) -> None:
    w = _world(world)
    admin = w["admin"]
    first = _call(w, T0 + dt.timedelta(days=1), "4420123", 60)
    second = _call(w, T0 + dt.timedelta(days=2), "4420123", 90)
    missing = _call(w, T0 + dt.timedelta(days=3), "33142", 60)
    assert (first.amount, second.amount, missing.allowed) == (
        Decimal("0.10000"),
        Decimal("0.15000"),
        False,
    )
    assert _balance(w) == Decimal("0.25")

    at = T0 + dt.timedelta(days=4)
    update_rate(
        actor=admin,
        now=at,
        rate_id=w["uk"].pk,
        changes={"price_first": "0.12", "price_next": "0.12"},
    )
    services.create_rate(
        actor=admin,
        now=at,
        tariff_id=w["retail"].pk,
        data={"prefix": "33", "price_first": "0.20", "price_next": "0.20", "effective_from": T0},
    )
    summary = rerate(actor=admin, now=at, customer_id=w["acme"].pk)
    assert (summary.examined, summary.changed, summary.charged, summary.reversed) == (3, 2, 1, 0)
    assert summary.moved == {w["acme"].pk: Decimal("0.25")}
    # 60 s and 90 s at 0.12 a minute: 0.12 and 0.18 (+0.02, +0.03); the 33 call: 0.20.
    amounts = dict(Xdr.objects.filter(customer=w["acme"]).values_list("pk", "amount"))
    assert amounts == {
        first.xdr_id: Decimal("0.12000"),
        second.xdr_id: Decimal("0.18000"),
        missing.xdr_id: Decimal("0.20000"),
    }
    rows = list(
        Transaction.objects.filter(customer=w["acme"])
        .order_by("id")
        .values_list("action", "amount", "reference_id", "account_id")
    )
    usage_ids = [x.transaction_id for x in Xdr.objects.order_by("id")[:2]]
    aid = w["account"].pk
    assert rows == [
        ("usage", Decimal("0.10000"), None, aid),
        ("usage", Decimal("0.15000"), None, aid),
        ("rerating", Decimal("0.02000"), usage_ids[0], aid),
        ("rerating", Decimal("0.03000"), usage_ids[1], aid),
        ("usage", Decimal("0.20000"), None, aid),
    ]
    assert _balance(w) == Decimal("0.50") == ledger_sum(customer_id=w["acme"].pk)
    w["account"].refresh_from_db()
    assert w["account"].balance == Decimal("0.50")
    assert Xdr.objects.get(pk=missing.xdr_id).status == "charged"

    again = rerate(actor=admin, now=at, customer_id=w["acme"].pk)
    assert (again.examined, again.unchanged, again.changed, again.charged) == (3, 3, 0, 0)
    assert Transaction.objects.filter(customer=w["acme"]).count() == 5


def test_a_destination_made_forbidden_reverses_its_charge(world: dict[str, Any]) -> None:
    w = _world(world)
    call = _call(w, T0 + dt.timedelta(days=1), "4420123", 60)
    at = T0 + dt.timedelta(days=2)
    update_rate(actor=w["admin"], now=at, rate_id=w["uk"].pk, changes={"forbidden": True})
    summary = rerate(actor=w["admin"], now=at, tariff_id=w["retail"].pk)
    assert (summary.examined, summary.reversed) == (1, 1)
    xdr = Xdr.objects.get(pk=call.xdr_id)
    assert (xdr.status, xdr.deny_reason, xdr.amount) == (
        "denied",
        "forbidden_destination",
        Decimal("0"),
    )
    assert _balance(w) == Decimal("0") == ledger_sum(customer_id=w["acme"].pk)


def test_closed_periods_are_never_touched(world: dict[str, Any]) -> None:
    w = _world(world)
    _call(w, T0 + dt.timedelta(days=1), "4420123", 60)
    run(now=dt.datetime(2027, 2, 1, tzinfo=dt.UTC), steps=["close"])
    assert ClosedPeriod.objects.get(customer=w["acme"]).status == "closed"
    at = dt.datetime(2027, 2, 2, tzinfo=dt.UTC)
    update_rate(actor=w["admin"], now=at, rate_id=w["uk"].pk, changes={"price_first": "1"})
    summary = rerate(actor=w["admin"], now=at, customer_id=w["acme"].pk)
    assert (summary.examined, summary.moved) == (0, {})
    assert _balance(w) == Decimal("0.10")


def test_a_period_awaiting_approval_counts_as_open(world: dict[str, Any]) -> None:
    w = _world(world, approval=True)
    _call(w, T0 + dt.timedelta(days=1), "4420123", 60)
    run(now=dt.datetime(2027, 2, 1, tzinfo=dt.UTC), steps=["close"])
    period = ClosedPeriod.objects.get(customer=w["acme"])
    assert period.status == "awaiting_approval"
    at = dt.datetime(2027, 2, 2, tzinfo=dt.UTC)
    update_rate(
        actor=w["admin"],
        now=at,
        rate_id=w["uk"].pk,
        changes={"price_first": "0.13", "price_next": "0.13"},
    )
    summary = rerate(actor=w["admin"], now=at, customer_id=w["acme"].pk)
    assert (summary.examined, summary.changed) == (1, 1)
    correction = Transaction.objects.get(action="rerating")
    assert (correction.amount, correction.period_id) == (Decimal("0.03000"), period.pk)
    (invoice,) = approve_period(actor=w["admin"], now=at, period_id=period.pk)
    lines = [(ln.description, ln.amount) for ln in invoice.lines.order_by("id")]
    assert lines[:2] == [
        ("Voice calls", Decimal("0.10000")),
        ("Usage re-rating", Decimal("0.03000")),
    ]
    assert Invoice.objects.get(pk=invoice.pk).total == Decimal("0.13")


def test_who_may_rerate_what(world: dict[str, Any]) -> None:
    w = _world(world)
    with pytest.raises(ValidationFailed) as info:
        rerate(actor=w["admin"], now=T0)
    assert info.value.field == "customer"
    with pytest.raises(ValidationFailed):
        rerate(actor=w["admin"], now=T0, customer_id=w["acme"].pk, tariff_id=w["retail"].pk)
    with pytest.raises(NotFound):
        rerate(actor=world["ua"], now=T0, customer_id=w["acme"].pk)
    with pytest.raises(NotFound):
        rerate(actor=world["ua"], now=T0, tariff_id=w["retail"].pk)
