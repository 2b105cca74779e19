"""Issue 17 item 14: the demo looks like a running business, made through the services and
the engine in test mode: accounts with products, subscriptions, priced usage, invoices in
every state with their payments and a void, nothing dated after the load's ``now``, test
mode off at the end, and a real engine run right after it has no backlog."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Count, Max

from billcore.charging.models import Reservation, Xdr
from billcore.customers.models import Customer, Status
from billcore.demo import load_demo
from billcore.engine import run
from billcore.installation.services import get_settings
from billcore.invoicing.models import ClosedPeriod, Invoice
from billcore.ledger.models import Transaction
from billcore.rating.models import OverrideTariff, Product
from billcore.rating.pricing import Priced, Pricer
from billcore.subscribers.models import Account
from billcore.subscriptions.models import Subscription

pytestmark = pytest.mark.django_db
# 10:17 UTC: no customer's period ends exactly then (periods end at local midnights).
NOW = dt.datetime(2026, 11, 18, 10, 17, tzinfo=dt.UTC)


def _state() -> dict[str, Any]:
    return {
        "customers": Customer.objects.count(),
        "accounts": Account.objects.count(),
        "xdrs": Xdr.objects.count(),
        "transactions": Transaction.objects.count(),
        "invoices": sorted(Invoice.objects.values_list("pk", "status", "amount_paid")),
        "balances": sorted(Customer.objects.values_list("pk", "balance")),
    }


def test_the_demo_is_a_running_business_with_no_backlog() -> None:
    summary = load_demo(customers=20, seed=7, now=NOW)

    assert summary.startswith("Demo loaded:")
    assert "engine runs in test mode (now off)" in summary
    # Every end customer has 1-5 accounts, each with the main product of its currency.
    for customer in Customer.objects.filter(customer_type="retail"):
        accounts = list(customer.accounts.all())
        assert 1 <= len(accounts) <= 5, customer.name
        for account in accounts:
            main = Product.objects.get(assignments__account=account, assignments__is_main=True)
            assert main.currency_id == customer.currency_id
            assert main.managed_by_id == customer.reseller_id
    assert Subscription.objects.exists()
    assert OverrideTariff.objects.count() == 1
    # Invoices in every state.
    statuses = dict(Invoice.objects.values_list("status").annotate(n=Count("id")).order_by())
    for status in ("issued", "partly_paid", "paid", "overdue", "void"):
        assert statuses.get(status, 0) > 0, (status, statuses)
    assert Invoice.objects.filter(status="void").count() == 1
    # Usage, each xDR's amount exactly the catalogue's price.
    xdrs = list(Xdr.objects.filter(status="charged").order_by("pk"))
    assert len(xdrs) > 100
    pricer = Pricer(whole_tariffs=True)
    for xdr in xdrs[:: max(1, len(xdrs) // 60)]:
        cld = "0" if xdr.service == "data" else xdr.details["cld"]
        priced = pricer.price(
            account_id=xdr.account_id,
            service=xdr.service,
            cld=cld,
            quantity=xdr.quantity,
            started_at=xdr.started_at,
        ).customer
        assert isinstance(priced, Priced)
        assert xdr.amount == priced.amount, xdr.pk
        assert xdr.amount > Decimal(0)
    # Nothing dated after the load's now.
    for model, column in (
        (Xdr, "created_at"),
        (Xdr, "started_at"),
        (Transaction, "created_at"),
        (Invoice, "issued_at"),
        (Invoice, "period_end"),
        (Reservation, "created_at"),
        (ClosedPeriod, "end"),
    ):
        latest = model.objects.aggregate(m=Max(column))["m"]
        assert latest is None or latest <= NOW, (model.__name__, column, latest)
    assert get_settings().test_mode is False
    # The history's e-mails are never sent: none pending, each marked with the reason.
    from billcore.notifications.models import OutboundEmail

    statuses = set(OutboundEmail.objects.values_list("status", "last_error").distinct())
    assert statuses == {("cancelled", "billcore demo: history, never sent")}
    # The collections of the overdue invoices suspended someone.
    assert Customer.objects.filter(status=Status.SUSPENDED).exists()

    # A real engine run at now has nothing to close: no backlog.
    report = run(now=NOW, steps=["subscriptions", "close", "collections"])
    assert (report.invoices, report.periods_closed, report.errors) == (0, 0, [])

    # A second load changes nothing.
    before = _state()
    again = load_demo(customers=20, seed=7, now=NOW)
    assert "already loaded" in again
    assert _state() == before
