"""What a clerk does to one invoice (issue 17): record a payment against it, void it (a credit
note with its own gapless numbers, the charges and taxes reversed in the ledger), send its
e-mail again, render its PDF again (a new version; the first one is kept).

Each action is a service: keyword-only, the acting user and ``now``, one transaction, the
customer's row locked first (``locks``), audited. A void:

1. refuses anything but an issued, partly paid or overdue invoice (``status``);
2. posts, through ``ledger.postings``, one ``invoice_void`` row per part of the invoice it
   reverses (charges; taxes on top; roundings), linked to the invoice: they are never billed
   again (an invoice bills only unbilled charges) and the next invoice's summary counts them
   in its previous balance (a row another invoice carries, as ``closing._close`` reads it);
3. marks the invoice ``void`` (it keeps its number) and writes the credit note, numbered from
   its own counter row in the same transaction (so a rolled-back void leaves no gap);
4. settles the customer's invoices again: a void invoice takes no payment (``allocation``),
   so what had paid it pays the next invoices, oldest first, or stays as credit;
5. re-evaluates collections at once (a suspension for an overdue invoice lifts when nothing
   else is overdue; subscription fees waiting for funds are charged, CC-19).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Max, Q, Sum

from billcore.accounts.access import Actor, user_row
from billcore.audit.services import record, snapshot
from billcore.errors import Conflict, ValidationFailed
from billcore.invoicing import collections
from billcore.invoicing.allocation import lock_customer
from billcore.invoicing.documents import render_invoice_pdf
from billcore.invoicing.models import (
    VOIDABLE,
    CreditNote,
    CreditNoteCounter,
    Invoice,
    InvoicePdf,
    InvoiceStatus,
)
from billcore.invoicing.selectors import INVOICEABLE, get_invoice
from billcore.invoicing.settling import record_transaction, settle_after_payment
from billcore.ledger.models import Action, Transaction
from billcore.ledger.postings import post_locked
from billcore.ledger.services import PostedTransaction
from billcore.notifications.models import EmailKind, OutboundEmail
from billcore.notifications.outbox import queue_email
from billcore.validation import as_str

ZERO = Decimal(0)

# What a payment recorded against an invoice may be (the balance-adjustment dialog's names).
INVOICE_PAYMENTS = (Action.MANUAL_PAYMENT, Action.ECOMMERCE_PAYMENT)


def _state(invoice: Invoice) -> dict[str, Any]:
    """What an action changes on an invoice, for the audit row (never the PDF bytes)."""
    return {
        "status": invoice.status,
        "amount_paid": str(invoice.amount_paid),
        "paid_at": invoice.paid_at.isoformat() if invoice.paid_at else None,
    }


def _not_void(invoice: Invoice, what: str) -> None:
    if invoice.status == InvoiceStatus.VOID:
        raise Conflict(
            f"invoice {invoice.number} is void: it takes no {what}",
            field="status",
            code="void",
        )


# --------------------------------------------------------------------------------------------
# A payment against an invoice


def pay_invoice(
    *,
    actor: Actor,
    now: dt.datetime,
    invoice_id: Any,
    amount: Any,
    action: Any = Action.MANUAL_PAYMENT,
    visible_comment: Any = "",
    internal_comment: Any = "",
    idempotency_key: str | None = None,
) -> PostedTransaction:
    """A payment recorded from the invoice: an ordinary payment of its customer
    (``settling.record_transaction``), so it settles the oldest unpaid invoice first, as every
    payment does; the comment names the invoice unless one is given."""
    invoice = get_invoice(actor=actor, invoice_id=invoice_id)
    _not_void(invoice, "payment")
    names = {str(a.value): a for a in INVOICE_PAYMENTS} | {
        str(a.label).lower(): a for a in INVOICE_PAYMENTS
    }
    code = names.get(str(action).strip().lower())
    if code is None:
        raise ValidationFailed(
            f"action must be one of {', '.join(str(a.label) for a in INVOICE_PAYMENTS)} "
            f"(got {action!r})",
            field="action",
        )
    return record_transaction(
        actor=actor,
        now=now,
        customer_id=invoice.customer_id,
        action=code,
        amount=amount,
        visible_comment=visible_comment or f"Payment for invoice {invoice.number}",
        internal_comment=internal_comment,
        idempotency_key=idempotency_key,
    )


# --------------------------------------------------------------------------------------------
# Void


def next_credit_note_number(scope: int) -> tuple[int, str]:
    """The next gapless credit-note number of ``scope`` (0 = installation, else the reseller's
    id), under the counter row's lock in the caller's transaction (as ``issuing.next_number``)."""
    table = CreditNoteCounter._meta.db_table
    sql = f"UPDATE {table} SET last = last + 1 WHERE scope = %s RETURNING last"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [scope])
        row = cursor.fetchone()
        if row is None:
            CreditNoteCounter.objects.get_or_create(scope=scope)
            cursor.execute(sql, [scope])
            row = cursor.fetchone()
    last = int(row[0])
    number = f"CN-{last:07d}" if scope == 0 else f"R{scope}-CN-{last:07d}"
    return last, number


@transaction.atomic
def void_invoice(
    *, actor: Actor, now: dt.datetime, invoice_id: Any, reason: Any = ""
) -> CreditNote:
    """Void an issued, partly paid or overdue invoice with a credit note (module docstring)."""
    visible = get_invoice(actor=actor, invoice_id=invoice_id)
    reason = as_str("reason", reason, max_length=500, single_line=False)
    customer = lock_customer(visible.customer_id)
    assert customer is not None
    invoice = Invoice.objects.defer("pdf").get(pk=visible.pk)  # read again under the lock
    if invoice.status not in VOIDABLE:
        raise Conflict(
            f"invoice {invoice.number} is {InvoiceStatus(invoice.status).label.lower()}: only "
            "an issued, partly paid or overdue invoice can be voided",
            field="status",
            code="not_voidable",
        )
    before = _state(invoice)
    sums = Transaction.objects.filter(invoice_id=invoice.pk).aggregate(
        charges=Sum("amount", filter=Q(action__in=INVOICEABLE)),
        taxes=Sum("amount", filter=Q(action=Action.TAX)),
    )
    charges = sums["charges"] or ZERO
    taxes = sums["taxes"] or ZERO
    # The roundings (GST and the invoice's): the rest of the total, so the reversal is the
    # invoice's total to the last digit.
    rounding = invoice.total - charges - taxes
    scope = customer.reseller_id or 0
    sequence, number = next_credit_note_number(scope)
    balance = customer.balance
    for part, amount in (("Charges", charges), ("Taxes", taxes), ("Rounding", rounding)):
        if amount:
            row = post_locked(
                customer_id=customer.pk,
                action=Action.INVOICE_VOID,
                amount=-amount,
                now=now,
                visible_comment=f"{part} of invoice {invoice.number} reversed by credit note "
                f"{number}",
                internal_comment=reason,
                invoice_id=invoice.pk,
                balance_before=balance,
            )
            balance = row.balance_after
    paid_before = invoice.amount_paid
    Invoice.objects.filter(pk=invoice.pk).update(
        status=InvoiceStatus.VOID, amount_paid=ZERO, paid_at=None
    )
    note = CreditNote.objects.create(
        invoice=invoice,
        customer=customer,
        numbering_scope=scope,
        sequence=sequence,
        number=number,
        issued_at=now,
        currency=invoice.currency,
        decimals=invoice.decimals,
        reason=reason,
        charges=charges,
        taxes=taxes,
        rounding=rounding,
        total=invoice.total,
        paid_before=paid_before,
        status_before=invoice.status,
        balance_after=balance,
        created_by=user_row(actor),
    )
    invoice.status, invoice.amount_paid, invoice.paid_at = InvoiceStatus.VOID, ZERO, None
    _queue_credit_note_email(customer, invoice, now=now)
    # What paid the invoice pays the next ones (or stays as credit); collections at once.
    settle_after_payment(customer_id=customer.pk, now=now)
    collections.evaluate_customer(customer_id=customer.pk, now=now)
    record(
        actor=actor, now=now, operation="update", obj=invoice, before=before, after=_state(invoice)
    )
    after = snapshot(note)
    after.pop("pdf", None)
    record(actor=actor, now=now, operation="create", obj=note, before=None, after=after)
    return note


def _queue_credit_note_email(customer: Any, invoice: Invoice, *, now: dt.datetime) -> None:
    """The credit note goes to the customer like the invoice did (issue 17 §6): when the class
    e-mails invoices or this invoice was e-mailed, and the customer has an address."""
    if not customer.email:
        return
    mailed = OutboundEmail.objects.filter(
        customer_id=customer.pk, kind=EmailKind.INVOICE, invoice_id=invoice.pk
    ).exists()
    if mailed or customer.customer_class.send_invoices_by_email:
        queue_email(customer=customer, kind=EmailKind.CREDIT_NOTE, now=now, invoice_id=invoice.pk)


# --------------------------------------------------------------------------------------------
# Resend by e-mail


@transaction.atomic
def resend_invoice(*, actor: Actor, now: dt.datetime, invoice_id: Any) -> OutboundEmail:
    """Queue the invoice's e-mail again (the outbox sends it with its newest PDF); refused when
    the customer has no e-mail address, or the invoice is void."""
    visible = get_invoice(actor=actor, invoice_id=invoice_id)
    customer = lock_customer(visible.customer_id)
    assert customer is not None
    _not_void(visible, "e-mail")
    if not customer.email:
        raise ValidationFailed(
            f"customer {customer.name!r} has no e-mail address: add one on the customer page "
            "to send the invoice",
            field="email",
            code="no_email",
        )
    email = queue_email(
        customer=customer,
        kind=EmailKind.INVOICE,
        now=now,
        invoice_id=visible.pk,
        period_id=visible.period_id,
    )
    record(actor=actor, now=now, operation="create", obj=email, before=None, after=snapshot(email))
    return email


# --------------------------------------------------------------------------------------------
# Re-render the PDF


def rerender_invoice_pdf(*, actor: Actor, now: dt.datetime, invoice_id: Any) -> int:
    """Render the invoice's PDF again from its template and the settings of now. The first PDF
    (the one the engine stored, and an e-mail may have carried) is never replaced: the render
    is a new version (2, 3, …), the download serves the newest. An invoice without a PDF yet
    gets its first one. Returns the version stored."""
    visible = get_invoice(actor=actor, invoice_id=invoice_id)
    pdf = render_invoice_pdf(visible)  # outside the lock: rendering takes a while
    with transaction.atomic():
        customer = lock_customer(visible.customer_id)
        assert customer is not None
        if Invoice.objects.filter(pk=visible.pk, pdf__isnull=True).update(pdf=pdf):
            version = 1
            obj: Any = visible
        else:
            last = InvoicePdf.objects.filter(invoice_id=visible.pk).aggregate(v=Max("version"))
            version = max(last["v"] or 1, 1) + 1
            obj = InvoicePdf.objects.create(
                invoice_id=visible.pk,
                version=version,
                pdf=pdf,
                template=visible.template,
                created_at=now,
                created_by=user_row(actor),
            )
        record(
            actor=actor,
            now=now,
            operation="create" if version > 1 else "update",
            obj=obj,
            before=None,
            after={"invoice": visible.pk, "pdf_version": version, "bytes": len(pdf)},
        )
    return version
