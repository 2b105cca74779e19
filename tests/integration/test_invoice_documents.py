"""Invoice and closing-statement documents (issue 4 section 5; CC-13, CC-16, CC-17, CU-13).

The invoice templates (standard, detailed, compact) render with Django templates and become
PDFs through WeasyPrint. Text is checked in the PDF with ``pdftotext`` (Debian's poppler-utils)
when it is installed, and in the HTML the PDF is made from otherwise. Exact values throughout.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from decimal import Decimal as D
from typing import Any

import pytest

from billcore.charging.services import charge, parse_usage
from billcore.classes.services import create_class
from billcore.core.money import format_money
from billcore.engine import run
from billcore.installation.models import InstallationSettings
from billcore.invoicing.documents import (
    format_quantity,
    invoice_context,
    invoice_html,
    render_invoice_pdf,
    render_pending,
    statement_context,
    statement_html,
)
from billcore.invoicing.models import ClosedPeriod, Invoice
from billcore.invoicing.settling import record_transaction
from billcore.ledger.customers import create_customer

T0 = dt.datetime(2027, 1, 10, 9, 0, tzinfo=dt.UTC)
# The customers live in Tokyo (UTC+9): their January period ends at 2027-02-01 00:00 JST.
TOKYO_FEB1 = dt.datetime(2027, 1, 31, 15, 0, tzinfo=dt.UTC)
TOKYO_MAR1 = dt.datetime(2027, 2, 28, 15, 0, tzinfo=dt.UTC)


def _legal(**extra: Any) -> None:
    InstallationSettings.objects.update_or_create(
        pk=1,
        defaults={
            "legal_name": "Northwind Telecom Ltd",
            "notification_from_name": "Northwind Billing",
            "notification_from_address": "billing@northwind.example",
            **extra,
        },
    )


def _class(admin: Any, name: str = "Postpaid USD", **data: Any) -> Any:
    return create_class(
        actor=admin,
        now=T0,
        data={
            "name": name,
            "currency": "USD",
            "taxation_method": "fixed_vat",
            "vat_rate": "20",
            **data,
        },
    )


def _customer(admin: Any, cls: Any, name: str = "Acme", **data: Any) -> Any:
    return create_customer(
        actor=admin,
        now=T0,
        data={
            "name": name,
            "currency": "USD",
            "balance_control": data.pop("balance_control", "postpaid"),
            "customer_class": cls.pk,
            "email": "billing@acme.example",
            "time_zone": "Asia/Tokyo",
            "company_name": "Acme Trading KK",
            "address_line1": "1-2-3 Marunouchi",
            "city": "Chiyoda-ku",
            "zip_code": "100-0005",
            "country": "JP",
            **data,
        },
    )


def _use(admin: Any, customer: Any, amount: str, at: dt.datetime, service: str, qty: str) -> None:
    usage = parse_usage(service=service, amount=amount, quantity=qty, started_at=at, now=at)
    result = charge(actor=admin, now=at, customer_id=customer.pk, usage=usage)
    assert result.allowed, result


def _usage_and_fee(admin: Any, c: Any) -> None:
    """Voice 10.00123 (two calls), data 5.5, a 2.00 fee: with VAT 20% the invoice is
    charges 17.50123 → base 17.51 → VAT 3.51 (rounded up) → total 21.02, rounding 0.00877."""
    _use(admin, c, "7.00100", T0 + dt.timedelta(days=1), "voice", "12")
    _use(admin, c, "3.00023", T0 + dt.timedelta(days=2), "voice", "5.5")
    _use(admin, c, "5.5", T0 + dt.timedelta(days=3), "data", "250000000")
    record_transaction(
        actor=admin,
        now=T0 + dt.timedelta(days=4),
        customer_id=c.pk,
        action="manual_charge",
        amount="2.00",
        visible_comment="Setup fee",
    )


def _stored(value: bytes | memoryview | None) -> bytes:
    """A stored PDF (PostgreSQL hands back a memoryview)."""
    assert value is not None
    return bytes(value)


def _pdf_text(pdf: bytes) -> str | None:
    """The PDF's text through pdftotext, or None when poppler-utils is not installed."""
    if shutil.which("pdftotext") is None:
        return None
    out = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    )
    return out.stdout.decode()


