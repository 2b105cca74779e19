"""The invoice list and the invoice's actions (issue 17): the list's filters (status, kind,
customer, reseller, issue dates, number; a bad value is a form error naming the field), and the
invoice page's buttons: record a payment, void (a credit note), resend by e-mail, render the PDF
again (a new version); the credit note's PDF and an older PDF version.

Same rule as ``base``: each view parses what was posted, calls one service or selector with
``actor=request.user`` and the time, and shows what came back; ``NotFound`` is the 404 page."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from billcore.accounts.access import is_admin
from billcore.errors import BillcoreError, NotFound
from billcore.invoicing import actions, selectors
from billcore.invoicing.models import InvoiceKind, InvoiceStatus
from billcore.web import base, confirm, exports
from billcore.web.base import customer_money, customer_zone, local_time, page, paginate
from billcore.web.forms import Choice, PageForm, Text, clerk_text
from billcore.web.views_invoicing import DAY, InvoicePaymentForm, invoice_page, period_text


class InvoiceFilterForm(PageForm):
    """The invoice list's filters (GET)."""

    def __init__(self, data: Any, *, resellers: list[tuple[Any, str]]) -> None:
        super().__init__(data)
        self.fields["number"] = Text(
            "Number", maxlength="40", placeholder="A number or a part of it"
        )
        self.fields["status"] = Choice("Status", [("", "Any status"), *InvoiceStatus.choices])
        self.fields["kind"] = Choice("Kind", [("", "Any kind"), *InvoiceKind.choices])
        self.fields["customer"] = Text("Customer id", inputmode="numeric", maxlength="20")
        if resellers:
            self.fields["reseller"] = Choice(
                "Reseller",
                [("", "Any reseller or none"), ("0", "No reseller"), *resellers],
            )
        self.fields["issued_from"] = Text("Issued from", type="date")
        self.fields["issued_to"] = Text("Issued to", type="date")


@page
def invoice_list(request: HttpRequest) -> HttpResponse:
    """Every invoice the user may see, newest first, filtered; 50 a page."""
    actor = request.user
    resellers = base.reseller_choices(actor) if is_admin(actor) else []
    form = InvoiceFilterForm(request.GET, resellers=resellers)
    status = 200
    try:
        filters = selectors.invoice_filters(request.GET)
    except BillcoreError as exc:
        status = base.fail(form, exc)
        filters = None
    qs = selectors.list_invoices(actor=actor, **filters) if filters is not None else None
    if qs is not None and exports.wanted(request):
        return invoices_csv(qs)
    invoices = paginate(
        request, qs if qs is not None else selectors.visible_invoices(actor=actor).none()
    )
    rows = []
    for inv in invoices:
        zone = customer_zone(inv.customer)
        rows.append(
            {
                "invoice": inv,
                "period": period_text(inv.period_start, inv.period_end, zone),
                "issued": local_time(inv.issued_at, zone, DAY),
                "due": local_time(inv.due_at, zone, DAY),
                "total": customer_money(inv.customer, inv.total),
                "due_amount": customer_money(inv.customer, inv.amount_due),
            }
        )
    context = {
        "form": form,
        "page": invoices,
        "rows": rows,
        "filtered": any(request.GET.get(k) for k in selectors.INVOICE_FILTERS),
        "nav_section": "invoices",
    }
    return render(request, "web/invoicing/invoice_list.html", context, status=status)


INVOICE_COLUMNS = (
    "number",
    "customer_id",
    "customer",
    "kind",
    "status",
    "period_start",
    "period_end",
    "issued_at",
    "due_at",
    "currency",
    "total",
    "amount_due",
)


def invoices_csv(invoices: Any) -> HttpResponse:
    """The filtered invoice list as CSV (issue 17): every matching invoice, streamed."""
    rows = (
        (
            inv.number,
            inv.customer_id,
            inv.customer.name,
            inv.kind,
            inv.status,
            inv.period_start,
            inv.period_end,
            inv.issued_at,
            inv.due_at,
            inv.customer.currency_id,
            exports.money(inv.total, inv.customer.currency.decimals),
            exports.money(inv.amount_due, inv.customer.currency.decimals),
        )
        for inv in exports.rows_of(invoices)
    )
    return exports.csv_response("invoices.csv", INVOICE_COLUMNS, rows)


