"""Period closing and invoices (issue 4; CC-10, CC-12 … CC-18). Exact values throughout."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billcore.charging.services import charge, parse_usage
from billcore.classes.services import create_class
from billcore.engine import run
from billcore.invoicing.models import ClosedPeriod, Invoice, InvoiceLine
from billcore.invoicing.settling import record_transaction
from billcore.ledger.customers import create_customer
from billcore.ledger.models import Transaction
from tests.support import ledger_sum

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2027, 1, 10, 9, 0, tzinfo=dt.UTC)
FEB1 = dt.datetime(2027, 2, 1, tzinfo=dt.UTC)


def _class(admin: Any, **data: Any) -> Any:
    return create_class(
        actor=admin, now=T0, data={"name": "Postpaid USD", "currency": "USD", **data}
    )


def _customer(admin: Any, cls: Any, **data: Any) -> Any:
    return create_customer(
        actor=admin,
        now=T0,
        data={
            "name": data.pop("name", "Acme"),
            "currency": "USD",
            "balance_control": data.pop("balance_control", "postpaid"),
            "customer_class": cls.pk,
            "email": "billing@acme.example",
            **data,
        },
    )


def _use(admin: Any, customer: Any, amount: str, at: dt.datetime, service: str = "voice") -> None:
    usage = parse_usage(service=service, amount=amount, quantity="1", started_at=at, now=at)
    result = charge(actor=admin, now=at, customer_id=customer.pk, usage=usage)
    assert result.allowed, result


def test_monthly_close_issues_one_invoice_with_vat_and_rounding(admin: Any) -> None:
    cls = _class(admin, taxation_method="fixed_vat", vat_rate="20")
    c = _customer(admin, cls)
    _use(admin, c, "10.00123", T0 + dt.timedelta(days=1))
    _use(admin, c, "5.5", T0 + dt.timedelta(days=2), service="data")
    record_transaction(
        actor=admin,
        now=T0 + dt.timedelta(days=3),
        customer_id=c.pk,
        action="manual_charge",
        amount="2.00",
    )
    report = run(now=FEB1, steps=["close"])
    assert (report.periods_closed, report.invoices, report.errors) == (1, 1, [])
    inv = Invoice.objects.get(customer=c)
    # charges 17.50123 -> base 17.51 (currency default rounds up) -> VAT 20% 3.502 -> 3.51
    assert inv.number == "INV-0000001"
    assert (inv.net, inv.tax_total, inv.rounding, inv.total) == (
        D("17.51000"),
        D("3.51000"),
        D("0.00877"),
        D("21.02000"),
    )
    lines = [(x.kind, x.description, x.amount) for x in InvoiceLine.objects.filter(invoice=inv)]
    assert lines == [
        ("usage", "Data", D("5.50000")),
        ("usage", "Voice calls", D("10.00123")),
        ("fee", "Other fees", D("2.00000")),
        ("tax", "VAT 20%", D("3.51000")),
        ("rounding", "Invoice rounding", D("0.00877")),
    ]
    assert sum(x[2] for x in lines) == inv.total
    c.refresh_from_db()
    assert c.balance == D("21.02000") == ledger_sum(customer_id=c.pk) == inv.balance_after
    assert (inv.period_start, inv.period_end) == (T0, FEB1)
    assert inv.due_at == FEB1 + dt.timedelta(days=10)
    assert inv.status == "issued"
    # idempotent for the same now
    again = run(now=FEB1, steps=["close"])
    assert (again.periods_closed, again.invoices) == (0, 0)
    assert Invoice.objects.count() == 1
    assert c.next_billed_to == dt.datetime(2027, 3, 1, tzinfo=dt.UTC)


def test_payments_settle_oldest_invoice_first(admin: Any) -> None:
    cls = _class(admin)
    c = _customer(admin, cls)
    _use(admin, c, "30", T0 + dt.timedelta(days=1))
    run(now=FEB1, steps=["close"])
    _use(admin, c, "20", FEB1 + dt.timedelta(days=1))
    run(now=dt.datetime(2027, 3, 1, tzinfo=dt.UTC), steps=["close"])
    first, second = Invoice.objects.order_by("id")
    assert (first.total, second.total) == (D("30.00000"), D("20.00000"))
    assert first.status == "overdue" and second.status == "issued"
    record_transaction(
        actor=admin,
        now=dt.datetime(2027, 3, 2, tzinfo=dt.UTC),
        customer_id=c.pk,
        action="manual_payment",
        amount="40",
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.amount_paid, first.status) == (D("30.00000"), "paid")
    assert (second.amount_paid, second.status) == (D("10.00000"), "partly_paid")


def test_approval_mode_waits_and_adjustments_land_in_waiting_period(admin: Any) -> None:
    cls = _class(admin, period_close="approval", approval_max_days=5)
    c = _customer(admin, cls)
    _use(admin, c, "10", T0 + dt.timedelta(days=1))
    report = run(now=FEB1, steps=["close"])
    assert (report.periods_awaiting_approval, report.invoices) == (1, 0)
    period = ClosedPeriod.objects.get(customer=c)
    assert period.status == "awaiting_approval"
    assert period.approve_by == FEB1 + dt.timedelta(days=5)
    # a credit while waiting lands in the waiting period; usage after the end does not
    record_transaction(
        actor=admin,
        now=FEB1 + dt.timedelta(days=2),
        customer_id=c.pk,
        action="manual_credit",
        amount="3",
    )
    _use(admin, c, "7", FEB1 + dt.timedelta(days=2))
    run(now=FEB1 + dt.timedelta(days=5), steps=["close"])
    inv = Invoice.objects.get(customer=c)
    assert inv.total == D("7.00000")
    assert [(x.kind, x.amount) for x in inv.lines.all()] == [
        ("usage", D("10.00000")),
        ("adjustment", D("-3.00000")),
    ]


_seq = iter(range(10**6))


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    kind=st.integers(min_value=1, max_value=6),
    zone=st.sampled_from(["UTC", "Europe/Prague", "America/New_York", "Asia/Kolkata"]),
    created=st.datetimes(min_value=dt.datetime(2027, 1, 1), max_value=dt.datetime(2027, 12, 31)),
    steps=st.lists(st.integers(min_value=1, max_value=24 * 20), min_size=1, max_size=5),
    switch=st.one_of(st.none(), st.integers(min_value=1, max_value=6)),
)
def test_closed_periods_tile_time_without_gap_or_overlap(
    admin: Any, kind: int, zone: str, created: dt.datetime, steps: list[int], switch: int | None
) -> None:
    """Issue 4 §1: whatever the period type, zone and engine times (and a change of billing
    period half-way), a customer's closed periods follow each other with no gap and no
    overlap, from its creation to the open period."""
    from billcore.classes.models import CustomerClass
    from billcore.customers.services import update_customer

    t0 = created.replace(tzinfo=dt.UTC)
    n = next(_seq)
    c = create_customer(
        actor=admin,
        now=t0,
        data={
            "name": f"Tile {n}",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": CustomerClass.objects.get(is_default=True).pk,
            "billing_period": kind,
            "time_zone": zone,
        },
    )
    clock = t0
    for i, hours in enumerate(steps):
        clock += dt.timedelta(hours=hours)
        if switch is not None and i == len(steps) // 2:
            update_customer(
                actor=admin, now=clock, customer_id=c.pk, changes={"billing_period": switch}
            )
        run(now=clock, steps=["close"])
    c.refresh_from_db()
    periods = list(ClosedPeriod.objects.filter(customer=c).order_by("start"))
    edges = [t0] + [p.end for p in periods]
    assert [p.start for p in periods] == edges[:-1]
    assert all(p.start < p.end for p in periods)
    assert c.billed_to == edges[-1]
    assert c.billed_to <= clock < c.next_billed_to


def test_prepaid_customers_taxed_at_payment_time(admin: Any) -> None:
    """portabilling.md "Taxes": a class can tax prepaid customers when they pay (the payment
    contains the tax) instead of at the period's end; postpaid customers of the same class are
    taxed on their invoice."""
    cls = _class(admin, taxation_method="fixed_vat", vat_rate="20", tax_prepaid_at_payment=True)
    prepaid = _customer(admin, cls, name="Pre", balance_control="prepaid")
    postpaid = _customer(admin, cls, name="Post")
    record_transaction(
        actor=admin,
        now=T0 + dt.timedelta(hours=1),
        customer_id=prepaid.pk,
        action="manual_payment",
        amount="120.00",
    )
    tax = Transaction.objects.get(customer=prepaid, action="tax")
    # 120.00 contains 120 x 20/120 = 20.00 of VAT
    assert (tax.amount, tax.balance_after, tax.visible_comment) == (
        D("20.00000"),
        D("-100.00000"),
        "VAT 20% in the payment of 120.00",
    )
    for c in (prepaid, postpaid):
        _use(admin, c, "30", T0 + dt.timedelta(days=2))
    run(now=FEB1, steps=["close"])
    pre_inv = Invoice.objects.get(customer=prepaid)
    post_inv = Invoice.objects.get(customer=postpaid)
    assert (pre_inv.tax_total, pre_inv.total, pre_inv.status) == (
        D("0.00000"),
        D("30.00000"),
        "paid",
    )
    assert [x.kind for x in pre_inv.lines.all()] == ["usage"]
    assert (post_inv.tax_total, post_inv.total) == (D("6.00000"), D("36.00000"))
    prepaid.refresh_from_db()
    assert prepaid.balance == D("-70.00000") == ledger_sum(customer_id=prepaid.pk)
