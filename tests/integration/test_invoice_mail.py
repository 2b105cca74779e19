"""Invoice and statistics e-mail over SMTP (issue 4 section 5; CC-08, CC-11, CC-13).

Every test sends through a real SMTP server on loopback (aiosmtpd) and reads what arrived.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import socket
from collections.abc import Iterator
from decimal import Decimal as D
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from billcore.charging.models import Xdr
from billcore.charging.services import charge, parse_usage
from billcore.classes.services import create_class
from billcore.engine import run
from billcore.installation.models import InstallationSettings
from billcore.invoicing.mail import send_pending
from billcore.invoicing.models import Invoice
from billcore.ledger.customers import create_customer
from billcore.notifications.models import OutboundEmail
from billcore.notifications.outbox import NO_FROM

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2027, 1, 10, 9, 0, tzinfo=dt.UTC)
FEB1 = dt.datetime(2027, 2, 1, tzinfo=dt.UTC)
LATER = FEB1 + dt.timedelta(hours=1)


class Inbox:
    """An aiosmtpd handler keeping every envelope it accepts."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(e.content, policy=email.policy.default) for e in self.envelopes
        ]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def inbox(settings: Any) -> Iterator[Inbox]:
    """A real SMTP server on 127.0.0.1, and Django's SMTP settings pointing at it."""
    handler = Inbox()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    try:
        yield handler
    finally:
        controller.stop()


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


def _customer(admin: Any, cls: Any, name: str = "Acme", **data: Any) -> Any:
    return create_customer(
        actor=admin,
        now=T0,
        data={
            "name": name,
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": cls.pk,
            "email": f"billing@{name.lower()}.example",
            **data,
        },
    )


def _use(admin: Any, customer: Any, amount: str, at: dt.datetime, service: str, qty: str) -> None:
    usage = parse_usage(service=service, amount=amount, quantity=qty, started_at=at, now=at)
    result = charge(actor=admin, now=at, customer_id=customer.pk, usage=usage)
    assert result.allowed, result


def _usage(admin: Any, c: Any) -> None:
    _use(admin, c, "7.00100", T0 + dt.timedelta(days=1), "voice", "12")
    _use(admin, c, "3.00023", T0 + dt.timedelta(days=2), "voice", "5.5")
    _use(admin, c, "5.5", T0 + dt.timedelta(days=3), "data", "250")


def _text(msg: EmailMessage) -> str:
    """The plain-text body, with the wire's CRLF line ends back to LF."""
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content()).replace("\r\n", "\n")


def _attachments(msg: EmailMessage) -> list[tuple[str, str, Any]]:
    return [
        (str(part.get_filename()), part.get_content_type(), part.get_content())
        for part in msg.iter_attachments()
    ]


def test_invoice_email_from_installation_address_with_pdf(admin: Any, inbox: Inbox) -> None:
    """CC-08 default: the installation's legal-info name and address."""
    _legal()
    cls = create_class(
        actor=admin,
        now=T0,
        data={
            "name": "Postpaid USD",
            "currency": "USD",
            "taxation_method": "fixed_vat",
            "vat_rate": "20",
        },
    )
    c = _customer(admin, cls)
    _usage(admin, c)
    report = run(now=FEB1, steps=["close", "mail"])
    assert (report.invoices, report.emails_sent, report.emails_failed, report.emails_pending) == (
        1,
        1,
        0,
        0,
    )
    assert report.notes == []
    [envelope] = inbox.envelopes
    assert envelope.mail_from == "billing@northwind.example"
    assert envelope.rcpt_tos == ["billing@acme.example"]
    [msg] = inbox.messages()
    assert msg["From"] == "Northwind Billing <billing@northwind.example>"
    assert msg["To"] == "billing@acme.example"
    assert msg["Subject"] == "Invoice INV-0000001 from Northwind Telecom Ltd"
    # charges 15.50123 -> base 15.51 -> VAT 3.11 (3.102 rounded up) -> total 18.62
    assert _text(msg) == (
        "Dear Acme,\n"
        "\n"
        "your invoice INV-0000001 of 2027-02-01 for the period 2027-01-10 to 2027-01-31 is "
        "attached as a PDF.\n"
        "\n"
        "  Data                                       5.50 USD\n"
        "  Voice calls                            10.00123 USD\n"
        "  VAT 20%                                    3.11 USD\n"
        "  Invoice rounding                        0.00877 USD\n"
        "  Total                                     18.62 USD\n"
        "  Amount due                                18.62 USD\n"
        "  Due date                                 2027-02-11\n"
        "\n"
        "Previous balance 0.00 USD, payments and refunds 0.00 USD, balance after this invoice "
        "18.62 USD.\n"
        "\n"
        "Northwind Telecom Ltd\n"
    )
    [(name, ctype, pdf)] = _attachments(msg)
    assert (name, ctype) == ("INV-0000001.pdf", "application/pdf")
    assert pdf.startswith(b"%PDF-")
    # the mail step rendered the missing PDF and stored it: the documents step has nothing
    inv = Invoice.objects.get(customer=c)
    assert inv.total == D("18.62000")
    assert inv.pdf is not None and bytes(inv.pdf) == pdf
    assert run(now=FEB1, steps=["documents"]).pdfs == 0
    row = OutboundEmail.objects.get(customer=c)
    assert (row.kind, row.status, row.sent_at, row.attempts, row.last_error) == (
        "invoice",
        "sent",
        FEB1,
        1,
        "",
    )
    assert (row.to_address, row.from_address, row.subject) == (
        "billing@acme.example",
        "Northwind Billing <billing@northwind.example>",
        "Invoice INV-0000001 from Northwind Telecom Ltd",
    )
    # a second mail run sends nothing
    again = send_pending(now=LATER)
    assert (again.sent, again.failed, again.pending, again.note) == (0, 0, 0, "")
    assert len(inbox.envelopes) == 1


