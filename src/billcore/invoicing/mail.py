"""The engine's ``mail`` step: the queued invoice and statistics e-mails over SMTP (issue 4
section 5, CC-08, CC-11), and the notifications (issue 5 §4) with the subject and body stored
when they were queued.

Each pending ``OutboundEmail`` (oldest first) is built, then *claimed* by a guarded
``UPDATE … SET attempts = attempts + 1 WHERE status = 'pending' AND attempts = <read>``, so two
engine processes that read it at the same time never both send it; it is sent through Django's
mail API, and marked ``sent`` by a guarded ``UPDATE`` from ``pending``. An SMTP error leaves it
``pending`` with ``last_error`` for the next run, until the 5th failed attempt marks it
``failed``. A crash after the SMTP server took the message but before it is marked leaves it
pending: it is sent again by the next run (SMTP gives no way to ask whether a message arrived).

From (CC-08): the class's own name and address when its override is on, otherwise the
installation's legal-info ones; with neither the e-mail fails at once, naming the fix.

With no SMTP host configured (``BILLCORE_SMTP_HOST``) nothing is sent and the report says so.
"""

from __future__ import annotations

import datetime as dt
import smtplib
from dataclasses import dataclass
from email.utils import formataddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import F

from billcore.charging.models import Xdr
from billcore.charging.selectors import summary, xdrs_csv
from billcore.core.invoices import SERVICE_TEXT
from billcore.core.money import format_money
from billcore.installation.models import InstallationSettings
from billcore.invoicing.documents import (
    customer_zone,
    format_quantity,
    last_day,
    local_day,
    render_invoice_pdf,
    save_invoice_pdf,
)
from billcore.invoicing.models import (
    EmailKind,
    EmailStatus,
    Invoice,
    InvoiceLine,
    LineKind,
    OutboundEmail,
)
from billcore.invoicing.summary import summary_labels

MAX_ATTEMPTS = 5
NO_FROM = "no From address: set the installation's legal info (CC-08)"


@dataclass
class MailReport:
    sent: int = 0  # e-mails handed to the SMTP server in this run
    failed: int = 0  # e-mails whose sending failed in this run (retried or given up)
    pending: int = 0  # e-mails still pending after this run
    note: str = ""


class MailBuildError(Exception):
    """The e-mail cannot be built (no From address, unknown kind): it fails at once."""


@dataclass
class Built:
    message: EmailMessage
    to_address: str
    from_address: str
    subject: str


def _installation() -> InstallationSettings:
    inst, _ = InstallationSettings.objects.get_or_create(pk=1)
    return inst


def from_address(customer: Any, inst: InstallationSettings) -> str:
    """CC-08: the class's override when on, else the installation's legal-info address."""
    cls = customer.customer_class
    if cls.notification_from_override and cls.notification_from_address:
        return formataddr((cls.notification_from_name, cls.notification_from_address))
    if inst.notification_from_address:
        return formataddr((inst.notification_from_name, inst.notification_from_address))
    raise MailBuildError(NO_FROM)


def _sender_name(customer: Any, inst: InstallationSettings) -> str:
    """Who the e-mail is from, in words: the class's From name when its override is on (a
    reseller's class speaks for the reseller), else the installation's legal name."""
    cls = customer.customer_class
    if cls.notification_from_override and cls.notification_from_name:
        return str(cls.notification_from_name)
    return str(inst.legal_name or inst.notification_from_name)


def _records(n: int) -> str:
    return f"{n} record" if n == 1 else f"{n} records"


def _row(label: str, value: str, width: int = 34) -> str:
    return f"  {label:<{width}} {value:>16}"


def _invoice_pdf(invoice: Invoice) -> bytes:
    stored = Invoice.objects.filter(pk=invoice.pk).values_list("pdf", flat=True).first()
    if stored is not None:
        return bytes(stored)
    pdf = render_invoice_pdf(invoice)
    save_invoice_pdf(invoice.pk, pdf)
    return pdf