# --------------------------------------------------------------------------- actions


def _back(invoice_id: int) -> HttpResponse:
    return redirect("invoice-detail", invoice_id=invoice_id)


@page
@require_POST
def invoice_pay(request: HttpRequest, invoice_id: int) -> HttpResponse:
    form = InvoicePaymentForm(request.POST)
    invoice = selectors.get_invoice(actor=request.user, invoice_id=invoice_id)
    try:
        data = form.posted()
        posted = actions.pay_invoice(
            actor=request.user,
            now=base.now(),
            invoice_id=invoice.pk,
            amount=data.get("amount"),
            action=data.get("action") or "manual_payment",
            visible_comment=data.get("visible_comment", ""),
        )
    except BillcoreError as exc:
        status = base.fail(form, exc)
        return invoice_page(request, invoice, pay_form=form, status=status)
    amount = customer_money(invoice.customer, abs(posted.amount))
    messages.success(
        request,
        f"Payment of {amount} recorded; it settles the oldest unpaid invoice first. "
        f"Balance: {customer_money(invoice.customer, posted.balance)}.",
    )
    return _back(invoice.pk)


@page
@require_POST
def invoice_void(request: HttpRequest, invoice_id: int) -> HttpResponse:
    invoice = selectors.get_invoice(actor=request.user, invoice_id=invoice_id)
    if not confirm.confirmed(request):
        return confirm.ask(
            request,
            title=f"Void invoice {invoice.number}",
            question=f"Void invoice {invoice.number}? A credit note reverses its "
            f"{customer_money(invoice.customer, invoice.total)}. This cannot be undone.",
            button="Void invoice",
            back_url=reverse("invoice-detail", args=[invoice.pk]),
        )
    try:
        note = actions.void_invoice(
            actor=request.user,
            now=base.now(),
            invoice_id=invoice.pk,
            reason=request.POST.get("reason", ""),
        )
    except NotFound:
        raise
    except BillcoreError as exc:
        messages.error(request, f"Invoice {invoice.number} not voided: {clerk_text(exc.message)}.")
        return _back(invoice.pk)
    messages.success(
        request,
        f"Invoice {invoice.number} voided by credit note {note.number} "
        f"({customer_money(invoice.customer, note.total)} credited).",
    )
    return _back(invoice.pk)


@page
@require_POST
def invoice_resend(request: HttpRequest, invoice_id: int) -> HttpResponse:
    invoice = selectors.get_invoice(actor=request.user, invoice_id=invoice_id)
    try:
        email = actions.resend_invoice(actor=request.user, now=base.now(), invoice_id=invoice.pk)
    except NotFound:
        raise
    except BillcoreError as exc:
        messages.error(request, f"Invoice {invoice.number} not sent: {clerk_text(exc.message)}.")
        return _back(invoice.pk)
    messages.success(
        request,
        f"Invoice {invoice.number} queued for {email.to_address}; the engine's mail step sends it.",
    )
    return _back(invoice.pk)


@page
@require_POST
def invoice_rerender(request: HttpRequest, invoice_id: int) -> HttpResponse:
    invoice = selectors.get_invoice(actor=request.user, invoice_id=invoice_id)
    version = actions.rerender_invoice_pdf(
        actor=request.user, now=base.now(), invoice_id=invoice.pk
    )
    if version == 1:
        messages.success(request, f"PDF of invoice {invoice.number} rendered.")
    else:
        messages.success(
            request,
            f"PDF of invoice {invoice.number} rendered again as version {version}; the "
            "earlier versions are kept.",
        )
    return _back(invoice.pk)


@page
def invoice_pdf_version(request: HttpRequest, invoice_id: int, version: int) -> HttpResponse:
    invoice = selectors.get_invoice(actor=request.user, invoice_id=invoice_id, with_pdf=True)
    response = HttpResponse(selectors.invoice_pdf(invoice, version), content_type="application/pdf")
    name = f"{invoice.number}-v{version}.pdf"
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response


@page
def credit_note_pdf(request: HttpRequest, credit_note_id: int) -> HttpResponse:
    note = selectors.get_credit_note(actor=request.user, credit_note_id=credit_note_id)
    response = HttpResponse(selectors.credit_note_pdf(note), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{note.number}.pdf"'
    return response
