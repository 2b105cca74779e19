"""Invoice and closing-statement documents (issue 4 section 5, CC-16).

Templates are Django templates in ``invoicing/templates/invoicing/``: one per invoice template
of a class (``standard``, ``detailed``, ``compact``; ``Invoice.template`` names it) and
``statement`` for the CC-16 closing statement. Each page carries its own CSS (no external
resource is ever fetched: WeasyPrint renders with ``base_url=None``).

Money is shown exactly: with the currency's decimals when the amount has no more digits than
that (rounded amounts: totals, taxes), otherwise with as many of the 5 stored decimals as it
needs (exact usage amounts: ``10.00123``). Never through a float: ``core.money.format_money``,
the one rule that pages and e-mails follow too.

Dates are shown in the customer's time zone. A period ``[start, end)`` is shown by its first
and last day (the day of ``end - 1µs``).

``render_pending`` is the engine's ``documents`` step: every missing invoice PDF and wanted
closing statement is rendered outside any transaction, then saved by a guarded ``UPDATE …
WHERE pdf IS NULL`` in a short transaction of its own, so two engine processes never clash
and a crash loses at most the document being rendered.
"""

from __future__ import annotations

import base64
import datetime as dt
import zoneinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string

from billcore.classes.models import InvoiceTemplate
from billcore.core.countries import COUNTRIES
from billcore.core.invoices import SERVICE_TEXT
from billcore.core.money import QUANTUM, format_money
from billcore.customers.branding import seller_of
from billcore.customers.models import Customer
from billcore.installation.models import CustomField, InstallationSettings
from billcore.invoicing.models import (
    ClosedPeriod,
    CreditNote,
    Invoice,
    InvoiceLine,
    LineKind,
)
from billcore.invoicing.summary import summary_labels
from billcore.ledger.models import Action, Transaction

ZERO = Decimal(0)
# The rows the detailed template's "largest charges" list picks from (never taxes/rounding).
CHARGE_ACTIONS = (
    Action.USAGE,
    Action.SUBSCRIPTION,
    Action.MEASURED_SERVICE,
    Action.MANUAL_CHARGE,
)
LARGEST_CHARGES = 5  # the "largest charges" list of the detailed template
ROUNDING_KINDS = (LineKind.SPECIAL_ROUNDING, LineKind.ROUNDING)
TAX_KINDS = (LineKind.TAX, LineKind.TAX_INCLUDED)
# The compact template's groups, in order (label, line kinds summed).
COMPACT_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Usage", (LineKind.USAGE,)),
    ("Subscription fees", (LineKind.SUBSCRIPTION,)),
    ("Other fees", (LineKind.FEE,)),
    ("Adjustments", (LineKind.ADJUSTMENT,)),
    ("Taxes", (LineKind.TAX,)),
    ("Rounding", ROUNDING_KINDS),
)


# --------------------------------------------------------------------------------------------
# Formatting


def format_quantity(value: Decimal | None) -> str:
    """A quantity without trailing zeros: 60.00000 → "60", 1.50000 → "1.5"."""
    if value is None:
        return ""
    text = format(value.quantize(QUANTUM).normalize(), "f")
    return "0" if text in ("-0", "0") else text


