"""Reads of invoices, billing periods and saved payment methods, already scoped to what the
actor may see (DESIGN rule 4): a reseller's user sees only the reseller's customers' objects;
anything else is ``NotFound``, exactly as for an object that does not exist."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, TypeVar

from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery, Sum

from billcore.accounts.access import Actor, is_admin, require_user
from billcore.customers.selectors import get_customer, own_reseller, visible_customers
from billcore.db import MoneyField
from billcore.errors import NotFound, ValidationFailed
from billcore.invoicing.documents import (
    render_credit_note_pdf,
    render_invoice_pdf,
    save_credit_note_pdf,
)
from billcore.invoicing.models import (
    ClosedPeriod,
    CreditNote,
    Invoice,
    InvoiceKind,
    InvoicePdf,
    InvoiceStatus,
    PaymentMethod,
    PeriodStatus,
)
from billcore.invoicing.payments import GATEWAYS, GatewayNotConfigured, gateway
from billcore.invoicing.summary import summary_labels as summary_labels
from billcore.ledger.models import Action, Transaction
from billcore.validation import as_choice, as_int, as_str, check_instant

MAX_ID = 2**63 - 1

# The ledger rows an invoice bills (issuing.INVOICEABLE; repeated here so reads do not
# import the write module).
INVOICEABLE = (
    Action.USAGE,
    Action.RERATING,
    Action.MANUAL_CHARGE,
    Action.MANUAL_CREDIT,
    Action.PROMOTIONAL_CREDIT,
    Action.SUBSCRIPTION,
    Action.MEASURED_SERVICE,
)


def _pk(value: Any, what: str) -> int:
    """``value`` as a primary key, or NotFound (never a database error for a huge number)."""
    try:
        pk = int(value)
    except (TypeError, ValueError):
        raise NotFound(f"{what} {value!r} not found", field="id") from None
    if not 0 < pk <= MAX_ID:
        raise NotFound(f"{what} {value} not found", field="id")
    return pk


M = TypeVar("M", Invoice, ClosedPeriod, CreditNote)


def _scoped(qs: QuerySet[M], actor: Actor) -> QuerySet[M]:
    """``qs`` (rows with a ``customer``) limited to the actor's customers."""
    require_user(actor)
    if is_admin(actor):
        return qs
    return qs.filter(customer_id__in=visible_customers(actor=actor).values("pk"))


# --------------------------------------------------------------------------- invoices


def customer_invoices(*, actor: Actor, customer_id: Any) -> QuerySet[Invoice]:
    """The customer's invoices, newest first (NotFound for a customer the actor cannot see)."""
    customer = get_customer(actor=actor, customer_id=customer_id)
    return (
        Invoice.objects.filter(customer_id=customer.pk)
        .select_related("customer", "period")
        .defer("pdf")
        .order_by("-issued_at", "-id")
    )


def visible_invoices(*, actor: Actor) -> QuerySet[Invoice]:
    """Every invoice the actor may see, newest first (without the PDFs)."""
    qs = Invoice.objects.select_related("customer").defer("pdf").order_by("-issued_at", "-id")
    return _scoped(qs, actor)


def search_invoices(*, actor: Actor, q: str) -> QuerySet[Invoice]:
    """The search box (issue 17): invoices whose number contains ``q`` (case-insensitive),
    newest first."""
    return visible_invoices(actor=actor).filter(number__icontains=q.strip())


def get_invoice(*, actor: Actor, invoice_id: Any, with_pdf: bool = False) -> Invoice:
    """One invoice with its customer and lines (the lines in their positions)."""
    pk = _pk(invoice_id, "invoice")
    qs = Invoice.objects.select_related("customer__currency", "customer__customer_class")
    if not with_pdf:
        qs = qs.defer("pdf")
    invoice = _scoped(qs, actor).prefetch_related("lines").filter(pk=pk).first()
    if invoice is None:
        raise NotFound(f"invoice {pk} not found", field="id")
    return invoice


