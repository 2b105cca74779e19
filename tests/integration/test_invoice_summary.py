"""Issue 10 §5: an invoice's own summary reconciles, previous balance + payments + this
invoice's total = balance after, also when an out-of-turn invoice or a tax-at-payment row sits
in the period; and the summary's labels say what the figures hold (PDF, page, e-mail).
Both close paths (fast and ORM); on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from billcore.classes.services import create_class
from billcore.customers.services import create_customer
from billcore.engine import EngineReport, close_step
from billcore.invoicing import fastclose
from billcore.invoicing.documents import invoice_context
from billcore.invoicing.models import Invoice
from billcore.invoicing.selectors import summary_labels
from billcore.invoicing.services import issue_out_of_turn_invoice
from billcore.ledger.services import post_transaction

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2027, 1, 10, 9, 0, tzinfo=dt.UTC)
FEB1 = dt.datetime(2027, 2, 1, tzinfo=dt.UTC)
D = Decimal


def _summary(inv: Invoice) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    return (inv.previous_balance, inv.payments, inv.total, inv.balance_after)


def _close(customers: dict[str, Any], monkeypatch: Any) -> None:
    fallbacks: list[int] = []
    real_close = fastclose.FastCloser.close

    def counting(self: Any, **kw: Any) -> Any:
        result = real_close(self, **kw)
        if result is None:
            fallbacks.append(kw["customer_id"])
        return result

    monkeypatch.setattr(fastclose.FastCloser, "close", counting)
    report = EngineReport(now=FEB1)
    close_step(now=FEB1, report=report, customer_ids=[customers["fast"].pk], fast=True)
    close_step(now=FEB1, report=report, customer_ids=[customers["orm"].pk], fast=False)
    assert report.errors == []
    assert fallbacks == []


def _charge(admin: Any, customer: Any, at: dt.datetime, amount: str) -> None:
    post_transaction(
        actor=admin, now=at, customer_id=customer.pk, action="manual_charge", amount=amount
    )


def test_out_of_turn_invoice_in_the_period(admin: Any, monkeypatch: Any) -> None:
    """An out-of-turn invoice on Jan 15 (20.00 + VAT 10 % 2.00 = 22.00), a payment of 5 on
    Jan 18, 5.55 more on Jan 20. The out-of-turn invoice: balance before it 0 + 22.00 = 22.00.
    The regular one: previous balance 22.00 (0 before the period + the out-of-turn invoice
    billed within it), payments -5, total 5.55 + VAT 0.555 -> 0.56 = 6.11, balance after
    22.00 - 5 + 6.11 = 23.11 = the customer's balance. (Before issue 10 the previous balance
    was 0 and the figures added up to 1.11.)"""
    cls = create_class(
        actor=admin,
        now=T0,
        data={
            "name": "OOT",
            "currency": "USD",
            "allow_out_of_turn_invoices": True,
            "taxation_method": "fixed_vat",
            "vat_rate": "10",
        },
    )
    customers = {
        side: create_customer(
            actor=admin,
            now=T0,
            data={
                "name": side,
                "currency": "USD",
                "customer_class": cls.pk,
                "balance_control": "postpaid",
            },
        )
        for side in ("fast", "orm")
    }
    for c in customers.values():
        _charge(admin, c, dt.datetime(2027, 1, 12, tzinfo=dt.UTC), "20.00")
        oot = issue_out_of_turn_invoice(
            actor=admin, now=dt.datetime(2027, 1, 15, tzinfo=dt.UTC), customer_id=c.pk
        )
        assert _summary(oot) == (D("0"), D("0"), D("22.00"), D("22.00"))
        assert summary_labels(oot)["previous_balance"] == "Balance before this invoice"
        post_transaction(
            actor=admin,
            now=dt.datetime(2027, 1, 18, tzinfo=dt.UTC),
            customer_id=c.pk,
            action="manual_payment",
            amount="5",
        )
        _charge(admin, c, dt.datetime(2027, 1, 20, tzinfo=dt.UTC), "5.55")
    _close(customers, monkeypatch)
    for side, c in customers.items():
        oot, regular = Invoice.objects.filter(customer=c).order_by("id")
        assert _summary(regular) == (D("22.00"), D("-5"), D("6.11"), D("23.11")), side
        c.refresh_from_db()
        assert c.balance == D("23.11")
        labels = invoice_context(regular)["labels"]
        assert labels == {
            "previous_balance": f"Previous balance, with invoice {oot.number} of this period",
            "payments": "Payments and refunds",
            "balance_after": "Balance after this invoice",
        }


def test_tax_at_payment_row_in_the_period(admin: Any, monkeypatch: Any) -> None:
    """A prepaid customer taxed at payment time (VAT 20 %): opening funds 10 (untaxed), a
    top-up of 120 on Jan 12 contains 120 x 20/120 = 20.00 of VAT (a tax row), usage 30 on
    Jan 15. The invoice carries no tax: previous balance 0, payments -10 - 120 + 20 = -110 (net
    of the tax they contained), total 30.00, balance after -80 = the customer's balance
    (available funds 80). (Before issue 10 the payments were -130 and the figures added up to
    -100.)"""
    cls = create_class(
        actor=admin,
        now=T0,
        data={
            "name": "Prepaid VAT",
            "currency": "USD",
            "taxation_method": "fixed_vat",
            "vat_rate": "20",
            "tax_prepaid_at_payment": True,
        },
    )
    customers = {
        side: create_customer(
            actor=admin,
            now=T0,
            data={
                "name": side,
                "currency": "USD",
                "customer_class": cls.pk,
                "balance_control": "prepaid",
                "available_funds": "10",
            },
        )
        for side in ("fast", "orm")
    }
    for c in customers.values():
        post_transaction(
            actor=admin,
            now=dt.datetime(2027, 1, 12, tzinfo=dt.UTC),
            customer_id=c.pk,
            action="manual_payment",
            amount="120",
        )
        _charge(admin, c, dt.datetime(2027, 1, 15, tzinfo=dt.UTC), "30")
    _close(customers, monkeypatch)
    for side, c in customers.items():
        [invoice] = Invoice.objects.filter(customer=c)
        assert invoice.tax_total == D("0")
        assert _summary(invoice) == (D("0"), D("-110"), D("30.00"), D("-80")), side
        c.refresh_from_db()
        assert c.balance == D("-80")
        assert invoice_context(invoice)["labels"] == {
            "previous_balance": "Previous balance",
            "payments": "Payments and refunds, net of the tax they contained",
            "balance_after": "Balance after this invoice",
        }
