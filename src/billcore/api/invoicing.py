"""Billing over HTTP: the engine (and, in test mode, its clock), invoices, periods waiting for
approval, out-of-turn invoices and saved payment methods."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict, Field

from billcore.api.base import AuthedRequest, now
from billcore.engine import run_for
from billcore.errors import NotFound, ValidationFailed
from billcore.invoicing import actions, closing, issuing, payments, selectors
from billcore.invoicing.models import (
    ClosedPeriod,
    CreditNote,
    Invoice,
    InvoiceLine,
    PaymentMethod,
    PeriodStatus,
)

PDF = "application/pdf"

router = Router(tags=["billing"])


class EngineRunIn(Schema):
    model_config = ConfigDict(extra="forbid")
    now: dt.datetime | None = Field(
        None,
        description="The engine's clock; accepted only when the installation is in test mode",
    )
    steps: list[str] | None = Field(None, description="close, collect, documents, mail")


@router.post("/engine/run", response=dict[str, Any])
def engine_run(request: AuthedRequest, payload: EngineRunIn) -> dict[str, Any]:
    """Run the billing engine once for ``now`` (administrators only)."""

    report = run_for(actor=request.auth, now=now(), clock=payload.now, steps=payload.steps)
    return report.as_dict()


# --------------------------------------------------------------------------------------------
# Invoices (CC-13 … CC-15, CU-13 Invoices & Taxation)

Q5 = Decimal("0.00001")


class InvoiceLineOut(Schema):
    position: int
    kind: str
    description: str
    service: str
    quantity: Decimal | None
    count: int | None
    rate: Decimal | None = Field(description="Tax rate in percent (tax lines)")
    base: Decimal | None = Field(description="Tax base (tax lines)")
    amount: Decimal


class InvoiceOut(Schema):
    id: int
    number: str
    customer: int = Field(alias="customer_id")
    kind: str
    status: str
    period: int | None = Field(None, alias="period_id", description="The closed period")
    period_start: dt.datetime
    period_end: dt.datetime
    issued_at: dt.datetime
    due_at: dt.datetime
    paid_at: dt.datetime | None
    currency: str
    previous_balance: Decimal
    payments: Decimal = Field(description="Payments and refunds of the period (signed)")
    net: Decimal
    tax_total: Decimal
    tax_inclusive: bool
    special_rounding: Decimal = Field(description="GST (Malaysia) 0.05 rounding")
    rounding: Decimal = Field(description="Invoice rounding (CC-17)")
    total: Decimal
    amount_paid: Decimal
    amount_due: Decimal
    balance_after: Decimal
    template: str

    @staticmethod
    def resolve_amount_due(obj: Invoice) -> Decimal:
        return obj.amount_due.quantize(Q5)


class CreditNoteRef(Schema):
    id: int
    number: str
    issued_at: dt.datetime


class PdfVersionOut(Schema):
    version: int = Field(description="1: the PDF the engine stored first (never replaced)")
    created_at: dt.datetime | None


class InvoiceDetailOut(InvoiceOut):
    customer_name: str
    lines: list[InvoiceLineOut]
    credit_note: CreditNoteRef | None = Field(None, description="The credit note of a void")
    pdf_versions: list[PdfVersionOut] = Field(
        description="Stored PDFs, newest first; the download serves the newest"
    )

    @staticmethod
    def resolve_customer_name(obj: Invoice) -> str:
        return obj.customer.name

    @staticmethod
    def resolve_lines(obj: Invoice) -> list[InvoiceLine]:
        return list(obj.lines.all())

    @staticmethod
    def resolve_credit_note(obj: Invoice) -> CreditNote | None:
        return selectors.credit_note_of(obj)

    @staticmethod
    def resolve_pdf_versions(obj: Invoice) -> list[dict[str, Any]]:
        return selectors.pdf_versions(obj)


class InvoiceListOut(InvoiceOut):
    customer_name: str
    reseller: int | None

    @staticmethod
    def resolve_customer_name(obj: Invoice) -> str:
        return obj.customer.name

    @staticmethod
    def resolve_reseller(obj: Invoice) -> int | None:
        return obj.customer.reseller_id


class InvoiceListPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[InvoiceListOut]


class InvoiceFilters(Schema):
    status: str = Field("", description="issued | partly_paid | paid | overdue | void")
    kind: str = Field("", description="regular | out_of_turn | recurring | midterm")
    customer: str = Field("", description="A customer's id")
    reseller: str = Field("", description="A reseller's id (0: customers of no reseller)")
    issued_from: str = Field("", description="Issued on or after this day (YYYY-MM-DD, UTC)")
    issued_to: str = Field("", description="Issued on or before this day (YYYY-MM-DD, UTC)")
    number: str = Field("", description="The invoice number, or a part of it")
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


class InvoicePage(Schema):
    count: int
    limit: int
    offset: int
    items: list[InvoiceOut]


class PageParams(Schema):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


@router.get("/customers/{customer_id}/invoices", response=InvoicePage, tags=["invoices"])
def list_invoices(
    request: AuthedRequest, customer_id: int, page: Query[PageParams]
) -> dict[str, Any]:
    """The customer's invoices, newest first."""
    qs = selectors.customer_invoices(actor=request.auth, customer_id=customer_id)
    return {
        "count": qs.count(),
        "limit": page.limit,
        "offset": page.offset,
        "items": list(qs[page.offset : page.offset + page.limit]),
    }


