"""The billing pages (issue 4): periods waiting for approval (CC-18), the invoice page, and the
customer page's Invoices & Taxation (CU-13, CC-15, CC-16) and Payment Method tabs.

Same rule as ``base``: every view parses what was posted, calls a service or a selector with
``actor=request.user`` and the time, and shows what came back; a service's error appears
beside the input it names (or as a message above) and nothing is saved; ``NotFound`` (another
reseller's invoice or period included) is the 404 page.

Period dates are shown on the customer's wall clock (its time zone): a period
``[start, end)`` reads as its first and last day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from billcore.classes.models import InvoiceTemplate
from billcore.core.money import format_money
from billcore.customers.models import Customer
from billcore.customers.selectors import get_customer
from billcore.customers.services import update_customer
from billcore.errors import BillcoreError, NotFound
from billcore.invoicing import selectors
from billcore.invoicing.actions import INVOICE_PAYMENTS
from billcore.invoicing.closing import approve_period
from billcore.invoicing.issuing import issue_out_of_turn_invoice
from billcore.invoicing.models import VOIDABLE, ClosedPeriod, Invoice, InvoiceStatus
from billcore.invoicing.payments import remove_payment_method, save_payment_method
from billcore.web import base, confirm, exports
from billcore.web.base import (
    back_to_tab,
    customer_money,
    customer_zone,
    fail,
    local_time,
    page,
    paginate,
)
from billcore.web.customer_page import customer_page, customer_tab
from billcore.web.forms import Choice, PageForm, Text, clerk_text

# The <form> elements the tab panels' inputs belong to (drawn after the customer form).
TEMPLATE_FORM = "invoice-template-form"
PAYMENT_FORM = "payment-method-form"
DAY = "%Y-%m-%d"


# --------------------------------------------------------------------------- forms


class InvoiceTemplateForm(PageForm):
    """CU-13 Invoices & Taxation: the customer's invoice template, or the class's."""

    def __init__(self, data: Any = None, *, initial: Mapping[str, Any], class_default: str):
        super().__init__(data, initial=dict(initial))
        choice = Choice(
            "Invoice template",
            [("", f"Class default ({class_default})"), *InvoiceTemplate.choices],
            help_text="The layout of this customer's invoices; the class's unless chosen here.",
        )
        choice.widget.attrs["form"] = TEMPLATE_FORM
        self.fields["invoice_template"] = choice


class PaymentMethodForm(PageForm):
    """CU-13 Payment Method: a card, tokenized by the payment gateway (only the token, the
    brand, the last four digits and the expiry are kept)."""

    def __init__(self, data: Any = None) -> None:
        super().__init__(data)
        common = {"form": PAYMENT_FORM, "autocomplete": "off"}
        self.fields["card_number"] = Text(
            "Card number", inputmode="numeric", maxlength="23", **common
        )
        self.fields["exp_month"] = Text(
            "Expiry month",
            help_text="1 to 12.",
            inputmode="numeric",
            maxlength="2",
            **{"class": "input-short"},
            **common,
        )
        self.fields["exp_year"] = Text(
            "Expiry year",
            help_text="Four digits.",
            inputmode="numeric",
            maxlength="4",
            **{"class": "input-short"},
            **common,
        )
        self.fields["holder_name"] = Text("Cardholder name", maxlength="200", **common)


class InvoicePaymentForm(PageForm):
    """A payment recorded from the invoice page (issue 17): a payment of the customer, so it
    settles the oldest unpaid invoice first."""

    def __init__(self, data: Any = None, *, initial: Mapping[str, Any] | None = None) -> None:
        super().__init__(data, initial=dict(initial or {}))
        self.fields["amount"] = Text("Amount", inputmode="decimal", maxlength="30")
        self.fields["action"] = Choice(
            "Payment type", [(str(a.value), str(a.label)) for a in INVOICE_PAYMENTS]
        )
        self.fields["visible_comment"] = Text(
            "Comment",
            maxlength="500",
            help_text="Shown to the customer; names the invoice if empty.",
        )


# --------------------------------------------------------------------------- helpers


def period_text(start: dt.datetime, end: dt.datetime, zone: dt.tzinfo) -> str:
    """``[start, end)`` as its first and last day on the wall clock of ``zone``."""
    first = start.astimezone(zone).date()
    last = (end - dt.timedelta(microseconds=1)).astimezone(zone).date()
    last = max(last, first)
    return f"{first:{DAY}} \u2013 {last:{DAY}}"


def _invoice_rows(invoices: Any, zone: dt.tzinfo) -> list[dict[str, Any]]:
    return [
        {
            "invoice": inv,
            "period": period_text(inv.period_start, inv.period_end, zone),
            "issued": local_time(inv.issued_at, zone, DAY),
            "due": local_time(inv.due_at, zone, DAY),
        }
        for inv in invoices
    ]


@customer_tab
def invoicing_tab_context(
    request: HttpRequest,
    customer: Customer,
    *,
    invoice_template_form: InvoiceTemplateForm | None = None,
    payment_form: PaymentMethodForm | None = None,
) -> dict[str, Any]:
    """What the Invoices & Taxation and Payment Method tabs show."""
    actor = request.user
    zone = customer_zone(customer)
    cls = customer.customer_class
    invoices = paginate(
        request,
        selectors.customer_invoices(actor=actor, customer_id=customer.pk),
        param="inv_page",
    )
    periods = list(selectors.customer_periods(actor=actor, customer_id=customer.pk)[:24])
    method = selectors.payment_method(actor=actor, customer_id=customer.pk)
    return {
        "invoice_template_form": invoice_template_form
        or InvoiceTemplateForm(
            initial={"invoice_template": customer.invoice_template or ""},
            class_default=InvoiceTemplate(cls.invoice_template).label,
        ),
        "open_period": period_text(customer.billed_to, customer.next_billed_to, zone)
        if customer.billed_to and customer.next_billed_to
        else "",
        "open_period_ends": local_time(customer.next_billed_to, zone),
        "invoice_page": invoices,
        "invoice_rows": _invoice_rows(invoices, zone),
        "out_of_turn_allowed": cls.allow_out_of_turn_invoices,
        "credit_notes": [
            {"note": n, "issued": local_time(n.issued_at, zone, DAY)}
            for n in selectors.customer_credit_notes(actor=actor, customer_id=customer.pk)[:24]
        ],
        "closed_periods": [
            {
                "period": p,
                "text": period_text(p.start, p.end, zone),
                "closed": local_time(p.closed_at, zone),
                "approve_by": local_time(p.approve_by, zone),
            }
            for p in periods
        ],
        "payment_method": method,
        "payment_gateway_label": selectors.gateway_label(method.gateway) if method else "",
        "gateway_configured": selectors.gateway_configured(),
        "payment_form": payment_form or PaymentMethodForm(),
    }


# --------------------------------------------------------------------------- CC-18


@page
def periods_awaiting(request: HttpRequest) -> HttpResponse:
    """CC-18: every period waiting for approval the user may approve, the earliest deadline
    first, with its unbilled charges and an Approve button."""
    waiting = selectors.periods_awaiting_approval(actor=request.user)
    if exports.wanted(request):
        header = (
            "id",
            "customer_id",
            "customer",
            "start",
            "end",
            "approve_by",
            "currency",
            "unbilled",
        )
        csv_rows = (
            (
                p.pk,
                p.customer_id,
                p.customer.name,
                p.start,
                p.end,
                p.approve_by,
                p.customer.currency_id,
                exports.money(selectors.unbilled(p), p.customer.currency.decimals),
            )
            for p in exports.rows_of(waiting)
        )
        return exports.csv_response("periods-awaiting-approval.csv", header, csv_rows)
    periods = paginate(request, waiting)
    rows = []
    for p in periods:
        zone = customer_zone(p.customer)
        rows.append(
            {
                "period": p,
                "text": period_text(p.start, p.end, zone),
                "approve_by": local_time(p.approve_by, zone),
                "zone": zone.key,
                "unbilled": customer_money(p.customer, selectors.unbilled(p)),
            }
        )
    context = {"page": periods, "rows": rows, "nav_section": "periods"}
    return render(request, "web/invoicing/periods.html", context)


@page
@require_POST
def period_approve(request: HttpRequest, period_id: int) -> HttpResponse:
    """Close a waiting period now: its invoices are issued; the message names them."""
    period = selectors.get_period(actor=request.user, period_id=period_id)
    zone = customer_zone(period.customer)
    what = f"{period.customer.name}, {period_text(period.start, period.end, zone)}"
    try:
        invoices = approve_period(actor=request.user, now=base.now(), period_id=period.pk)
    except NotFound:
        raise
    except BillcoreError as exc:
        messages.error(request, f"Period of {what} not approved: {clerk_text(exc.message)}.")
        return redirect("periods-awaiting")
    if invoices:
        issued = ", ".join(
            f"{inv.number} ({customer_money(period.customer, inv.total)})" for inv in invoices
        )
        word = "Invoice" if len(invoices) == 1 else "Invoices"
        messages.success(request, f"Period of {what} approved and closed. {word} {issued} issued.")
    else:
        messages.success(
            request, f"Period of {what} approved and closed. No invoice issued: nothing to bill."
        )
    return redirect("periods-awaiting")


@page
def period_statement(request: HttpRequest, period_id: int) -> HttpResponse:
    """CC-16: the closing statement PDF of a period, once the engine rendered it."""
    period = selectors.get_period(actor=request.user, period_id=period_id)
    pdf = ClosedPeriod.objects.filter(pk=period.pk).values_list("statement_pdf", flat=True).get()
    if pdf is None:
        raise NotFound(f"period {period.pk} has no closing statement", field="id")
    response = HttpResponse(bytes(pdf), content_type="application/pdf")
    name = f"statement-{period.customer_id}-{period.start:%Y%m%d}.pdf"
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response


# --------------------------------------------------------------------------- invoice page


@page
def invoice_detail(request: HttpRequest, invoice_id: int) -> HttpResponse:
    invoice = selectors.get_invoice(actor=request.user, invoice_id=invoice_id)
    return invoice_page(request, invoice)


def invoice_page(
    request: HttpRequest, invoice: Invoice, *, pay_form: Any = None, status: int = 200
) -> HttpResponse:
    """The invoice page: figures, lines, its credit note and PDF versions, and the actions
    (issue 17; ``pay_form``: the payment form with the errors a service raised)."""
    customer = invoice.customer
    zone = customer_zone(customer)
    note = selectors.credit_note_of(invoice)
    versions = [
        {**v, "created": local_time(v["created_at"], zone) if v["created_at"] else ""}
        for v in selectors.pdf_versions(invoice)
    ]
    context = {
        "pay_form": pay_form
        or InvoicePaymentForm(
            initial={
                "amount": format_money(invoice.amount_due, invoice.decimals).replace(",", "")
                if invoice.amount_due
                else "",
                "action": "manual_payment",
            }
        ),
        "credit_note": note,
        "credit_note_issued": local_time(note.issued_at, zone) if note else "",
        "pdf_versions": versions,
        "voidable": invoice.status in VOIDABLE,
        "is_void": invoice.status == InvoiceStatus.VOID,
        "invoice": invoice,
        "customer": customer,
        "lines": list(invoice.lines.all()),
        "period": period_text(invoice.period_start, invoice.period_end, zone),
        "issued": local_time(invoice.issued_at, zone),
        "due": local_time(invoice.due_at, zone),
        "paid": local_time(invoice.paid_at, zone),
        "zone": zone.key,
        "labels": selectors.summary_labels(invoice),
        "nav_section": "invoices",
    }
    return render(request, "web/invoicing/invoice.html", context, status=status)


@page
def invoice_pdf(request: HttpRequest, invoice_id: int) -> HttpResponse:
    invoice = selectors.get_invoice(actor=request.user, invoice_id=invoice_id, with_pdf=True)
    response = HttpResponse(selectors.invoice_pdf(invoice), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{invoice.number}.pdf"'
    return response


# --------------------------------------------------------------------------- customer tabs


@page
@require_POST
def customer_invoice_template(request: HttpRequest, customer_id: int) -> HttpResponse:
    """CU-13: the customer's invoice template (empty: the class's)."""
    customer = get_customer(actor=request.user, customer_id=customer_id)
    cls_default = InvoiceTemplate(customer.customer_class.invoice_template).label
    form = InvoiceTemplateForm(request.POST, initial={}, class_default=cls_default)
    try:
        saved = update_customer(
            actor=request.user, now=base.now(), customer_id=customer.pk, changes=form.posted()
        )
    except BillcoreError as exc:
        status = fail(form, exc)
        return customer_page(request, customer, invoice_template_form=form, status=status)
    if saved.invoice_template:
        label = InvoiceTemplate(saved.invoice_template).label
        messages.success(request, f"Invoice template set to “{label}”.")
    else:
        messages.success(request, f"Invoice template follows the class (“{cls_default}”).")
    return back_to_tab(customer, "invoices")


@page
@require_POST
def customer_out_of_turn(request: HttpRequest, customer_id: int) -> HttpResponse:
    """CC-15: an invoice now for every charge not yet invoiced."""
    customer = get_customer(actor=request.user, customer_id=customer_id)
    try:
        invoice = issue_out_of_turn_invoice(
            actor=request.user, now=base.now(), customer_id=customer.pk
        )
    except NotFound:
        raise
    except BillcoreError as exc:
        messages.error(request, f"No out-of-turn invoice issued: {clerk_text(exc.message)}.")
        return back_to_tab(customer, "invoices")
    messages.success(
        request,
        f"Out-of-turn invoice {invoice.number} issued: {customer_money(customer, invoice.total)}.",
    )
    return redirect("invoice-detail", invoice_id=invoice.pk)


@page
@require_POST
def customer_payment_method(request: HttpRequest, customer_id: int) -> HttpResponse:
    """CU-13 Payment Method: save or replace the customer's card."""
    customer = get_customer(actor=request.user, customer_id=customer_id)
    form = PaymentMethodForm(request.POST)
    try:
        method = save_payment_method(
            actor=request.user, now=base.now(), customer_id=customer.pk, data=form.posted()
        )
    except BillcoreError as exc:
        status = fail(form, exc)
        # The card number is never drawn back into the page.
        form.data = form.data.copy()
        form.data["card_number"] = ""
        return customer_page(request, customer, payment_form=form, status=status)
    messages.success(
        request,
        f"Payment method saved: {method.brand} •••• {method.last4}, expires "
        f"{method.exp_month:02d}/{method.exp_year}.",
    )
    return back_to_tab(customer, "payment")


@page
@require_POST
def customer_payment_method_remove(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = get_customer(actor=request.user, customer_id=customer_id)
    if selectors.payment_method(actor=request.user, customer_id=customer.pk) is None:
        messages.info(request, "The customer has no saved payment method; nothing removed.")
        return back_to_tab(customer, "payment")
    if not confirm.confirmed(request):
        return confirm.ask(
            request,
            title="Remove the saved card",
            question=f"Remove the saved card of {customer.name}? Invoices are no longer "
            "charged to it automatically.",
            button="Remove",
            back_url=reverse("customer-edit", args=[customer.pk]) + "#tab-payment",
        )
    remove_payment_method(actor=request.user, now=base.now(), customer_id=customer.pk)
    messages.success(request, "Payment method removed.")
    return back_to_tab(customer, "payment")
