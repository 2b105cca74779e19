"""The invoice and usage-statistics e-mails (issue 4 section 5, CC-08, CC-11): how each is
built from the invoice or the closed period it is about, and the engine's ``mail`` step, which
is the outbox's sender (``billcore.notifications.outbox``: claiming, sending, retries) given
these builders.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.mail import EmailMessage

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
    render_credit_note_pdf,
    render_invoice_pdf,
    save_credit_note_pdf,
    save_invoice_pdf,
)
from billcore.invoicing.models import (
    ClosedPeriod,
    CreditNote,
    Invoice,
    InvoiceLine,
    InvoicePdf,
    LineKind,
)
from billcore.invoicing.summary import summary_labels
from billcore.notifications import outbox
from billcore.notifications.models import EmailKind, OutboundEmail
from billcore.notifications.outbox import Built, MailBuildError, MailReport, sender_name


def _records(n: int) -> str:
    return f"{n} record" if n == 1 else f"{n} records"


def _row(label: str, value: str, width: int = 34) -> str:
    return f"  {label:<{width}} {value:>16}"


def _invoice_pdf(invoice: Invoice) -> bytes:
    # The newest version (issue 17: a re-render is a new version; the first is kept).
    stored = (
        InvoicePdf.objects.filter(invoice_id=invoice.pk)
        .order_by("-version")
        .values_list("pdf", flat=True)
        .first()
    )
    if stored is None:
        stored = Invoice.objects.filter(pk=invoice.pk).values_list("pdf", flat=True).first()
    if stored is not None:
        return bytes(stored)
    pdf = render_invoice_pdf(invoice)
    save_invoice_pdf(invoice.pk, pdf)
    return pdf


def _invoice_message(email: OutboundEmail, inst: InstallationSettings, sender: str) -> Built:
    invoice = Invoice.objects.filter(pk=email.invoice_id).first() if email.invoice_id else None
    if invoice is None:
        raise MailBuildError("invoice e-mail without an invoice")
    customer = email.customer
    zone = customer_zone(customer)
    d = invoice.decimals
    cur = invoice.currency
    name = sender_name(customer.customer_class, inst)
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


def _credit_note_pdf(note: CreditNote) -> bytes:
    stored = CreditNote.objects.filter(pk=note.pk).values_list("pdf", flat=True).first()
    if stored is not None:
        return bytes(stored)
    pdf = render_credit_note_pdf(note)
    save_credit_note_pdf(note.pk, pdf)
    return pdf


def _credit_note_message(email: OutboundEmail, inst: InstallationSettings, sender: str) -> Built:
    """The credit note that voided an invoice (issue 17), with its PDF; ``invoice_id`` names
    the voided invoice."""
    note = (
        CreditNote.objects.select_related("invoice")
        .defer("pdf", "invoice__pdf")
        .filter(invoice_id=email.invoice_id)
        .first()
        if email.invoice_id
        else None
    )
    if note is None:
        raise MailBuildError("credit-note e-mail without a credit note")
    customer = email.customer
    zone = customer_zone(customer)
    d = note.decimals
    cur = note.currency
    invoice = note.invoice
    name = sender_name(customer.customer_class, inst)
    subject = f"Credit note {note.number} for invoice {invoice.number}" + (
        f" from {name}" if name else ""
    )
    body = [
        f"Dear {customer.name},",
        "",
        f"your invoice {invoice.number} of {local_day(invoice.issued_at, zone)} is void: "
        f"credit note {note.number} of {local_day(note.issued_at, zone)} cancels it and is "
        "attached as a PDF.",
        "",
        _row("Total credited", f"{format_money(-note.total, d)} {cur}"),
    ]
    if note.paid_before:
        body.append(
            _row("Paid before, kept as credit", f"{format_money(note.paid_before, d)} {cur}")
        )
    body += [
        _row("Balance after the credit note", f"{format_money(note.balance_after, d)} {cur}"),
        "",
    ]
    if note.reason:
        body += [f"Reason: {note.reason}", ""]
    body.append(name)
    message = EmailMessage(
        subject=subject,
        body="\n".join(body).rstrip() + "\n",
        from_email=sender,
        to=[email.to_address],
    )
    message.attach(f"{note.number}.pdf", _credit_note_pdf(note), "application/pdf")
    return Built(message, email.to_address, sender, subject)


def _statistics_message(email: OutboundEmail, inst: InstallationSettings, sender: str) -> Built:
    period = ClosedPeriod.objects.filter(pk=email.period_id).first() if email.period_id else None
    if period is None:
        raise MailBuildError("statistics e-mail without a period")
    customer = email.customer
    zone = customer_zone(customer)
    d = customer.currency.decimals
    cur = customer.currency_id
    first, last = local_day(period.start, zone), last_day(period.end, period.start, zone)
    name = sender_name(customer.customer_class, inst)
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


BUILDERS: dict[str, outbox.Builder] = {
    EmailKind.INVOICE: _invoice_message,
    EmailKind.CREDIT_NOTE: _credit_note_message,
    EmailKind.STATISTICS: _statistics_message,
}


def send_pending(*, now: dt.datetime, connection: Any = None) -> MailReport:
    """The engine's ``mail`` step: every pending e-mail (notifications, invoices, usage
    statistics), oldest first, by the outbox's sender."""
    return outbox.send_pending(now=now, builders=BUILDERS, connection=connection)