def invoice_pdf(invoice: Invoice, version: int | None = None) -> bytes:
    """The invoice's PDF: the newest version (issue 17: a re-render is a new version), else
    the one the engine stored, else one rendered now from the invoice's template (nothing is
    written). ``version``: that one (1 is the first stored; NotFound when there is none)."""
    if version is not None and version != 1:
        pdf = (
            InvoicePdf.objects.filter(invoice_id=invoice.pk, version=version)
            .values_list("pdf", flat=True)
            .first()
        )
        if pdf is None:
            raise NotFound(
                f"invoice {invoice.number} has no PDF version {version}", field="version"
            )
        return bytes(pdf)
    if version is None:
        newest = (
            InvoicePdf.objects.filter(invoice_id=invoice.pk)
            .order_by("-version")
            .values_list("pdf", flat=True)
            .first()
        )
        if newest is not None:
            return bytes(newest)
    if invoice.pdf is not None:
        return bytes(invoice.pdf)
    if version == 1:
        raise NotFound(f"invoice {invoice.number} has no stored PDF yet", field="version")
    return bytes(render_invoice_pdf(invoice))


def pdf_versions(invoice: Invoice) -> list[dict[str, Any]]:
    """The invoice's stored PDFs, newest first: version, when and by whom (issue 17)."""
    rows: list[dict[str, Any]] = [
        {"version": v.version, "created_at": v.created_at, "by": v.created_by}
        for v in InvoicePdf.objects.filter(invoice_id=invoice.pk)
        .select_related("created_by")
        .defer("pdf")
        .order_by("-version")
    ]
    if Invoice.objects.filter(pk=invoice.pk, pdf__isnull=False).exists():
        rows.append({"version": 1, "created_at": None, "by": None})
    return rows


def credit_note_of(invoice: Invoice) -> CreditNote | None:
    """The credit note that voided the invoice, or None."""
    return CreditNote.objects.defer("pdf").filter(invoice_id=invoice.pk).first()


def customer_credit_notes(*, actor: Actor, customer_id: Any) -> QuerySet[CreditNote]:
    customer = get_customer(actor=actor, customer_id=customer_id)
    return (
        CreditNote.objects.filter(customer_id=customer.pk)
        .select_related("invoice")
        .defer("pdf", "invoice__pdf")
        .order_by("-issued_at", "-id")
    )


def get_credit_note(*, actor: Actor, credit_note_id: Any) -> CreditNote:
    pk = _pk(credit_note_id, "credit note")
    qs = CreditNote.objects.select_related("invoice", "customer__currency").defer("invoice__pdf")
    note = _scoped(qs, actor).filter(pk=pk).first()
    if note is None:
        raise NotFound(f"credit note {pk} not found", field="id")
    return note


def credit_note_pdf(note: CreditNote) -> bytes:
    """The credit note's PDF: stored, or rendered now and stored (first download wins)."""
    if note.pdf is not None:
        return bytes(note.pdf)
    pdf = render_credit_note_pdf(note)
    save_credit_note_pdf(note.pk, pdf)
    return pdf


# --------------------------------------------------------------------------- the invoice list


INVOICE_FILTERS = ("status", "kind", "customer", "reseller", "issued_from", "issued_to", "number")


def list_invoices(
    *,
    actor: Actor,
    status: str | None = None,
    kind: str | None = None,
    customer: int | None = None,
    reseller: int | None = None,
    issued_from: dt.date | None = None,
    issued_to: dt.date | None = None,
    number: str | None = None,
) -> QuerySet[Invoice]:
    """Every invoice the actor may see (a reseller's user: its customers' only), newest first,
    filtered: ``status`` and ``kind`` (the models' values; checked by the caller), the
    customer, the customer's reseller (``0``: customers of no reseller), issued on or after
    ``issued_from`` / on or before ``issued_to`` (days in UTC), the number (a part of it,
    any case)."""
    qs = visible_invoices(actor=actor).select_related("customer__currency")
    if status:
        qs = qs.filter(status=status)
    if kind:
        qs = qs.filter(kind=kind)
    if customer is not None:
        qs = qs.filter(customer_id=customer)
    if reseller is not None:
        qs = qs.filter(customer__reseller_id=reseller or None)
    if issued_from is not None:
        qs = qs.filter(issued_at__gte=_day_start(issued_from))
    if issued_to is not None:
        qs = qs.filter(issued_at__lt=_day_start(issued_to) + dt.timedelta(days=1))
    if number:
        qs = qs.filter(number__icontains=number.strip())
    return qs