@router.post(
    "/customers/{customer_id}/invoices/out-of-turn",
    response={201: InvoiceDetailOut},
    tags=["invoices"],
)
def issue_out_of_turn(request: AuthedRequest, customer_id: int) -> Status[Invoice]:
    """CC-15: an invoice now for every charge no invoice has billed yet (when the customer's
    class allows out-of-turn invoices)."""
    invoice = issuing.issue_out_of_turn_invoice(
        actor=request.auth, now=now(), customer_id=customer_id
    )
    return Status(201, selectors.get_invoice(actor=request.auth, invoice_id=invoice.pk))


@router.get("/invoices", response=InvoiceListPage, tags=["invoices"])
def list_all_invoices(request: AuthedRequest, filters: Query[InvoiceFilters]) -> dict[str, Any]:
    """Every invoice the caller may see (a reseller's user: its customers'), newest first,
    filtered; a bad filter is a 400 naming it."""
    parsed = selectors.invoice_filters(filters.model_dump())
    qs = selectors.list_invoices(actor=request.auth, **parsed)
    return {
        "count": qs.count(),
        "limit": filters.limit,
        "offset": filters.offset,
        "items": list(qs[filters.offset : filters.offset + filters.limit]),
    }


@router.get("/invoices/{invoice_id}", response=InvoiceDetailOut, tags=["invoices"])
def get_invoice(request: AuthedRequest, invoice_id: int) -> Invoice:
    return selectors.get_invoice(actor=request.auth, invoice_id=invoice_id)


class InvoicePaymentIn(Schema):
    model_config = ConfigDict(extra="forbid")
    amount: str = Field(description="Positive decimal string")
    action: str = Field("manual_payment", description="manual_payment | ecommerce_payment")
    visible_comment: str = ""
    internal_comment: str = ""
    idempotency_key: str | None = Field(None, description="A retry with the same key posts once")


class InvoicePaymentOut(Schema):
    transaction: int
    amount: Decimal
    balance: Decimal
    replayed: bool
    invoice: InvoiceDetailOut


@router.post(
    "/invoices/{invoice_id}/payments",
    response={201: InvoicePaymentOut, 200: InvoicePaymentOut},
    tags=["invoices"],
)
def pay_invoice(
    request: AuthedRequest, invoice_id: int, payload: InvoicePaymentIn
) -> Status[dict[str, Any]]:
    """Record a payment from the invoice. It is a payment of the customer: it settles the
    oldest unpaid invoice first, as every payment does (not necessarily this one)."""
    posted = actions.pay_invoice(
        actor=request.auth, now=now(), invoice_id=invoice_id, **payload.model_dump()
    )
    return Status(
        200 if posted.replayed else 201,
        {
            "transaction": posted.transaction_id,
            "amount": posted.amount,
            "balance": posted.balance,
            "replayed": posted.replayed,
            "invoice": selectors.get_invoice(actor=request.auth, invoice_id=invoice_id),
        },
    )