def test_statistics_full_csv_and_summary_from_class_override(admin: Any, inbox: Inbox) -> None:
    """CC-11 full (CSV of the period's xDRs) and summary (totals in the body); CC-08 the
    class's own From when its override is on."""
    _legal()
    cls = create_class(
        actor=admin,
        now=T0,
        data={
            "name": "Reseller USD",
            "currency": "USD",
            "notification_from_override": True,
            "notification_from_name": "Bolt Reseller Billing",
            "notification_from_address": "invoices@bolt-reseller.example",
            "send_invoices_by_email": False,
            "generate_statistics": True,
            "send_statistics": "full",
        },
    )
    full = _customer(admin, cls, "Acme")
    short = _customer(admin, cls, "Bolt", send_statistics="summary")
    _usage(admin, full)
    _usage(admin, short)
    assert run(now=FEB1, steps=["close"]).invoices == 2
    # usage after the period's end (before the mail goes) is not in January's statistics
    _use(admin, full, "1.5", FEB1 + dt.timedelta(minutes=10), "voice", "3")
    report = run(now=LATER, steps=["mail"])
    assert (report.emails_sent, report.emails_failed, report.emails_pending) == (2, 0, 0)
    by_to = {e.rcpt_tos[0]: e for e in inbox.envelopes}
    assert sorted(by_to) == ["billing@acme.example", "billing@bolt.example"]
    assert {e.mail_from for e in inbox.envelopes} == {"invoices@bolt-reseller.example"}
    messages = {m["To"]: m for m in inbox.messages()}

    m = messages["billing@acme.example"]
    assert m["From"] == "Bolt Reseller Billing <invoices@bolt-reseller.example>"
    assert m["Subject"] == "Usage statistics 2027-01-10 to 2027-01-31 from Bolt Reseller Billing"
    assert _text(m) == (
        "Dear Acme,\n\nthe usage records of your billing period 2027-01-10 to 2027-01-31 are "
        "attached (3 records).\n\nBolt Reseller Billing\n"
    )
    [(name, ctype, content)] = _attachments(m)
    assert (name, ctype) == ("statistics-2027-01-10-2027-01-31.csv", "text/csv")
    v1, v2, d1 = (
        Xdr.objects.filter(customer=full, started_at__lt=FEB1)
        .order_by("started_at")
        .values_list("pk", flat=True)
    )
    assert content.splitlines() == [
        "id,started_at,account,service,quantity,unit,amount,status,deny_reason,external_id,details",
        f"{v1},2027-01-11T09:00:00+00:00,,voice,12.00000,,7.00100,charged,,,",
        f"{v2},2027-01-12T09:00:00+00:00,,voice,5.50000,,3.00023,charged,,,",
        f"{d1},2027-01-13T09:00:00+00:00,,data,250.00000,,5.50000,charged,,,",
    ]

    m = messages["billing@bolt.example"]
    assert m["From"] == "Bolt Reseller Billing <invoices@bolt-reseller.example>"
    assert _attachments(m) == []
    assert _text(m) == (
        "Dear Bolt,\n"
        "\n"
        "your usage in the billing period 2027-01-10 to 2027-01-31:\n"
        "\n"
        "  Data: 1 record, quantity 250, 5.50 USD\n"
        "  Voice calls: 2 records, quantity 17.5, 10.00123 USD\n"
        "\n"
        "Total: 15.50123 USD\n"
        "\n"
        "Bolt Reseller Billing\n"
    )
    rows = OutboundEmail.objects.order_by("id")
    assert [(r.kind, r.variant, r.status, r.from_address) for r in rows] == [
        ("statistics", "full", "sent", "Bolt Reseller Billing <invoices@bolt-reseller.example>"),
        ("statistics", "summary", "sent", "Bolt Reseller Billing <invoices@bolt-reseller.example>"),
    ]
    assert send_pending(now=LATER).sent == 0
    assert len(inbox.envelopes) == 2