def test_format_money_shows_currency_decimals_or_every_digit_needed() -> None:
    assert format_money(D("21.02000"), 2) == "21.02"
    assert format_money(D("10.00123"), 2) == "10.00123"
    assert format_money(D("0.00870"), 2) == "0.0087"
    assert format_money(D("-3.00000"), 2) == "-3.00"
    assert format_money(D("1234567.5"), 2) == "1,234,567.50"
    assert format_money(D("7.00000"), 0) == "7"
    assert format_money(D("7.10000"), 0) == "7.1"
    assert format_money(D("-0.00000"), 2) == "0.00"
    assert format_money(D("12.34500"), 3) == "12.345"
    assert (format_quantity(D("60.00000")), format_quantity(D("1.50000"))) == ("60", "1.5")


@pytest.mark.django_db
def test_standard_invoice_context_html_and_pdf(admin: Any) -> None:
    """CC-13/CU-13: everything the invoice shows, in the customer's time zone (Tokyo)."""
    _legal()
    cls = _class(admin)
    c = _customer(admin, cls)
    _usage_and_fee(admin, c)
    report = run(now=TOKYO_FEB1, steps=["close"])
    assert (report.invoices, report.errors) == (1, [])
    inv = Invoice.objects.get(customer=c)
    assert inv.template == "standard"
    ctx = invoice_context(inv)
    assert {
        k: ctx[k]
        for k in (
            "legal_name",
            "number",
            "kind_label",
            "status_label",
            "issued_date",
            "due_date",
            "period_start",
            "period_end",
            "currency",
            "previous_balance",
            "payments",
            "charges",
            "net",
            "tax_total",
            "total",
            "amount_paid",
            "amount_due",
            "time_zone",
        )
    } == {
        "legal_name": "Northwind Telecom Ltd",
        "number": "INV-0000001",
        "kind_label": "Regular",
        "status_label": "Issued",
        # issued 2027-01-31 15:00 UTC = 2027-02-01 00:00 in Tokyo; due 10 days later
        "issued_date": "2027-02-01",
        "due_date": "2027-02-11",
        "period_start": "2027-01-10",
        "period_end": "2027-01-31",
        "currency": "USD",
        "previous_balance": "0.00",
        "payments": "0.00",
        "charges": "17.50123",
        "net": "17.51",
        "tax_total": "3.51",
        "total": "21.02",
        "amount_paid": "0.00",
        "amount_due": "21.02",
        "time_zone": "Asia/Tokyo",
    }
    assert ctx["customer"] == {
        "name": "Acme",
        "address": ["Acme Trading KK", "1-2-3 Marunouchi", "100-0005 Chiyoda-ku", "Japan"],
        "email": "billing@acme.example",
        "tax_id": "",
        "tax_id_label": "Tax ID",
    }
    expected_lines = [
        ("Data", "5.50"),
        ("Voice calls", "10.00123"),
        ("Other fees", "2.00"),
        ("VAT 20%", "3.51"),
        ("Invoice rounding", "0.00877"),
    ]
    assert [(x["description"], x["amount"]) for x in ctx["lines"]] == expected_lines
    assert [x["description"] for x in ctx["tax_lines"]] == ["VAT 20%"]
    assert ctx["tax_lines"][0]["base"] == "17.51"
    assert [x["description"] for x in ctx["rounding_lines"]] == ["Invoice rounding"]
    # the lines add up to the total, to the last digit
    assert sum(x["amount_value"] for x in ctx["lines"]) == inv.total == D("21.02000")

    html = invoice_html(inv)
    assert "<title>Invoice INV-0000001</title>" in html
    assert '<td class="num">21.02 USD</td>' in html
    quantities = ["250 MB", "0.29 min", ""]  # 250,000,000 bytes of data, 17.5 s of voice
    rows = [
        f'<tr><td>{t}</td><td class="num">{q}</td><td class="num">{a}</td></tr>'
        for (t, a), q in zip(expected_lines[:3], quantities, strict=True)
    ] + [
        '<tr class="subtotal"><td colspan="2">Subtotal</td><td class="num">17.50123</td></tr>',
        '<tr><td colspan="2">VAT 20% <span class="muted">on 17.51</span></td>'
        '<td class="num">3.51</td></tr>',
        '<tr><td colspan="2">Invoice rounding</td><td class="num">0.00877</td></tr>',
        '<tr class="total"><td colspan="2">Total</td><td class="num">21.02 USD</td></tr>',
    ]
    for row in rows:
        assert row in html, row
    assert "Usage per service" not in html and "Largest charges" not in html

    pdf = render_invoice_pdf(inv)
    assert pdf.startswith(b"%PDF-")
    pdf_text = _pdf_text(pdf)
    if pdf_text is not None:
        assert "INV-0000001" in pdf_text
        assert "21.02 USD" in pdf_text
        lines = pdf_text.splitlines()
        for label, amount in expected_lines:
            assert any(label in x and x.rstrip().endswith(amount) for x in lines), label


