"""Invoices with a seller (issue 17 §6): invoice and credit-note e-mails wait while the
seller's legal name or From address is missing, and go out once they are saved; the PDF's
seller and customer blocks, usage quantities with units, payment instructions; the settings'
validation. Every e-mail goes through a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from decimal import Decimal as D
from typing import Any

import pytest

from billcore.charging.services import charge, parse_usage
from billcore.classes.services import create_class
from billcore.engine import run
from billcore.engine.status import engine_status
from billcore.errors import ValidationFailed
from billcore.installation.models import InstallationSettings
from billcore.installation.services import update_settings
from billcore.invoicing.actions import void_invoice
from billcore.invoicing.documents import invoice_html, render_invoice_pdf, usage_quantity
from billcore.invoicing.mail import send_pending
from billcore.invoicing.models import Invoice
from billcore.ledger.customers import create_customer
from billcore.notifications.models import OutboundEmail
from billcore.notifications.selectors import notification_log
from tests.integration import test_invoice_mail
from tests.integration.test_invoice_mail import Inbox

inbox = test_invoice_mail.inbox  # the loopback SMTP server fixture

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2027, 1, 10, 9, 0, tzinfo=dt.UTC)
FEB1 = dt.datetime(2027, 2, 1, tzinfo=dt.UTC)
LATER = FEB1 + dt.timedelta(hours=1)
SELLER = {
    "legal_name": "Northwind Telecom Ltd",
    "notification_from_name": "Northwind Billing",
    "notification_from_address": "billing@northwind.example",
    "seller_address_line1": "1 Harbour Street",
    "seller_postal_code": "EC1A 1AA",
    "seller_city": "London",
    "seller_country": "GB",
    "seller_tax_number": "GB123456789",
    "payment_instructions": "Bank: Northwind Bank\nIBAN: GB33BUKB20201555555555",
}


def _setup(admin: Any) -> Any:
    cls = create_class(
        actor=admin,
        now=T0,
        data={"name": "Retail USD", "currency": "USD", "send_invoices_by_email": True},
    )
    c = create_customer(
        actor=admin,
        now=T0,
        data={
            "name": "Acme",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": cls.pk,
            "email": "billing@acme.example",
            "company_name": "Acme Trading GmbH",
            "address_line1": "Hauptstraße 5",
            "zip_code": "10115",
            "city": "Berlin",
            "country": "DE",
        },
    )
    for at, service, qty, unit, amount in (
        (T0 + dt.timedelta(days=1), "voice", "750", "s", "7.50"),
        (T0 + dt.timedelta(days=2), "data", "250000000", "byte", "5.00"),
        (T0 + dt.timedelta(days=3), "messaging", "3", "message", "0.30"),
    ):
        usage = parse_usage(
            service=service, amount=amount, quantity=qty, unit=unit, started_at=at, now=at
        )
        assert charge(actor=admin, now=at, customer_id=c.pk, usage=usage).allowed
    return c


def test_usage_quantity_units() -> None:
    assert usage_quantity("voice", D("750"), "s") == "12.5 min"
    assert usage_quantity("voice", D("100"), "second") == "1.67 min"
    assert usage_quantity("data", D("250000000"), "byte") == "250 MB"
    assert usage_quantity("data", D("1.5"), "MB") == "1.5 MB"
    assert usage_quantity("data", D("393000000"), "") == "393 MB"  # no unit: bytes
    assert usage_quantity("messaging", D("1"), "message") == "1 message"
    assert usage_quantity("messaging", D("3"), "") == "3 messages"
    assert usage_quantity("other", D("4"), "unit") == "4 unit"


def test_invoice_email_waits_for_seller_details_then_goes_out(admin: Any, inbox: Inbox) -> None:
    c = _setup(admin)
    report = run(now=FEB1, steps=["close", "documents", "mail"])
    assert (report.emails_sent, report.emails_failed, report.emails_pending) == (0, 0, 1)
    row = OutboundEmail.objects.get(customer=c)
    assert (row.kind, row.status, row.attempts, row.last_error) == ("invoice", "pending", 0, "")
    [entry] = notification_log(actor=admin, customer_id=c.pk)
    assert entry.waiting == "seller details missing: legal name, From address"
    assert engine_status(actor=admin, now=LATER).emails_pending_reasons == [
        "seller details missing: legal name, From address: 1 invoice or credit-note e-mail "
        "waits until they are filled in (Settings)"
    ]
    assert inbox.envelopes == []

    update_settings(actor=admin, now=LATER, changes={"legal_name": "Northwind Telecom Ltd"})
    assert send_pending(now=LATER).sent == 0
    [entry] = notification_log(actor=admin, customer_id=c.pk)
    assert entry.waiting == "seller details missing: From address"

    update_settings(actor=admin, now=LATER, changes=SELLER)
    report2 = send_pending(now=LATER)
    assert (report2.sent, report2.waiting, report2.pending) == (1, 0, 0)
    [msg] = inbox.messages()
    assert msg["From"] == "Northwind Billing <billing@northwind.example>"
    assert msg["Subject"] == "Invoice INV-0000001 from Northwind Telecom Ltd"
    assert notification_log(actor=admin, customer_id=c.pk)[0].waiting == ""
    assert engine_status(actor=admin, now=LATER).emails_pending_reasons == []


def test_void_emails_the_credit_note_with_the_same_waiting_rule(admin: Any, inbox: Inbox) -> None:
    c = _setup(admin)
    update_settings(actor=admin, now=T0, changes=SELLER)
    run(now=FEB1, steps=["close", "documents", "mail"])
    invoice = Invoice.objects.get(customer=c)
    assert len(inbox.envelopes) == 1
    # the From address goes: the credit note waits
    update_settings(actor=admin, now=LATER, changes={"notification_from_address": ""})
    note = void_invoice(actor=admin, now=LATER, invoice_id=invoice.pk, reason="wrong rate")
    row = OutboundEmail.objects.get(customer=c, kind="credit_note")
    assert (row.status, row.invoice_id) == ("pending", invoice.pk)
    assert send_pending(now=LATER).waiting == 1
    assert notification_log(actor=admin, customer_id=c.pk)[0].waiting == (
        "seller details missing: From address"
    )
    update_settings(
        actor=admin, now=LATER, changes={"notification_from_address": "billing@northwind.example"}
    )
    assert send_pending(now=LATER).sent == 1
    msg = inbox.messages()[1]
    assert msg["From"] == "Northwind Billing <billing@northwind.example>"
    assert msg["Subject"] == (
        f"Credit note {note.number} for invoice INV-0000001 from Northwind Telecom Ltd"
    )
    [pdf] = [p for p in msg.iter_attachments()]
    assert pdf.get_filename() == f"{note.number}.pdf"
    assert pdf.get_content().startswith(b"%PDF-")
    assert note.number == "CN-0000001"


def _pdf_text(pdf: bytes) -> str | None:
    if shutil.which("pdftotext") is None:
        return None
    out = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True)
    return out.stdout.decode()


def test_invoice_document_seller_customer_usage_payment(admin: Any) -> None:
    c = _setup(admin)
    update_settings(actor=admin, now=T0, changes=SELLER)
    c.custom_fields = {"tax_id": "DE987654321"}
    c.save(update_fields=["custom_fields"])
    run(now=FEB1, steps=["close"])
    invoice = Invoice.objects.get(customer=c)
    html = invoice_html(invoice)
    for line in (
        '<div class="issuer">Northwind Telecom Ltd</div>',
        "<div>1 Harbour Street</div>",
        "<div>EC1A 1AA London</div>",
        "<div>Britain (UK)</div>",
        "<div>Tax number: GB123456789</div>",
        '<div class="name">Acme</div>',
        "<div>Acme Trading GmbH</div>",
        "<div>Hauptstraße 5</div>",
        "<div>10115 Berlin</div>",
        "<div>Germany</div>",
        "<div>Tax ID: DE987654321</div>",
        '<tr><td>Voice calls</td><td class="num">12.5 min</td><td class="num">7.50</td></tr>',
        '<tr><td>Data</td><td class="num">250 MB</td><td class="num">5.00</td></tr>',
        '<tr><td>Messaging</td><td class="num">3 messages</td><td class="num">0.30</td></tr>',
        '<tr class="total"><td colspan="2">Total</td><td class="num">12.80 USD</td></tr>',
        "<div>Bank: Northwind Bank</div>",
        "<div>IBAN: GB33BUKB20201555555555</div>",
    ):
        assert line in html, line
    # no subtotal line repeating the total when neither taxes nor rounding follow
    assert "Subtotal" not in html and ">Charges<" not in html.replace("<h2>Charges</h2>", "")
    text = _pdf_text(render_invoice_pdf(invoice))
    if text is not None:
        assert text.count("Charges") == 1  # the heading only
        assert "Tax number: GB123456789" in text and "Tax ID: DE987654321" in text
        assert "12.5 min" in text and "IBAN: GB33BUKB20201555555555" in text


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"seller_country": "Germany"}, "seller_country"),
        ({"seller_postal_code": "x" * 21}, "seller_postal_code"),
        ({"seller_tax_number": "x" * 51}, "seller_tax_number"),
        ({"seller_city": "a\nb"}, "seller_city"),
        ({"notification_from_address": "not-an-address"}, "notification_from_address"),
    ],
)
def test_settings_validation_names_the_field(admin: Any, changes: Any, field: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        update_settings(actor=admin, now=T0, changes=changes)
    assert exc.value.field == field
    assert InstallationSettings.objects.get_or_create(pk=1)[0].missing_seller_details() == [
        "legal name",
        "From address",
    ]