def _invoice_message(email: OutboundEmail, inst: InstallationSettings, sender: str) -> Built:
    invoice = email.invoice
    if invoice is None:
        raise MailBuildError("invoice e-mail without an invoice")
    customer = email.customer
    zone = customer_zone(customer)
    d = invoice.decimals
    cur = invoice.currency
    name = _sender_name(customer, inst)
    subject = f"Invoice {invoice.number} from {name}" if name else f"Invoice {invoice.number}"
    lines = list(InvoiceLine.objects.filter(invoice=invoice).order_by("position"))
    labels = summary_labels(invoice)
    body = [
        f"Dear {customer.name},",
        "",
        f"your invoice {invoice.number} of {local_day(invoice.issued_at, zone)} for the period "
        f"{local_day(invoice.period_start, zone)} to "
        f"{last_day(invoice.period_end, invoice.period_start, zone)} is attached as a PDF.",
        "",
    ]
    for line in lines:
        text = line.description
        if line.kind == LineKind.TAX_INCLUDED:
            text = f"({text})"
        body.append(_row(text, f"{format_money(line.amount, d)} {cur}"))
    body += [
        _row("Total", f"{format_money(invoice.total, d)} {cur}"),
        _row("Amount due", f"{format_money(invoice.amount_due, d)} {cur}"),
        _row("Due date", local_day(invoice.due_at, zone)),
        "",
        f"{labels['previous_balance']} {format_money(invoice.previous_balance, d)} {cur}, "
        f"{labels['payments'].lower()} {format_money(invoice.payments, d)} {cur}, "
        f"{labels['balance_after'].lower()} {format_money(invoice.balance_after, d)} {cur}.",
        "",
        name,
    ]
    message = EmailMessage(
        subject=subject,
        body="\n".join(body).rstrip() + "\n",
        from_email=sender,
        to=[email.to_address],
    )
    message.attach(f"{invoice.number}.pdf", _invoice_pdf(invoice), "application/pdf")
    return Built(message, email.to_address, sender, subject)


def _statistics_message(email: OutboundEmail, inst: InstallationSettings, sender: str) -> Built:
    period = email.period
    if period is None:
        raise MailBuildError("statistics e-mail without a period")
    customer = email.customer
    zone = customer_zone(customer)
    d = customer.currency.decimals
    cur = customer.currency_id
    first, last = local_day(period.start, zone), last_day(period.end, period.start, zone)
    name = _sender_name(customer, inst)
    subject = f"Usage statistics {first} to {last}" + (f" from {name}" if name else "")
    rows = (
        Xdr.objects.filter(customer_id=customer.pk, started_at__gte=period.start)
        .filter(started_at__lt=period.end)
        .select_related("account")
        .order_by("started_at", "id")
    )
    body = [f"Dear {customer.name},", ""]
    csv_text: str | None = None
    if email.variant == "full":
        csv_text = "".join(xdrs_csv(rows))
        records = rows.count()
        body += [
            f"the usage records of your billing period {first} to {last} are attached "
            f"({_records(records)}).",
        ]
    else:
        stats = summary(rows)
        body += [f"your usage in the billing period {first} to {last}:", ""]
        for s in stats["services"]:
            label = SERVICE_TEXT.get(s["service"], s["service"])
            text = (
                f"{label}: {_records(s['charged'])}, quantity {format_quantity(s['quantity'])}, "
                f"{format_money(s['amount'], d)} {cur}"
            )
            if s["denied"]:
                text += f" ({s['denied']} denied)"
            body.append("  " + text)
        if not stats["services"]:
            body.append("  no usage")
        body += ["", f"Total: {format_money(stats['total_amount'], d)} {cur}"]
    body += ["", name]
    message = EmailMessage(
        subject=subject,
        body="\n".join(body).rstrip() + "\n",
        from_email=sender,
        to=[email.to_address],
    )
    if csv_text is not None:
        message.attach(f"statistics-{first}-{last}.csv", csv_text, "text/csv")
    return Built(message, email.to_address, sender, subject)