@pytest.mark.django_db
def test_detailed_and_compact_templates_are_distinct(admin: Any) -> None:
    """The class chooses the template (detailed here); a customer's override (compact) wins."""
    from weasyprint import HTML

    _legal()
    detailed_cls = _class(admin, "Detailed USD", invoice_template="detailed")
    standard_cls = _class(admin, "Standard USD")
    a = _customer(admin, detailed_cls, "Acme")
    b = _customer(admin, standard_cls, "Bolt", invoice_template="compact")
    _usage_and_fee(admin, a)
    _usage_and_fee(admin, b)
    run(now=TOKYO_FEB1, steps=["close"])
    inv_a = Invoice.objects.get(customer=a)
    inv_b = Invoice.objects.get(customer=b)
    assert (inv_a.template, inv_b.template) == ("detailed", "compact")
    assert inv_a.total == inv_b.total == D("21.02000")

    detailed = invoice_html(inv_a)
    # per-service usage: records and quantities
    assert (
        '<tr><td>Data</td><td class="num">1</td><td class="num">250 MB</td>'
        '<td class="num">5.50</td></tr>'
    ) in detailed
    assert (
        '<tr><td>Voice calls</td><td class="num">2</td><td class="num">0.29 min</td>'
        '<td class="num">10.00123</td></tr>'
    ) in detailed
    # the period's largest charges, biggest first (never the taxes), in Tokyo dates
    assert invoice_context(inv_a)["largest_charges"] == [
        {
            "date": "2027-01-11",
            "description": "Voice calls",
            "quantity": "12",
            "unit": "",
            "amount": "7.001",
        },
        {
            "date": "2027-01-13",
            "description": "Data",
            "quantity": "250000000",
            "unit": "",
            "amount": "5.50",
        },
        {
            "date": "2027-01-12",
            "description": "Voice calls",
            "quantity": "5.5",
            "unit": "",
            "amount": "3.00023",
        },
        {
            "date": "2027-01-14",
            "description": "Manual charge: Setup fee",
            "quantity": "",
            "unit": "",
            "amount": "2.00",
        },
    ]
    assert "Largest charges of the period" in detailed
    assert '<td class="num">21.02 USD</td>' in detailed

    compact = invoice_html(inv_b)
    assert "<title>Invoice INV-0000002</title>" in compact
    groups = [
        ("Usage", "15.50123"),
        ("Other fees", "2.00"),
        ("Taxes", "3.51"),
        ("Rounding", "0.00877"),
    ]
    for label, amount in groups:
        assert f'<tr><td class="label">{label}</td><td class="num">{amount}</td></tr>' in compact
    assert '<td class="num">21.02 USD</td>' in compact
    assert "Voice calls" not in compact and "Largest charges" not in compact
    assert sum(D(a.replace(",", "")) for _, a in groups) == D("21.02")
    # compact is a one-page summary
    assert len(HTML(string=compact, base_url=None).render().pages) == 1


def _statement_setup(admin: Any) -> tuple[Any, Any]:
    """CC-16 on; A's class resets the balance every period and hides the reset (CC-12)."""
    _legal(allow_external_billing=True, show_financial_documents_page=True)
    reset_cls = create_class(
        actor=admin,
        now=T0,
        data={
            "name": "Reset USD",
            "currency": "USD",
            "generate_financial_documentation": True,
            "reset_balance_every_period": True,
            "hide_balance_reset_xdr": True,
        },
    )
    plain_cls = create_class(
        actor=admin,
        now=T0,
        data={"name": "Plain USD", "currency": "USD", "generate_financial_documentation": True},
    )
    a = _customer(admin, reset_cls, "Acme")
    b = _customer(admin, plain_cls, "Bolt")
    for c in (a, b):
        _use(admin, c, "7.00100", T0 + dt.timedelta(days=1), "voice", "12")
        record_transaction(
            actor=admin,
            now=T0 + dt.timedelta(days=5),
            customer_id=c.pk,
            action="manual_payment",
            amount="5",
            visible_comment="Wire 0042",
        )
    return a, b