def invoice_filters(params: Any) -> dict[str, Any]:
    """The list's filters parsed from query parameters (``params.get``): blank means no
    filter; a bad value is a ValidationFailed naming its parameter."""
    out: dict[str, Any] = {}

    def text(key: str) -> str:
        value = params.get(key)
        return value.strip() if isinstance(value, str) else ""

    for key, choices in (("status", InvoiceStatus.values), ("kind", InvoiceKind.values)):
        if text(key):
            out[key] = as_choice(key, text(key), choices)
    for key in ("customer", "reseller"):
        if text(key):
            out[key] = as_int(key, text(key), minimum=0)
    for key in ("issued_from", "issued_to"):
        if text(key):
            try:
                day = dt.date.fromisoformat(text(key))
            except ValueError:
                raise ValidationFailed(
                    f"{key} must be a date, YYYY-MM-DD (got {text(key)!r})", field=key
                ) from None
            check_instant(key, day)
            out[key] = day
    if out.get("issued_from") and out.get("issued_to") and out["issued_to"] < out["issued_from"]:
        raise ValidationFailed("issued_to is before issued_from", field="issued_to")
    if text("number"):
        out["number"] = as_str("number", text("number"), max_length=40)
    return out


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


# --------------------------------------------------------------------------- periods


def _unbilled_in_period() -> Subquery:
    """Σ of the invoiceable ledger rows dated within the period that no invoice has billed."""
    rows = (
        Transaction.objects.filter(
            customer_id=OuterRef("customer_id"),
            created_at__gte=OuterRef("start"),
            created_at__lt=OuterRef("end"),
            invoice__isnull=True,
            action__in=INVOICEABLE,
        )
        .order_by()
        .values("customer_id")
        .annotate(s=Sum("amount"))
        .values("s")
    )
    return Subquery(rows, output_field=MoneyField())


# Operator adjustments an invoice bills (services.ADJUSTMENTS ∩ INVOICEABLE): while periods
# wait for approval they land in the customer's oldest waiting one (CC-18).
ADJUSTMENT_CHARGES = (Action.MANUAL_CHARGE, Action.MANUAL_CREDIT, Action.PROMOTIONAL_CREDIT)


def _waiting_unbilled() -> Subquery:
    """What approving a waiting period now bills (CC-18, as ``closing._close``): usage and
    fees dated within it, and, for the customer's oldest waiting period, every operator
    adjustment no period holds yet, made within it or while it waits (a younger waiting
    period gets its adjustments only once the older ones are approved)."""
    window = Q(created_at__gte=OuterRef("start"), created_at__lt=OuterRef("end")) & ~Q(
        action__in=ADJUSTMENT_CHARGES
    )
    older_waiting = ClosedPeriod.objects.filter(
        customer_id=OuterRef(OuterRef("customer_id")),
        status=PeriodStatus.AWAITING_APPROVAL,
        start__lt=OuterRef(OuterRef("start")),
    )
    adjustments = Q(action__in=ADJUSTMENT_CHARGES, created_at__gte=OuterRef("start")) & ~Exists(
        older_waiting
    )
    rows = (
        Transaction.objects.filter(
            customer_id=OuterRef("customer_id"),
            invoice__isnull=True,
            period__isnull=True,
            action__in=INVOICEABLE,
        )
        .filter(window | adjustments)
        .order_by()
        .values("customer_id")
        .annotate(s=Sum("amount"))
        .values("s")
    )
    return Subquery(rows, output_field=MoneyField())


