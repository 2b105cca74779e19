"""Issue 17 §2: the dashboard's figures (billcore/invoicing/dashboard.py), exact, on SQLite
and PostgreSQL, scoped by reseller (an administrator sees everything, a reseller's user only
its own customers), money per currency.

The invoices, periods and xDRs are written as rows (this reads them; the services that make
them are tested elsewhere); the ledger rows go through ``post_locked``. Today is 2026-11-01
(UTC unless a test says otherwise).

Open invoices and their age (due date → days past due on 2026-11-01):

    #  customer  cur  total  paid  status       due         age          issued
    1  direct    USD  100    0     issued       11-05       current      10-20
    2  direct    USD  200    50    partly_paid  10-31       1 (1-30)     10-01 00:00
    3  a_cust    USD  80     0     overdue      10-02       30 (1-30)    09-15
    4  a_cust    USD  60     0     overdue      10-01       31 (31-60)   09-01
    5  direct    USD  40     0     overdue      08-02       91 (90+)     07-03
    6  direct    USD  70     0     overdue      08-03       90 (61-90)   07-04
    7  direct    USD  999    0     void         10-01       (excluded)   10-10
    8  direct    USD  30     30    paid         -           (excluded)   11-01 10:00
    9  b_cust    EUR  45.5   0     issued       11-01 00:00 current      10-15
   10  direct    USD  11     11    paid         -           (excluded)   2025-11-30 (too old)
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal as D
from typing import Any

import pytest
from django.db import transaction

from billcore.charging.models import Xdr
from billcore.customers.models import Customer
from billcore.errors import NotFound
from billcore.invoicing import dashboard
from billcore.invoicing.models import ClosedPeriod, Invoice
from billcore.ledger.customers import create_customer
from billcore.ledger.postings import post_locked
from tests.conftest import NOW

pytestmark = pytest.mark.django_db

UTC = zoneinfo.ZoneInfo("UTC")
TODAY = dt.date(2026, 11, 1)
Z = D("0.00000")


def at(y: int, m: int, d: int, h: int = 12, minute: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, minute, tzinfo=dt.UTC)


def _customer(actor: Any, name: str, cls: Any, currency: str = "USD") -> Customer:
    return create_customer(
        actor=actor,
        now=NOW,
        data={
            "name": name,
            "currency": currency,
            "balance_control": "postpaid",
            "customer_class": cls.pk,
        },
    )


_seq = iter(range(1, 1000))


def _invoice(
    c: Customer, total: str, *, paid: str = "0", status: str, issued: dt.datetime, due: Any
) -> Invoice:
    n = next(_seq)
    return Invoice.objects.create(
        customer=c,
        numbering_scope=0,
        sequence=n,
        number=f"INV-{n:07d}",
        kind="regular",
        period_start=issued - dt.timedelta(days=30),
        period_end=issued,
        issued_at=issued,
        due_at=due or issued,
        currency=c.currency_id,
        decimals=2,
        previous_balance=Z,
        payments=Z,
        net=D(total),
        tax_total=Z,
        total=D(total),
        balance_after=D(total),
        amount_paid=D(paid),
        status=status,
        template="default",
    )


def _xdr(c: Customer, service: str, amount: str, when: dt.datetime, status: str = "charged"):
    return Xdr.objects.create(
        customer=c,
        service=service,
        quantity=D(1),
        amount=D(amount),
        started_at=when,
        status=status,
        created_at=when,
    )


@pytest.fixture
def shop(world: dict[str, Any]) -> dict[str, Any]:
    admin, ua, ub = world["admin"], world["ua"], world["ub"]
    direct = _customer(admin, "Direct Ltd", world["classes"]["usd"])
    a_cust = _customer(ua, "A Customer", world["classes"]["a"])
    b_cust = _customer(ub, "B Customer", world["classes"]["b"], currency="EUR")
    _invoice(direct, "100", status="issued", issued=at(2026, 10, 20), due=at(2026, 11, 5))
    _invoice(
        direct,
        "200",
        paid="50",
        status="partly_paid",
        issued=at(2026, 10, 1, 0),
        due=at(2026, 10, 31),
    )
    _invoice(a_cust, "80", status="overdue", issued=at(2026, 9, 15), due=at(2026, 10, 2))
    _invoice(a_cust, "60", status="overdue", issued=at(2026, 9, 1), due=at(2026, 10, 1))
    _invoice(direct, "40", status="overdue", issued=at(2026, 7, 3), due=at(2026, 8, 2))
    _invoice(direct, "70", status="overdue", issued=at(2026, 7, 4), due=at(2026, 8, 3))
    _invoice(direct, "999", status="void", issued=at(2026, 10, 10), due=at(2026, 10, 1))
    _invoice(direct, "30", paid="30", status="paid", issued=at(2026, 11, 1, 10), due=None)
    _invoice(b_cust, "45.5", status="issued", issued=at(2026, 10, 15), due=at(2026, 11, 1, 0))
    _invoice(direct, "11", paid="11", status="paid", issued=at(2025, 11, 30, 23), due=None)
    return {**world, "direct": direct, "a_cust": a_cust, "b_cust": b_cust}


def _buckets(r: dashboard.Receivables) -> list[D]:
    return [r.buckets[k] for k, *_ in dashboard.AGE_BUCKETS]


def test_receivables_aged_per_currency_for_the_administrator(shop: dict[str, Any]) -> None:
    eur, usd = dashboard.receivables(actor=shop["admin"], today=TODAY, zone=UTC)
    assert (usd.currency, usd.decimals, usd.total, usd.invoices) == ("USD", 2, D("500"), 6)
    assert _buckets(usd) == [D(100), D(230), D(60), D(70), D(40)]
    assert (eur.currency, eur.total, eur.invoices) == ("EUR", D("45.5"), 1)
    assert _buckets(eur) == [D("45.5"), Z, Z, Z, Z]


def test_receivables_of_a_resellers_user_are_its_own(shop: dict[str, Any]) -> None:
    [usd] = dashboard.receivables(actor=shop["ua"], today=TODAY, zone=UTC)
    assert (usd.currency, usd.total, usd.invoices) == ("USD", D(140), 2)
    assert _buckets(usd) == [Z, D(80), D(60), Z, Z]
    [eur] = dashboard.receivables(actor=shop["ub"], today=TODAY, zone=UTC)
    assert (eur.currency, eur.total) == ("EUR", D("45.5"))


def test_receivables_age_by_the_installation_days(world: dict[str, Any]) -> None:
    """Due 2026-10-31 16:00 UTC is 11-01 01:00 in Tokyo: not yet past due there on 11-01,
    one day past due in UTC."""
    c = _customer(world["admin"], "Tokyo", world["classes"]["usd"])
    _invoice(c, "10", status="issued", issued=at(2026, 10, 1), due=at(2026, 10, 31, 16))
    [tokyo] = dashboard.receivables(
        actor=world["admin"], today=TODAY, zone=zoneinfo.ZoneInfo("Asia/Tokyo")
    )
    assert _buckets(tokyo) == [D(10), Z, Z, Z, Z]
    [utc] = dashboard.receivables(actor=world["admin"], today=TODAY, zone=UTC)
    assert _buckets(utc) == [Z, D(10), Z, Z, Z]


def test_revenue_per_month_of_the_last_12_months(shop: dict[str, Any]) -> None:
    eur, usd = dashboard.revenue_by_month(actor=shop["admin"], today=TODAY, zone=UTC)
    months = [m for m, _ in usd.months]
    assert months[0] == dt.date(2025, 12, 1) and months[-1] == dt.date(2026, 11, 1)
    assert len(months) == 12
    assert [v for _, v in usd.months] == [Z] * 7 + [D(110), Z, D(140), D(300), D(30)]
    assert usd.total == D(580)
    assert [v for _, v in eur.months] == [Z] * 10 + [D("45.5"), Z]
    [mine] = dashboard.revenue_by_month(actor=shop["ua"], today=TODAY, zone=UTC)
    assert [v for _, v in mine.months] == [Z] * 9 + [D(140), Z, Z]


def test_revenue_months_are_the_installation_months(shop: dict[str, Any]) -> None:
    """Invoice 2 (10-01 00:00 UTC) is September in New York; invoice 10 (2025-11-30 23:00
    UTC) is December in Tokyo."""
    [usd] = [
        r
        for r in dashboard.revenue_by_month(
            actor=shop["admin"], today=TODAY, zone=zoneinfo.ZoneInfo("America/New_York")
        )
        if r.currency == "USD"
    ]
    assert [v for _, v in usd.months][-4:] == [Z, D(340), D(100), D(30)]
    [usd] = [
        r
        for r in dashboard.revenue_by_month(
            actor=shop["admin"], today=TODAY, zone=zoneinfo.ZoneInfo("Asia/Tokyo")
        )
        if r.currency == "USD"
    ]
    assert usd.months[0] == (dt.date(2025, 12, 1), D(11))


def test_usage_per_service_per_day(shop: dict[str, Any]) -> None:
    direct, a_cust, b_cust = shop["direct"], shop["a_cust"], shop["b_cust"]
    _xdr(direct, "voice", "1.5", at(2026, 11, 1, 10))
    _xdr(direct, "voice", "2.25", at(2026, 11, 1, 11))
    _xdr(direct, "data", "0.5", at(2026, 10, 31, 23, 59))
    _xdr(direct, "messaging", "9", at(2026, 11, 1, 9), status="denied")
    _xdr(direct, "voice", "7", at(2026, 10, 2, 23))  # the day before the window
    _xdr(direct, "voice", "3", at(2026, 10, 3, 0))  # the window's first day
    _xdr(a_cust, "voice", "4", at(2026, 10, 31, 12))
    _xdr(b_cust, "data", "1.2", at(2026, 11, 1, 1))

    eur, usd = dashboard.usage_by_day(actor=shop["admin"], today=TODAY, zone=UTC)
    assert usd.days[0] == dt.date(2026, 10, 3) and usd.days[-1] == TODAY and len(usd.days) == 30
    data, voice = usd.services
    assert (data.service, data.amount, data.count) == ("data", D("0.5"), 1)
    assert (voice.service, voice.amount, voice.count) == ("voice", D("10.75"), 4)
    assert voice.amounts[0] == D(3) and voice.amounts[-2:] == [D(4), D("3.75")]
    assert voice.counts[0] == 1 and voice.counts[-2:] == [1, 2]
    assert data.amounts[-2:] == [D("0.5"), Z] and sum(data.amounts[:-2], Z) == Z
    [eur_data] = eur.services
    assert (eur.currency, eur_data.service, eur_data.amounts[-1], eur_data.count) == (
        "EUR",
        "data",
        D("1.2"),
        1,
    )

    [mine] = dashboard.usage_by_day(actor=shop["ua"], today=TODAY, zone=UTC)
    [voice] = mine.services
    assert (voice.amount, voice.count, voice.amounts[-2]) == (D(4), 1, D(4))

    [one] = dashboard.usage_by_day(
        actor=shop["admin"], today=TODAY, zone=UTC, customer_id=direct.pk
    )
    assert [(s.service, s.amount, s.count) for s in one.services] == [
        ("data", D("0.5"), 1),
        ("voice", D("6.75"), 3),
    ]
    with pytest.raises(NotFound):
        dashboard.usage_by_day(actor=shop["ua"], today=TODAY, zone=UTC, customer_id=direct.pk)


def test_customers_by_status_in_words(shop: dict[str, Any]) -> None:
    admin = shop["admin"]
    cls = shop["classes"]["usd"]
    blocked = _customer(admin, "Blocked Ltd", cls)
    gone = _customer(admin, "Gone Ltd", cls)
    suspended = _customer(admin, "Late Ltd", cls)
    Customer.objects.filter(pk=blocked.pk).update(blocked=True)
    Customer.objects.filter(pk=gone.pk).update(status="closed", blocked=True)
    Customer.objects.filter(pk=suspended.pk).update(status="suspended")
    assert dashboard.customers_by_status(actor=admin) == [
        ("open", "Open", 5),
        ("blocked", "Blocked", 1),
        ("suspended", "Suspended", 1),
        ("closed", "Permanently terminated", 1),
    ]
    assert dashboard.customers_by_status(actor=shop["ua"]) == [("open", "Open", 1)]


def test_periods_awaiting_approval_are_counted_per_reseller(shop: dict[str, Any]) -> None:
    for c, status in ((shop["direct"], "awaiting_approval"), (shop["a_cust"], "awaiting_approval")):
        ClosedPeriod.objects.create(
            customer=c,
            start=at(2026, 9, 1, 0),
            end=at(2026, 10, 1, 0),
            status=status,
            created_at=NOW,
        )
    ClosedPeriod.objects.create(
        customer=shop["direct"],
        start=at(2026, 8, 1, 0),
        end=at(2026, 9, 1, 0),
        status="closed",
        created_at=NOW,
    )
    assert dashboard.periods_awaiting(actor=shop["admin"]) == 2
    assert dashboard.periods_awaiting(actor=shop["ua"]) == 1
    assert dashboard.periods_awaiting(actor=shop["ub"]) == 0


def test_balance_history_at_the_end_of_each_day(shop: dict[str, Any]) -> None:
    direct = shop["direct"]
    for amount, when in (
        ("10", at(2026, 8, 1)),  # before the 90 days
        ("5", at(2026, 10, 30, 10)),
        ("2.5", at(2026, 10, 30, 15)),
        ("-4", at(2026, 11, 1, 9)),
    ):
        with transaction.atomic():
            post_locked(customer_id=direct.pk, action="manual_charge", amount=D(amount), now=when)
    customer, history = dashboard.balance_history(
        actor=shop["admin"], customer_id=direct.pk, today=TODAY, zone=UTC
    )
    assert customer.pk == direct.pk
    assert len(history) == 90
    assert history[0] == (dt.date(2026, 8, 4), D(10))
    assert history[-4:] == [
        (dt.date(2026, 10, 29), D(10)),
        (dt.date(2026, 10, 30), D("17.5")),
        (dt.date(2026, 10, 31), D("17.5")),
        (dt.date(2026, 11, 1), D("13.5")),
    ]
    with pytest.raises(NotFound):
        dashboard.balance_history(actor=shop["ub"], customer_id=direct.pk, today=TODAY, zone=UTC)
    # No ledger row at all: zero every day.
    _, empty = dashboard.balance_history(
        actor=shop["ua"], customer_id=shop["a_cust"].pk, today=TODAY, zone=UTC, days=3
    )
    assert empty == [(dt.date(2026, 10, 30), Z), (dt.date(2026, 10, 31), Z), (TODAY, Z)]