@pytest.mark.django_db
def test_closing_statement_hides_hidden_rows_and_carries_the_balance(admin: Any) -> None:
    a, b = _statement_setup(admin)
    run(now=TOKYO_FEB1, steps=["close"])
    for c in (a, b):
        _use(admin, c, "3", TOKYO_FEB1 + dt.timedelta(days=2), "data", "100")
    run(now=TOKYO_MAR1, steps=["close"])
    jan_a, feb_a = ClosedPeriod.objects.filter(customer=a).order_by("start")
    jan_b, feb_b = ClosedPeriod.objects.filter(customer=b).order_by("start")
    assert all(p.statement_wanted for p in (jan_a, feb_a, jan_b, feb_b))

    # A, January: usage 7.001, payment -5, invoice rounding 7.001 -> 7.01 (+0.009); the
    # balance reset (-2.01) is hidden but the closing balance is the real one: 0.
    ctx = statement_context(jan_a)
    assert (ctx["period_start"], ctx["period_end"], ctx["closed_date"]) == (
        "2027-01-10",
        "2027-01-31",
        "2027-02-01",
    )
    assert ctx["opening_balance"] == "0.00"
    assert [
        (r["date"], r["action"], r["comment"], r["amount"], r["balance"]) for r in ctx["rows"]
    ] == [
        ("2027-01-11", "Usage charge", "", "7.001", "7.001"),
        ("2027-01-15", "Manual payment", "Wire 0042", "-5.00", "2.001"),
        ("2027-02-01", "Invoice rounding", "Rounding of invoice INV-0000001", "0.009", "2.01"),
    ]
    assert ctx["closing_balance"] == "0.00"
    html = statement_html(jan_a)
    assert "Balance reset" not in html
    assert '<td class="num">0.00 USD</td>' in html
    # February opens at January's closing balance
    ctx = statement_context(feb_a)
    assert (ctx["opening_balance"], ctx["closing_balance"]) == ("0.00", "0.00")

    # B (no reset): January closes at 2.01 owed, February opens there and adds 3.00.
    ctx = statement_context(jan_b)
    assert (ctx["opening_balance"], ctx["closing_balance"]) == ("0.00", "2.01")
    ctx = statement_context(feb_b)
    assert ctx["opening_balance"] == "2.01"
    assert [(r["action"], r["amount"], r["balance"]) for r in ctx["rows"]] == [
        ("Usage charge", "3.00", "5.01"),
    ]
    assert ctx["closing_balance"] == "5.01"
    assert (ctx["period_start"], ctx["period_end"]) == ("2027-02-01", "2027-02-28")


@pytest.mark.django_db
def test_render_pending_renders_each_document_once(admin: Any) -> None:
    """The engine's documents step: invoice PDF and CC-16 statement, each stored once."""
    from billcore.invoicing.documents import save_invoice_pdf

    _legal(show_financial_documents_page=True)
    cls = _class(admin, generate_financial_documentation=True)
    c = _customer(admin, cls)
    _use(admin, c, "7.00100", T0 + dt.timedelta(days=1), "voice", "12")
    run(now=TOKYO_FEB1, steps=["close"])
    inv = Invoice.objects.get(customer=c)
    period = ClosedPeriod.objects.get(customer=c)
    assert (inv.pdf, period.statement_wanted, period.statement_pdf) == (None, True, None)

    assert render_pending(now=TOKYO_FEB1, limit=1) == 1  # the invoice first
    inv.refresh_from_db()
    period.refresh_from_db()
    assert _stored(inv.pdf).startswith(b"%PDF-") and period.statement_pdf is None
    assert run(now=TOKYO_FEB1, steps=["documents"]).pdfs == 1  # the statement
    period.refresh_from_db()
    assert _stored(period.statement_pdf).startswith(b"%PDF-")
    # nothing left: a second run renders nothing
    assert render_pending(now=TOKYO_FEB1) == 0
    assert run(now=TOKYO_FEB1, steps=["documents"]).pdfs == 0
    # the guarded UPDATE never overwrites a stored PDF (another engine process won)
    stored = _stored(inv.pdf)
    assert save_invoice_pdf(inv.pk, b"%PDF-other") is False
    inv.refresh_from_db()
    assert _stored(inv.pdf) == stored