def list_periods(
    *, actor: Actor, status: str = PeriodStatus.AWAITING_APPROVAL, customer_id: Any = None
) -> QuerySet[ClosedPeriod]:
    """Ended periods of ``status`` (for CC-18, the ones waiting for an administrator's
    approval: the earliest deadline first, a period without a deadline last; closed ones:
    newest first), each with ``unbilled``: the charges no invoice has billed yet (before taxes
    and rounding): for a waiting period what its approval would bill now, including the
    adjustments made while it waits (:func:`_waiting_unbilled`); for a closed one the charges
    dated within it. ``customer_id``: one customer's only."""
    qs = ClosedPeriod.objects.filter(status=status).select_related("customer__currency")
    if customer_id is not None:
        qs = qs.filter(customer_id=get_customer(actor=actor, customer_id=customer_id).pk)
    order: tuple[Any, ...] = (
        (F("approve_by").asc(nulls_last=True), "end", "customer__name", "id")
        if status == PeriodStatus.AWAITING_APPROVAL
        else ("-end", "customer__name", "id")
    )
    return (
        _scoped(qs, actor)
        .defer("statement_pdf")
        .annotate(
            unbilled=(
                _waiting_unbilled()
                if status == PeriodStatus.AWAITING_APPROVAL
                else _unbilled_in_period()
            )
        )
        .order_by(*order)
    )


def periods_awaiting_approval(*, actor: Actor) -> QuerySet[ClosedPeriod]:
    """CC-18: the periods waiting for approval the actor may approve."""
    return list_periods(actor=actor, status=PeriodStatus.AWAITING_APPROVAL)


def unbilled(period: ClosedPeriod) -> Decimal:
    value = getattr(period, "unbilled", None)
    return value if value is not None else Decimal("0.00000")


def get_period(*, actor: Actor, period_id: Any) -> ClosedPeriod:
    pk = _pk(period_id, "period")
    qs = ClosedPeriod.objects.select_related("customer__currency")
    period = _scoped(qs, actor).filter(pk=pk).first()
    if period is None:
        raise NotFound(f"period {pk} not found", field="id")
    return period


def customer_periods(*, actor: Actor, customer_id: Any) -> QuerySet[ClosedPeriod]:
    """The customer's ended periods (closed and waiting), newest first, without the PDF
    bytes; ``has_statement`` says whether a closing statement was rendered (CC-16)."""
    from django.db.models import BooleanField, Case, Value, When

    customer = get_customer(actor=actor, customer_id=customer_id)
    return (
        ClosedPeriod.objects.filter(customer_id=customer.pk)
        .defer("statement_pdf")
        .annotate(
            has_statement=Case(
                When(statement_pdf__isnull=False, then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            )
        )
        .order_by("-start")
    )


# --------------------------------------------------------------------------- payment method


def payment_method(*, actor: Actor, customer_id: Any) -> PaymentMethod | None:
    """The customer's saved payment method, or None."""
    customer = get_customer(actor=actor, customer_id=customer_id)
    return PaymentMethod.objects.filter(customer_id=customer.pk).first()


def gateway_label(name: str) -> str:
    """What the gateway a method was saved with is, in words."""
    cls = GATEWAYS.get(name)
    label = getattr(cls, "label", None) if cls is not None else None
    return str(label) if label else name


def gateway_configured() -> str | None:
    """The configured gateway's label, or None when no payment gateway is configured."""
    try:
        return gateway().label
    except GatewayNotConfigured:
        return None


# --------------------------------------------------------------------------- a reseller's own


def own_invoices(*, actor: Actor) -> QuerySet[Invoice]:
    """The invoices the operator issued to the actor's own reseller (issue 16 §2), newest
    first; "not found" for an administrator."""
    reseller = own_reseller(actor=actor)
    return (
        Invoice.objects.filter(customer_id=reseller.pk)
        .select_related("customer")
        .defer("pdf")
        .order_by("-issued_at", "-id")
    )


def get_own_invoice(*, actor: Actor, invoice_id: Any) -> Invoice:
    """One invoice of the actor's own reseller, with its PDF."""
    pk = _pk(invoice_id, "invoice")
    reseller = own_reseller(actor=actor)
    invoice = (
        Invoice.objects.select_related("customer__currency")
        .filter(pk=pk, customer_id=reseller.pk)
        .first()
    )
    if invoice is None:
        raise NotFound(f"invoice {pk} not found", field="id")
    return invoice