class VoidIn(Schema):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("", description="Kept on the credit note (up to 500 characters)")


class CreditNoteOut(Schema):
    id: int
    number: str
    invoice: int = Field(alias="invoice_id")
    invoice_number: str
    customer: int = Field(alias="customer_id")
    issued_at: dt.datetime
    currency: str
    reason: str
    charges: Decimal
    taxes: Decimal
    rounding: Decimal
    total: Decimal = Field(description="The invoice's total, credited")
    paid_before: Decimal = Field(description="What had been paid of the invoice (now credit)")
    status_before: str
    balance_after: Decimal

    @staticmethod
    def resolve_invoice_number(obj: CreditNote) -> str:
        return obj.invoice.number


@router.post("/invoices/{invoice_id}/void", response={201: CreditNoteOut}, tags=["invoices"])
def void_invoice(request: AuthedRequest, invoice_id: int, payload: VoidIn) -> Status[CreditNote]:
    """Void an issued, partly paid or overdue invoice (else 409 naming ``status``): it keeps
    its number, a credit note reverses its charges, taxes and rounding in the ledger, what
    was paid of it stays as credit, collections re-evaluate the customer at once."""
    note = actions.void_invoice(
        actor=request.auth, now=now(), invoice_id=invoice_id, reason=payload.reason
    )
    return Status(201, selectors.get_credit_note(actor=request.auth, credit_note_id=note.pk))


@router.get("/credit-notes/{credit_note_id}", response=CreditNoteOut, tags=["invoices"])
def get_credit_note(request: AuthedRequest, credit_note_id: int) -> CreditNote:
    return selectors.get_credit_note(actor=request.auth, credit_note_id=credit_note_id)


@router.get(
    "/credit-notes/{credit_note_id}/pdf",
    response={200: None},
    tags=["invoices"],
    openapi_extra={"responses": {200: {"description": "The credit note", "content": {PDF: {}}}}},
)
def get_credit_note_pdf(request: AuthedRequest, credit_note_id: int) -> HttpResponse:
    note = selectors.get_credit_note(actor=request.auth, credit_note_id=credit_note_id)
    return pdf_response(selectors.credit_note_pdf(note), f"{note.number}.pdf")


class ResentOut(Schema):
    email: int = Field(alias="id")
    to_address: str
    status: str


@router.post("/invoices/{invoice_id}/resend", response={202: ResentOut}, tags=["invoices"])
def resend_invoice(request: AuthedRequest, invoice_id: int) -> Status[Any]:
    """Queue the invoice's e-mail again (the engine's mail step sends it, with the newest
    PDF); 400 naming ``email`` when the customer has none."""
    email = actions.resend_invoice(actor=request.auth, now=now(), invoice_id=invoice_id)
    return Status(202, email)


class RenderedOut(Schema):
    version: int


@router.post("/invoices/{invoice_id}/pdf/render", response={201: RenderedOut}, tags=["invoices"])
def rerender_invoice_pdf(request: AuthedRequest, invoice_id: int) -> Status[dict[str, int]]:
    """Render the PDF again: a new version; the first stored PDF is kept."""
    version = actions.rerender_invoice_pdf(actor=request.auth, now=now(), invoice_id=invoice_id)
    return Status(201, {"version": version})


@router.get(
    "/invoices/{invoice_id}/pdf",
    response={200: None},
    tags=["invoices"],
    openapi_extra={"responses": {200: {"description": "The invoice as PDF", "content": {PDF: {}}}}},
)
def get_invoice_pdf(
    request: AuthedRequest, invoice_id: int, version: int | None = None
) -> HttpResponse:
    """The invoice as a PDF: the newest version (rendered from its template when the engine
    has not yet); ``version``: an older one."""
    invoice = selectors.get_invoice(actor=request.auth, invoice_id=invoice_id, with_pdf=True)
    return pdf_response(selectors.invoice_pdf(invoice, version), f"{invoice.number}.pdf")


def pdf_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=PDF)
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


# --------------------------------------------------------------------------------------------
# Periods waiting for approval (CC-18)