def _notification_message(email: OutboundEmail, sender: str) -> Built:
    """A notification (issue 5 §4): its subject and body were rendered when it was queued
    (``billcore.notifications.services.notify``); sent as stored."""
    if not email.subject or not email.body:
        raise MailBuildError("notification e-mail without a subject or a body")
    message = EmailMessage(
        subject=email.subject, body=email.body, from_email=sender, to=[email.to_address]
    )
    return Built(message, email.to_address, sender, email.subject)


def build_message(email: OutboundEmail, inst: InstallationSettings) -> Built:
    to = email.to_address or email.customer.email
    if not to:
        raise MailBuildError("no To address: the customer has no e-mail address")
    email.to_address = to
    sender = from_address(email.customer, inst)
    if email.kind == EmailKind.INVOICE:
        return _invoice_message(email, inst, sender)
    if email.kind == EmailKind.STATISTICS:
        return _statistics_message(email, inst, sender)
    if email.kind == EmailKind.NOTIFICATION:
        return _notification_message(email, sender)
    raise MailBuildError(f"the mail step does not build {email.kind!r} e-mails")


def _pending_count() -> int:
    return OutboundEmail.objects.filter(status=EmailStatus.PENDING).count()


def send_pending(*, now: dt.datetime, connection: Any = None) -> MailReport:
    """Send every pending e-mail, oldest first (see the module docstring)."""
    report = MailReport()
    if connection is None and not settings.EMAIL_HOST:
        pending = _pending_count()
        report.pending = pending
        report.note = f"SMTP is not configured (BILLCORE_SMTP_HOST): {pending} e-mails pending"
        return report
    inst = _installation()
    conn = connection if connection is not None else get_connection(fail_silently=False)
    ids = list(
        OutboundEmail.objects.filter(status=EmailStatus.PENDING)
        .order_by("created_at", "id")
        .values_list("pk", flat=True)
    )
    try:
        for pk in ids:
            _send_one(pk, now=now, inst=inst, conn=conn, report=report)
    finally:
        _reset(conn)
    report.pending = _pending_count()
    return report


def _reset(conn: Any) -> None:
    """Drop a broken connection so the next message opens a fresh one."""
    try:
        conn.close()
    except (smtplib.SMTPException, OSError):
        pass


def _send_one(
    pk: int, *, now: dt.datetime, inst: InstallationSettings, conn: Any, report: MailReport
) -> None:
    email = (
        OutboundEmail.objects.select_related(
            "customer", "customer__customer_class", "customer__currency", "invoice", "period"
        )
        .filter(pk=pk, status=EmailStatus.PENDING)
        .first()
    )
    if email is None:
        return  # another process sent it meanwhile
    mine = OutboundEmail.objects.filter(pk=pk, status=EmailStatus.PENDING)
    try:
        built = build_message(email, inst)
    except MailBuildError as exc:
        with transaction.atomic():
            if mine.update(status=EmailStatus.FAILED, last_error=str(exc)[:500]):
                report.failed += 1
        return
    # Claim: only the process whose read is still current sends it.
    with transaction.atomic():
        claimed = mine.filter(attempts=email.attempts).update(
            attempts=F("attempts") + 1,
            to_address=built.to_address[:254],
            from_address=built.from_address[:300],
            subject=built.subject[:300],
        )
    if not claimed:
        return
    try:
        conn.send_messages([built.message])
    except (smtplib.SMTPException, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
        _reset(conn)
        status = EmailStatus.FAILED if email.attempts + 1 >= MAX_ATTEMPTS else EmailStatus.PENDING
        with transaction.atomic():
            mine.update(status=status, last_error=error)
        report.failed += 1
        return
    with transaction.atomic():
        if mine.update(status=EmailStatus.SENT, sent_at=now, last_error=""):
            report.sent += 1