def test_no_from_address_makes_the_invoice_email_wait(admin: Any, inbox: Inbox) -> None:
    """CC-08, issue 17 §6: neither the class's override nor the installation's legal info
    gives a From: the invoice e-mail waits (pending, no attempt) instead of failing."""
    InstallationSettings.objects.update_or_create(pk=1, defaults={"legal_name": "Northwind"})
    cls = create_class(actor=admin, now=T0, data={"name": "Plain USD", "currency": "USD"})
    c = _customer(admin, cls)
    _usage(admin, c)
    report = run(now=FEB1, steps=["close", "mail"])
    assert (report.emails_sent, report.emails_failed, report.emails_pending) == (0, 0, 1)
    row = OutboundEmail.objects.get(customer=c)
    assert (row.status, row.last_error, row.attempts, row.sent_at) == ("pending", "", 0, None)
    assert NO_FROM == "no From address: set the installation's legal info (CC-08)"
    assert inbox.envelopes == []


def test_smtp_not_configured_sends_nothing(admin: Any, settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = ""
    _legal()
    cls = create_class(actor=admin, now=T0, data={"name": "Plain USD", "currency": "USD"})
    c = _customer(admin, cls)
    _usage(admin, c)
    report = run(now=FEB1, steps=["close", "mail"])
    assert (report.emails_sent, report.emails_failed, report.emails_pending) == (0, 0, 1)
    assert report.notes == ["SMTP is not configured (BILLCORE_SMTP_HOST): 1 e-mails pending"]
    row = OutboundEmail.objects.get(customer=c)
    assert (row.status, row.attempts, row.last_error, row.from_address) == ("pending", 0, "", "")


def test_smtp_failure_keeps_the_email_pending_then_gives_up(
    admin: Any, inbox: Inbox, settings: Any
) -> None:
    _legal()
    cls = create_class(actor=admin, now=T0, data={"name": "Plain USD", "currency": "USD"})
    c = _customer(admin, cls)
    _usage(admin, c)
    run(now=FEB1, steps=["close"])
    real_port = settings.EMAIL_PORT
    settings.EMAIL_PORT = _free_port()  # nothing listens there
    report = send_pending(now=FEB1)
    assert (report.sent, report.failed, report.pending) == (0, 1, 1)
    row = OutboundEmail.objects.get(customer=c)
    assert (row.status, row.attempts, row.sent_at) == ("pending", 1, None)
    assert row.last_error.startswith("ConnectionRefusedError: ")
    assert inbox.envelopes == []
    # the server is back: the next run sends it
    settings.EMAIL_PORT = real_port
    report = send_pending(now=LATER)
    assert (report.sent, report.failed, report.pending) == (1, 0, 0)
    row.refresh_from_db()
    assert (row.status, row.attempts, row.sent_at, row.last_error) == ("sent", 2, LATER, "")
    assert [m["Subject"] for m in inbox.messages()] == [
        "Invoice INV-0000001 from Northwind Telecom Ltd"
    ]
    # the 5th failed attempt gives up
    OutboundEmail.objects.filter(pk=row.pk).update(status="pending", attempts=4, sent_at=None)
    settings.EMAIL_PORT = _free_port()
    report = send_pending(now=LATER)
    assert (report.sent, report.failed, report.pending) == (0, 1, 0)
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("failed", 5)
    assert row.last_error.startswith("ConnectionRefusedError: ")