class PeriodOut(Schema):
    id: int
    customer: int = Field(alias="customer_id")
    customer_name: str
    start: dt.datetime
    end: dt.datetime
    status: str
    approve_by: dt.datetime | None = Field(
        description="Closes by itself at this instant unless approved before (null: never)"
    )
    closed_at: dt.datetime | None
    currency: str
    unbilled: Decimal = Field(
        description="Charges dated within the period not yet invoiced (before taxes)"
    )

    @staticmethod
    def resolve_customer_name(obj: ClosedPeriod) -> str:
        return obj.customer.name

    @staticmethod
    def resolve_currency(obj: ClosedPeriod) -> str:
        return obj.customer.currency_id

    @staticmethod
    def resolve_unbilled(obj: ClosedPeriod) -> Decimal:
        return selectors.unbilled(obj)


class PeriodFilters(Schema):
    status: str = Field(
        PeriodStatus.AWAITING_APPROVAL, description="awaiting_approval (default) | closed"
    )
    customer: int | None = None
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


class PeriodPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[PeriodOut]


class ApprovedOut(Schema):
    period: PeriodOut
    invoices: list[InvoiceDetailOut]


@router.get("/periods", response=PeriodPage, tags=["periods"])
def list_periods(request: AuthedRequest, filters: Query[PeriodFilters]) -> dict[str, Any]:
    """Ended billing periods: by default the ones waiting for approval (CC-18), the earliest
    deadline first."""
    if filters.status not in PeriodStatus.values:
        raise ValidationFailed(
            f"status must be one of {', '.join(PeriodStatus.values)}", field="status"
        )
    qs = selectors.list_periods(
        actor=request.auth, status=filters.status, customer_id=filters.customer
    )
    return {
        "count": qs.count(),
        "limit": filters.limit,
        "offset": filters.offset,
        "items": list(qs[filters.offset : filters.offset + filters.limit]),
    }


@router.post("/periods/{period_id}/approve", response=ApprovedOut, tags=["periods"])
def approve_period(request: AuthedRequest, period_id: int) -> dict[str, Any]:
    """CC-18: close a period waiting for approval now; its invoices are issued at once."""
    actor = request.auth
    selectors.get_period(actor=actor, period_id=period_id)  # 404 before anything else
    invoices = closing.approve_period(actor=actor, now=now(), period_id=period_id)
    period = selectors.list_periods(actor=actor, status=PeriodStatus.CLOSED).get(pk=period_id)
    return {
        "period": period,
        "invoices": [selectors.get_invoice(actor=actor, invoice_id=i.pk) for i in invoices],
    }


# --------------------------------------------------------------------------------------------
# Saved payment method (CU-13 Payment Method)


class PaymentMethodIn(Schema):
    model_config = ConfigDict(extra="forbid")
    card_number: str = Field(description="12 to 19 digits; only the gateway's token is kept")
    exp_month: int
    exp_year: int
    holder_name: str = ""


class PaymentMethodOut(Schema):
    customer: int = Field(alias="customer_id")
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    holder_name: str
    gateway: str
    gateway_label: str
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_gateway_label(obj: PaymentMethod) -> str:
        return selectors.gateway_label(obj.gateway)


@router.get("/customers/{customer_id}/payment-method", response=PaymentMethodOut, tags=["payments"])
def get_payment_method(request: AuthedRequest, customer_id: int) -> PaymentMethod:
    """The saved card (never its number nor the gateway's token); 404 when none is saved."""
    method = selectors.payment_method(actor=request.auth, customer_id=customer_id)
    if method is None:
        raise NotFound("the customer has no saved payment method", code="no_payment_method")
    return method


@router.put("/customers/{customer_id}/payment-method", response=PaymentMethodOut, tags=["payments"])
def put_payment_method(
    request: AuthedRequest, customer_id: int, payload: PaymentMethodIn
) -> PaymentMethod:
    """Save or replace the customer's card through the configured payment gateway."""
    return payments.save_payment_method(
        actor=request.auth,
        now=now(),
        customer_id=customer_id,
        data=payload.model_dump(),
    )


@router.delete("/customers/{customer_id}/payment-method", response={204: None}, tags=["payments"])
def delete_payment_method(request: AuthedRequest, customer_id: int) -> Status[None]:
    payments.remove_payment_method(actor=request.auth, now=now(), customer_id=customer_id)
    return Status(204, None)
