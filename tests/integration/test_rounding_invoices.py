"""CC-17: every example of seed 004 and of the rounding decisions in
``reference/features.md``, each through a whole invoice: a class and a customer are created,
the charge is posted, the period is closed by the engine's close step and the issued
invoice's total is read. Each example is closed twice, once by the fast path
(``invoicing.fastclose``) and once by the ORM path (``services.close_due_periods``), which
must agree. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from billcore.classes.services import create_class
from billcore.customers.services import create_customer
from billcore.engine import EngineReport, close_step
from billcore.installation.services import add_currency
from billcore.invoicing import fastclose
from billcore.invoicing.models import Invoice, InvoiceLine
from billcore.ledger.services import post_transaction

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2027, 1, 10, 9, 0, tzinfo=dt.UTC)
CHARGED = dt.datetime(2027, 1, 15, tzinfo=dt.UTC)
FEB1 = dt.datetime(2027, 2, 1, tzinfo=dt.UTC)

CURRENCY_DEFAULT: dict[str, Any] = {}
XX000 = {"invoice_rounding": "custom", "invoice_rounding_pattern": "XXXXX.XX000"}
XX500 = {"invoice_rounding": "custom", "invoice_rounding_pattern": "XXXXX.XX500"}
WHOLE = {"invoice_rounding": "custom", "invoice_rounding_pattern": "00000.00000"}

# (id, class currency (None: a class without currency), class settings, customer currency,
#  charge, expected invoice total)
EXAMPLES = [
    # Seed 004, currency default: "0" removes the digit and always rounds up.
    ("default-100.146", "USD", CURRENCY_DEFAULT, "USD", "100.146", "100.15"),
    ("default-100.142", "USD", CURRENCY_DEFAULT, "USD", "100.142", "100.15"),
    ("default-1.2345", "USD", CURRENCY_DEFAULT, "USD", "1.2345", "1.24"),
    # ... XXXXX.XXX00 for a dinar (three decimals).
    ("default-dinar", "KWD", CURRENCY_DEFAULT, "KWD", "100.1421", "100.143"),
    # Custom "0": down for 0-4, up for 5-9.
    ("custom0-100.142", "USD", XX000, "USD", "100.142", "100.14"),
    ("custom0-100.148", "USD", XX000, "USD", "100.148", "100.15"),
    # Custom "5" (in a three-decimal currency: on USD the pattern is refused): 0-2 down,
    # 3-7 becomes 5, 8-9 up.
    ("custom5-100.142", "BHD", XX500, "BHD", "100.142", "100.14"),
    ("custom5-100.144", "BHD", XX500, "BHD", "100.144", "100.145"),
    ("custom5-100.148", "BHD", XX500, "BHD", "100.148", "100.15"),
    # Places left of the pattern are never rounded; covered places are.
    ("left-of-pattern", "USD", WHOLE, "USD", "7654321.2345", "7700000"),
    # Decisions: the first acting place decides, the places after it are dropped.
    ("decision-1.2345", "USD", XX000, "USD", "1.2345", "1.23"),
    ("decision-100.1449", "USD", XX000, "USD", "100.1449", "100.14"),
    # Decision: a class without currency rounds by the pattern, then to the customer's
    # currency (up to its unit): 100.144 -> 100.145 -> 100.15 in USD; 100.145 in BHD.
    ("no-currency-usd", None, XX500, "USD", "100.144", "100.15"),
    ("no-currency-bhd", None, XX500, "BHD", "100.144", "100.145"),
]


@pytest.fixture
def currencies(admin: Any) -> None:
    for code in ("KWD", "BHD", "CHF"):
        add_currency(actor=admin, now=T0, code=code)


def _customer(admin: Any, cls: Any, name: str, currency: str) -> Any:
    return create_customer(
        actor=admin,
        now=T0,
        data={
            "name": name,
            "currency": currency,
            "balance_control": "postpaid",
            "customer_class": cls.pk,
        },
    )


def _close_both_ways(customers: dict[str, Any], monkeypatch: Any) -> dict[str, Invoice]:
    """Close ``fast`` through the fast path (asserting it did not fall back) and ``orm``
    through the ORM path; the issued invoice of each."""
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
    return {side: Invoice.objects.get(customer=c) for side, c in customers.items()}


def _lines_sum(invoice: Invoice) -> Decimal:
    return sum(
        (x.amount for x in InvoiceLine.objects.filter(invoice=invoice) if x.kind != "tax_included"),
        Decimal(0),
    )


@pytest.mark.parametrize(
    ("class_currency", "rounding", "currency", "charge", "total"),
    [e[1:] for e in EXAMPLES],
    ids=[e[0] for e in EXAMPLES],
)
def test_seed_example_through_a_whole_invoice(
    admin: Any,
    currencies: None,
    monkeypatch: Any,
    class_currency: str | None,
    rounding: dict[str, Any],
    currency: str,
    charge: str,
    total: str,
) -> None:
    data: dict[str, Any] = {"name": "Rounding", **rounding}
    if class_currency:
        data["currency"] = class_currency
    cls = create_class(actor=admin, now=T0, data=data)
    customers = {side: _customer(admin, cls, side, currency) for side in ("fast", "orm")}
    for c in customers.values():
        post_transaction(
            actor=admin,
            now=CHARGED,
            customer_id=c.pk,
            action="manual_charge",
            amount=charge,
        )
    invoices = _close_both_ways(customers, monkeypatch)
    for side, invoice in invoices.items():
        assert invoice.total == Decimal(total), side
        assert invoice.rounding == Decimal(total) - Decimal(charge), side
        assert _lines_sum(invoice) == invoice.total, side
        customers[side].refresh_from_db()
        assert customers[side].balance == Decimal(total), side


def test_the_pattern_rounds_the_total_after_taxes_not_the_base(
    admin: Any, currencies: None, monkeypatch: Any
) -> None:
    """CC-17 decision (issue 10): 0.05 pattern on CHF, 10.12 + 8.1 % VAT (0.81972 -> 0.82,
    rounded up) = 10.94 -> 10.95. Rounding the base first (the old reading) gave
    10.12 -> 10.10, VAT 0.82, 10.92 -> 10.90. Both close paths agree."""
    cls = create_class(
        actor=admin,
        now=T0,
        data={
            "name": "Swiss",
            "currency": "CHF",
            "taxation_method": "fixed_vat",
            "vat_rate": "8.1",
            "invoice_rounding": "custom",
            "invoice_rounding_pattern": "XXXXX.X5000",
        },
    )
    customers = {side: _customer(admin, cls, side, "CHF") for side in ("fast", "orm")}
    for c in customers.values():
        post_transaction(
            actor=admin, now=CHARGED, customer_id=c.pk, action="manual_charge", amount="10.12"
        )
    invoices = _close_both_ways(customers, monkeypatch)
    for side, invoice in invoices.items():
        assert (invoice.net, invoice.tax_total, invoice.rounding, invoice.total) == (
            Decimal("10.12"),
            Decimal("0.82"),
            Decimal("0.01"),
            Decimal("10.95"),
        ), side
        lines = [
            (x.kind, x.description, x.amount)
            for x in InvoiceLine.objects.filter(invoice=invoice).order_by("position")
        ]
        assert lines == [
            ("fee", "Other fees", Decimal("10.12")),
            ("tax", "VAT 8.1%", Decimal("0.82")),
            ("rounding", "Invoice rounding", Decimal("0.01")),
        ], side
        customers[side].refresh_from_db()
        assert customers[side].balance == Decimal("10.95"), side


def test_currency_default_total_is_the_printed_base_plus_taxes(
    admin: Any, monkeypatch: Any
) -> None:
    """With the currency default pattern the base rounds up to the cent, so the total is
    exactly the printed base plus the printed taxes: 17.50123 -> base 17.51, VAT 20 % 3.502
    -> 3.51, before 17.50123 + 3.51 = 21.01123 -> up 21.02 = 17.51 + 3.51."""
    cls = create_class(
        actor=admin,
        now=T0,
        data={"name": "VAT", "currency": "USD", "taxation_method": "fixed_vat", "vat_rate": "20"},
    )
    customers = {side: _customer(admin, cls, side, "USD") for side in ("fast", "orm")}
    for c in customers.values():
        post_transaction(
            actor=admin, now=CHARGED, customer_id=c.pk, action="manual_charge", amount="17.50123"
        )
    for side, invoice in _close_both_ways(customers, monkeypatch).items():
        assert (invoice.net, invoice.tax_total, invoice.rounding, invoice.total) == (
            Decimal("17.51"),
            Decimal("3.51"),
            Decimal("0.00877"),
            Decimal("21.02"),
        ), side