def customer_zone(customer: Any) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(customer.time_zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def local_day(value: dt.datetime, zone: dt.tzinfo) -> str:
    return value.astimezone(zone).strftime("%Y-%m-%d")


def last_day(end: dt.datetime, start: dt.datetime, zone: dt.tzinfo) -> str:
    """The last day of ``[start, end)``."""
    last = end - dt.timedelta(microseconds=1) if end > start else end
    return local_day(last, zone)


def _installation() -> InstallationSettings:
    inst, _ = InstallationSettings.objects.get_or_create(pk=1)
    return inst


COUNTRY_NAMES = dict(COUNTRIES)
# The customer's tax id (issue 17 §6): the custom field of this name (CU-11), as the demo
# and the product's classes define it.
TAX_ID_FIELD = "tax_id"


def _country(code: str) -> str:
    return COUNTRY_NAMES.get(code, code)


def _customer_block(customer: Any) -> dict[str, Any]:
    """The customer as the document addresses it: name, billing address, tax id."""
    person = " ".join(p for p in (customer.first_name, customer.last_name) if p)
    city_line = " ".join(p for p in (customer.zip_code, customer.city) if p)
    lines = [
        line
        for line in (
            customer.company_name if customer.company_name != customer.name else "",
            person,
            customer.address_line1,
            customer.address_line2,
            city_line,
            customer.state,
            _country(customer.country),
        )
        if line
    ]
    tax_id = str((customer.custom_fields or {}).get(TAX_ID_FIELD, "") or "")
    label = "Tax ID"
    if tax_id:
        defined = CustomField.objects.filter(name=TAX_ID_FIELD).values_list("label", flat=True)
        label = defined.first() or label
    return {
        "name": customer.name,
        "address": lines,
        "email": customer.email,
        "tax_id": tax_id,
        "tax_id_label": label,
    }


def _seller_block(inst: InstallationSettings, customer: Customer) -> dict[str, Any]:
    """The seller (issue 17 §6): legal name, address, tax number, and how to pay. A reseller's
    customer is sold to by its reseller, whose branding (issue 16 §2) names it, with its
    logo; everybody else by the installation."""
    seller = seller_of(customer, installation=inst)
    lines = [*seller.address_lines, _country(seller.country)]
    logo = ""
    if seller.logo:
        logo = f"data:{seller.logo_type};base64,{base64.b64encode(seller.logo).decode()}"
    return {
        "name": seller.name,
        "address": [line for line in lines if line],
        "tax_number": seller.tax_number,
        "email": seller.email,
        "payment_instructions": [x.rstrip() for x in seller.payment_instructions.splitlines()],
        "logo": logo,
    }


# Usage quantities as an accountant reads them: seconds as minutes, bytes as MB, messages.
SECOND_UNITS = {"s", "sec", "secs", "second", "seconds"}
MINUTE_UNITS = {"min", "mins", "minute", "minutes"}
BYTES_PER = {
    "b": 1,
    "byte": 1,
    "bytes": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
}
MESSAGE_UNITS = {"message", "messages", "msg", "msgs", "sms"}
SHOWN_PLACES = Decimal("0.01")


def _shown(value: Decimal) -> str:
    """To 2 decimals half up, without trailing zeros: 12.50 → "12.5", 1.6667 → "1.67"."""
    return format_quantity(value.quantize(SHOWN_PLACES, rounding=ROUND_HALF_UP))


def usage_quantity(service: str, quantity: Decimal | None, unit: str) -> str:
    """A usage line's quantity with its unit: voice seconds as "12.5 min", data as "250 MB",
    messaging as "3 messages"; another unit as posted ("4 unit")."""
    if quantity is None:
        return ""
    u = (unit or "").strip().lower()
    if u in SECOND_UNITS or (not u and service == "voice"):
        return f"{_shown(quantity / 60)} min"
    if u in MINUTE_UNITS:
        return f"{_shown(quantity)} min"
    if u in BYTES_PER or (not u and service == "data"):
        # No unit: bytes, as the network reports data and as rating reads it (docs/rating.md).
        return f"{_shown(quantity * BYTES_PER.get(u, 1) / 10**6)} MB"
    if u in MESSAGE_UNITS or (not u and service == "messaging"):
        n = format_quantity(quantity)
        return f"{n} message" if n == "1" else f"{n} messages"
    return f"{format_quantity(quantity)} {unit}".strip()


# --------------------------------------------------------------------------------------------
# Invoices


def _line(line: InvoiceLine, decimals: int, unit: str = "") -> dict[str, Any]:
    """``unit``: the line's usage unit when the line has none (invoices issued before lines
    kept their unit)."""
    return {
        "position": line.position,
        "kind": line.kind,
        "kind_label": LineKind(line.kind).label if line.kind in LineKind.values else line.kind,
        "description": line.description,
        "service": line.service,
        "quantity": format_quantity(line.quantity),
        "quantity_shown": usage_quantity(line.service, line.quantity, line.unit or unit)
        if line.kind == LineKind.USAGE
        else "",
        "count": line.count,
        "rate": format_quantity(line.rate) if line.rate is not None else "",
        "base": format_money(line.base, decimals) if line.base is not None else "",
        "amount": format_money(line.amount, decimals),
        "amount_value": line.amount,
    }


def _usage_units(invoice: Invoice) -> dict[str, str]:
    """The unit of each service's usage on the invoice, when the records agree on one."""
    units: dict[str, set[str]] = {}
    for service, unit in (
        Transaction.objects.filter(invoice=invoice, action=Action.USAGE)
        .values_list(
            Coalesce("xdr__service", "reseller_xdr__service"),
            Coalesce("xdr__unit", "reseller_xdr__unit"),
        )
        .distinct()
    ):
        units.setdefault(service or "", set()).add(unit or "")
    return {s: next(iter(u)) for s, u in units.items() if len(u) == 1}


def _subscription_items(invoice: Invoice, zone: dt.tzinfo) -> list[dict[str, Any]]:
    """The invoice's subscription fees one by one, each with the plan and the days it covers
    (issue 17 §6)."""
    out = []
    rows = (
        Transaction.objects.filter(invoice=invoice, action=Action.SUBSCRIPTION)
        .select_related("subscription_charge__subscription__plan")
        .order_by("created_at", "id")
    )
    for row in rows:
        fee = getattr(row, "subscription_charge", None)
        if fee is not None:
            start, end = fee.period_start, fee.period_end
            first, last = local_day(start, zone), last_day(end, start, zone)
            period = first if first == last else f"{first} \u2013 {last}"
            text = f"{fee.subscription.plan.name}, {period}"
        else:
            text = row.visible_comment or "Subscription fee"
        out.append({"description": text, "amount": format_money(row.amount, invoice.decimals)})
    return out


def _largest_charges(invoice: Invoice, zone: dt.tzinfo) -> list[dict[str, Any]]:
    """The invoice's largest billed charges (ledger rows), biggest first."""
    out = []
    rows = (
        Transaction.objects.filter(
            invoice=invoice, action__in=CHARGE_ACTIONS, amount__gt=0, hidden=False
        )
        .select_related("xdr", "xdr__account")
        .order_by("-amount", "created_at", "id")[:LARGEST_CHARGES]
    )
    for row in rows:
        xdr = getattr(row, "xdr", None)
        if xdr is not None:
            what = SERVICE_TEXT.get(xdr.service, xdr.get_service_display())
            if xdr.account is not None:
                what = f"{what}, {xdr.account.identifier}"
            at = xdr.started_at
            quantity = format_quantity(xdr.quantity)
            unit = xdr.unit
        else:
            what = row.get_action_display()
            if row.visible_comment:
                what = f"{what}: {row.visible_comment}"
            at = row.created_at
            quantity, unit = "", ""
        out.append(
            {
                "date": local_day(at, zone),
                "description": what,
                "quantity": quantity,
                "unit": unit,
                "amount": format_money(row.amount, invoice.decimals),
            }
        )
    return out


def wallet_usage(invoice: Invoice) -> list[dict[str, Any]]:
    """Issue 13: the usage of the invoice's period paid from service wallets, per wallet (its
    name, the records, the money): listed on the invoice, never billed again (it has no
    ledger row of the main balance)."""
    from django.db.models import Count, Sum

    from billcore.plans.models import PartKind, XdrPart

    rows = (
        XdrPart.objects.filter(
            kind=PartKind.WALLET,
            xdr__customer_id=invoice.customer_id,
            xdr__status="charged",
            xdr__started_at__gte=invoice.period_start,
            xdr__started_at__lt=invoice.period_end,
        )
        .values("wallet__name")
        .annotate(records=Count("xdr_id", distinct=True), paid=Sum("amount"))
        .order_by("wallet__name")
    )
    return [
        {
            "wallet": row["wallet__name"] or "(closed wallet)",
            "records": row["records"],
            "amount": format_money(row["paid"] or ZERO, invoice.decimals),
        }
        for row in rows
    ]


def invoice_context(invoice: Invoice) -> dict[str, Any]:
    """Everything an invoice template shows, already formatted (strings)."""
    customer = invoice.customer
    zone = customer_zone(customer)
    inst = _installation()
    d = invoice.decimals
    lines = list(InvoiceLine.objects.filter(invoice=invoice).order_by("position"))
    units = _usage_units(invoice)
    shown = [_line(x, d, units.get(x.service, "")) for x in lines]
    subscriptions = _subscription_items(invoice, zone)
    for x in shown:
        x["items"] = subscriptions if x["kind"] == LineKind.SUBSCRIPTION else []
    charge_lines = [
        x for x in shown if x["kind"] not in TAX_KINDS and x["kind"] not in ROUNDING_KINDS
    ]
    tax_lines = [x for x in shown if x["kind"] in TAX_KINDS]
    rounding_lines = [x for x in shown if x["kind"] in ROUNDING_KINDS]
    usage = [
        {**x, "unit": units.get(x["service"], "")} for x in shown if x["kind"] == LineKind.USAGE
    ]
    groups = []
    for label, kinds in COMPACT_GROUPS:
        members = [x for x in lines if x.kind in kinds]
        if members:
            groups.append(
                {"label": label, "amount": format_money(sum((x.amount for x in members), ZERO), d)}
            )
    charges = sum(
        (x.amount for x in lines if x.kind not in TAX_KINDS and x.kind not in ROUNDING_KINDS), ZERO
    )
    template = invoice.template if invoice.template in InvoiceTemplate.values else "standard"
    seller = _seller_block(inst, customer)
    return {
        "legal_name": seller["name"],
        "seller": seller,
        "customer": _customer_block(customer),
        "number": invoice.number,
        "kind": invoice.kind,
        "kind_label": invoice.get_kind_display(),
        "status": invoice.status,
        "status_label": invoice.get_status_display(),
        "voided_by": _voided_by(invoice),
        "template": template,
        "time_zone": str(zone),
        "issued_date": local_day(invoice.issued_at, zone),
        "due_date": local_day(invoice.due_at, zone),
        "period_start": local_day(invoice.period_start, zone),
        "period_end": last_day(invoice.period_end, invoice.period_start, zone),
        "currency": invoice.currency,
        "previous_balance": format_money(invoice.previous_balance, d),
        "payments": format_money(invoice.payments, d),
        "balance_after": format_money(invoice.balance_after, d),
        "labels": summary_labels(invoice),
        "charges": format_money(charges, d),
        "net": format_money(invoice.net, d),
        "tax_total": format_money(invoice.tax_total, d),
        "tax_inclusive": invoice.tax_inclusive,
        "lines": shown,
        "charge_lines": charge_lines,
        "tax_lines": tax_lines,
        "rounding_lines": rounding_lines,
        "usage_lines": usage,
        "groups": groups,
        "largest_charges": _largest_charges(invoice, zone),
        "wallet_usage": wallet_usage(invoice),
        "total": format_money(invoice.total, d),
        "amount_paid": format_money(invoice.amount_paid, d),
        "amount_due": format_money(invoice.amount_due, d),
    }


def invoice_html(invoice: Invoice) -> str:
    """The invoice as HTML, from ``invoicing/<template>.html`` (an unknown template name falls
    back to ``standard``)."""
    context = invoice_context(invoice)
    return render_to_string(f"invoicing/{context['template']}.html", context)


def _pdf(html: str) -> bytes:
    from weasyprint import HTML

    data: bytes = HTML(string=html, base_url=None).write_pdf()
    return data


def render_invoice_pdf(invoice: Invoice) -> bytes:
    return _pdf(invoice_html(invoice))


def _voided_by(invoice: Invoice) -> str:
    """The credit note that voided the invoice, in words, or "" (issue 17)."""
    note = CreditNote.objects.filter(invoice_id=invoice.pk).values_list("number", "issued_at")
    found = note.first()
    if found is None:
        return ""
    zone = customer_zone(invoice.customer)
    return f"Void: cancelled by credit note {found[0]} of {local_day(found[1], zone)}"


# --------------------------------------------------------------------------------------------
# Credit notes (issue 17)


def credit_note_context(note: CreditNote) -> dict[str, Any]:
    """What the credit note's PDF shows: the invoice it voids and what it reverses."""
    invoice = note.invoice
    customer = note.customer
    zone = customer_zone(customer)
    d = note.decimals
    parts = [
        (f"Charges of invoice {invoice.number}", note.charges),
        (f"Taxes of invoice {invoice.number}", note.taxes),
        (f"Rounding of invoice {invoice.number}", note.rounding),
    ]
    inst = _installation()
    seller = _seller_block(inst, customer)
    return {
        "legal_name": seller["name"],
        "seller": seller,
        "customer": _customer_block(customer),
        "number": note.number,
        "invoice_number": invoice.number,
        "invoice_issued": local_day(invoice.issued_at, zone),
        "issued_date": local_day(note.issued_at, zone),
        "reason": note.reason,
        "currency": note.currency,
        "time_zone": str(zone),
        "lines": [
            {"description": text, "amount": format_money(-amount, d)}
            for text, amount in parts
            if amount
        ],
        "total": format_money(-note.total, d),
        "paid_before": format_money(note.paid_before, d) if note.paid_before else "",
        "balance_after": format_money(note.balance_after, d),
    }


def render_credit_note_pdf(note: CreditNote) -> bytes:
    return _pdf(render_to_string("invoicing/credit_note.html", credit_note_context(note)))


def save_credit_note_pdf(note_id: int, pdf: bytes) -> bool:
    """Store ``pdf`` unless the credit note has one already. True if stored."""
    with transaction.atomic():
        return CreditNote.objects.filter(pk=note_id, pdf__isnull=True).update(pdf=pdf) == 1


# --------------------------------------------------------------------------------------------
# Closing statements (CC-16)


def statement_context(period: ClosedPeriod) -> dict[str, Any]:
    """The period's ledger as the customer sees it: opening balance (every row of the
    customer's earlier closed periods), each row of the period that is not hidden with the
    balance after it, closing balance (opening + every row of the period, hidden ones too)."""
    customer = period.customer
    zone = customer_zone(customer)
    d = customer.currency.decimals
    opening = (
        Transaction.objects.filter(
            customer_id=customer.pk, period__isnull=False, period__start__lt=period.start
        ).aggregate(s=Sum("amount"))["s"]
        or ZERO
    )
    balance = opening
    rows = []
    for row in Transaction.objects.filter(period=period).order_by("created_at", "id"):
        balance += row.amount
        if row.hidden:
            continue
        rows.append(
            {
                "date": local_day(row.created_at, zone),
                "action": row.get_action_display(),
                "comment": row.visible_comment,
                "amount": format_money(row.amount, d),
                "balance": format_money(balance, d),
            }
        )
    inst = _installation()
    seller = _seller_block(inst, customer)
    return {
        "legal_name": seller["name"],
        "seller": seller,
        "customer": _customer_block(customer),
        "time_zone": str(zone),
        "period_start": local_day(period.start, zone),
        "period_end": last_day(period.end, period.start, zone),
        "closed_date": local_day(period.closed_at, zone) if period.closed_at else "",
        "currency": customer.currency_id,
        "opening_balance": format_money(opening, d),
        "rows": rows,
        "closing_balance": format_money(balance, d),
    }


def statement_html(period: ClosedPeriod) -> str:
    return render_to_string("invoicing/statement.html", statement_context(period))


def render_statement_pdf(period: ClosedPeriod) -> bytes:
    return _pdf(statement_html(period))


# --------------------------------------------------------------------------------------------
# The engine's documents step


def save_invoice_pdf(invoice_id: int, pdf: bytes) -> bool:
    """Store ``pdf`` unless the invoice has one already (another process won). True if
    stored."""
    with transaction.atomic():
        return Invoice.objects.filter(pk=invoice_id, pdf__isnull=True).update(pdf=pdf) == 1


def render_pending(*, now: dt.datetime, limit: int | None = None) -> int:
    """Render and store every missing invoice PDF and every wanted closing statement (at most
    ``limit`` documents); the number stored."""
    done = 0
    invoice_ids = list(
        Invoice.objects.filter(pdf__isnull=True).order_by("id").values_list("pk", flat=True)
    )
    for pk in invoice_ids:
        if limit is not None and done >= limit:
            return done
        invoice = (
            Invoice.objects.select_related("customer", "customer__currency")
            .defer("pdf")
            .filter(pk=pk, pdf__isnull=True)
            .first()
        )
        if invoice is None:
            continue  # another process stored it meanwhile
        if save_invoice_pdf(pk, render_invoice_pdf(invoice)):
            done += 1
    for pk in (
        CreditNote.objects.filter(pdf__isnull=True).order_by("id").values_list("pk", flat=True)
    ):
        if limit is not None and done >= limit:
            return done
        note = (
            CreditNote.objects.select_related("invoice", "customer")
            .defer("pdf", "invoice__pdf")
            .filter(pk=pk, pdf__isnull=True)
            .first()
        )
        if note is not None and save_credit_note_pdf(pk, render_credit_note_pdf(note)):
            done += 1
    period_ids = list(
        ClosedPeriod.objects.filter(statement_wanted=True, statement_pdf__isnull=True)
        .order_by("id")
        .values_list("pk", flat=True)
    )
    for pk in period_ids:
        if limit is not None and done >= limit:
            return done
        period = (
            ClosedPeriod.objects.select_related("customer", "customer__currency")
            .defer("statement_pdf")
            .filter(pk=pk, statement_pdf__isnull=True)
            .first()
        )
        if period is None:
            continue
        pdf = render_statement_pdf(period)
        with transaction.atomic():
            stored = ClosedPeriod.objects.filter(pk=pk, statement_pdf__isnull=True).update(
                statement_pdf=pdf
            )
        done += stored
    return done
