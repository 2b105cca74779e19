"""Period closing and invoices (CC-12 … CC-18): every write of the billing engine.

Closing a period, for one customer locked in one transaction:

1. the period's ledger rows are stamped with the ``ClosedPeriod`` (usage and charges posted
   before the period's end; while a period waits for approval, adjustments made until it
   closes land in it too, CC-18);
2. the invoices the class asks for are issued from the stamped rows that no invoice has billed
   yet: a regular one, and a separate one for subscription fees when CC-14 is on. Each invoice
   takes its taxes (CC-10) and its rounding (CC-17), posted to the ledger as ``tax`` and
   ``invoice_rounding`` rows, so the balance, the ledger and the invoice agree to the last
   digit;
3. a balance reset (CC-12) brings the balance to zero when the class says so;
4. the e-mails owed (invoice, statistics) are queued in the same transaction.

Arithmetic of one invoice (``tax`` only when exclusive; inclusive taxes are shown, not added)::

    charges  = Σ invoiced ledger rows (5 decimals)
    base     = charges to the currency's decimals    (up for the currency default pattern,
                                                      half-up for a custom one)
    taxes    = calculator(base)                      (rounded up, or half-up by option)
    before   = charges + taxes + special rounding    (GST Malaysia: to 0.05)
    total    = before rounded by the class's pattern (CC-17: the total, never the base), then
               to the currency's decimals when the pattern is finer (a class without currency)
    rounding = total - charges - taxes - special     (a line of its own)

so ``Σ lines == total`` exactly.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Q, Sum

from billcore.audit.services import record, snapshot
from billcore.classes.models import (
    CustomerClass,
    PeriodCloseMode,
    RoundingMode,
    SendStatistics,
    TaxationMethod,
)
from billcore.core.rounding import (
    currency_default_pattern,
    parse_pattern,
    round_currency_default,
    round_down,
    round_half_up,
    round_invoice_total,
    round_up,
)
from billcore.core.taxes import TaxResult, custom_taxes, fixed_vat
from billcore.core.taxes import gst_malaysia as gst_calculator
from billcore.customers.models import BalanceControl, Customer, Status
from billcore.customers.selectors import get_customer
from billcore.errors import Conflict, NotFound, ValidationFailed
from billcore.installation.models import InstallationSettings
from billcore.invoicing.models import (
    ClosedPeriod,
    Invoice,
    InvoiceCounter,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
    PeriodStatus,
)
from billcore.ledger.models import Action, Transaction
from billcore.ledger.postings import post_locked
from billcore.notifications.models import EmailKind
from billcore.notifications.outbox import queue_email

ZERO = Decimal(0)

# Rows an invoice bills (charges and credits); everything else only moves the balance.
INVOICEABLE = (
    Action.USAGE,
    Action.MANUAL_CHARGE,
    Action.MANUAL_CREDIT,
    Action.PROMOTIONAL_CREDIT,
    Action.SUBSCRIPTION,
)
# Money the customer paid (or got back): settles invoices, oldest first. An opening balance
# is money brought in (or a debt brought in, paid first).
PAYMENTS = (
    Action.OPENING_BALANCE,
    Action.MANUAL_PAYMENT,
    Action.ECOMMERCE_PAYMENT,
    Action.CAPTURE_PAYMENT,
    Action.REFUND,
    Action.ECOMMERCE_REFUND,
)
# A period's "payments" on its invoices: payments and refunds, and the taxes they contained
# (a prepaid customer taxed at payment time: the tax rows no invoice carries).
_PAID_IN = Q(action__in=PAYMENTS) | Q(action=Action.TAX, invoice__isnull=True)
# Adjustments an operator makes: while a period awaits approval they land in it (CC-18).
ADJUSTMENTS = (
    Action.MANUAL_CHARGE,
    Action.MANUAL_CREDIT,
    Action.PROMOTIONAL_CREDIT,
    *PAYMENTS[1:],
)
LINE_OF_ACTION: dict[str, str] = {
    Action.USAGE: LineKind.USAGE,
    Action.SUBSCRIPTION: LineKind.SUBSCRIPTION,
    Action.MANUAL_CHARGE: LineKind.FEE,
    Action.MANUAL_CREDIT: LineKind.ADJUSTMENT,
    Action.PROMOTIONAL_CREDIT: LineKind.ADJUSTMENT,
}
LINE_TEXT: dict[str, str] = {
    Action.SUBSCRIPTION: "Subscription fees",
    Action.MANUAL_CHARGE: "Other fees",
    Action.MANUAL_CREDIT: "Credits",
    Action.PROMOTIONAL_CREDIT: "Promotional credits",
}
SERVICE_TEXT = {
    "voice": "Voice calls",
    "data": "Data",
    "messaging": "Messaging",
    "other": "Other usage",
}


# --------------------------------------------------------------------------------------------
# Small helpers


def _installation() -> InstallationSettings:
    settings, _ = InstallationSettings.objects.get_or_create(pk=1)
    return settings


def _lock_customer(customer_id: int, *, skip_locked: bool = False) -> Customer | None:
    """The customer row, locked (``FOR UPDATE``; SQLite's IMMEDIATE transaction already holds
    the write lock). ``skip_locked``: None when another engine process holds it."""
    qs = Customer.objects.select_related("customer_class", "currency").filter(pk=customer_id)
    if connection.vendor == "postgresql":
        qs = qs.select_for_update(skip_locked=skip_locked, of=("self",))
    return qs.first()


def billed_externally(customer: Customer, cls: CustomerClass, inst: InstallationSettings) -> bool:
    """CC-12: a postpaid customer of a class billed externally (needs AllowExternalBilling)."""
    return bool(
        inst.allow_external_billing
        and cls.postpaid_billed_externally
        and customer.balance_control == BalanceControl.POSTPAID
    )


def _pattern(cls: CustomerClass, decimals: int) -> tuple[str, Any]:
    if cls.invoice_rounding == RoundingMode.CUSTOM and cls.invoice_rounding_pattern:
        return cls.invoice_rounding_pattern, "custom"
    return currency_default_pattern(decimals=decimals), "currency_default"


def _balance(customer_id: int) -> Decimal:
    value: Any = Customer.objects.values_list("balance", flat=True).get(pk=customer_id)
    return Decimal(value)


def _next_number(scope: int) -> tuple[int, str]:
    """The next gapless number of ``scope`` (0 = installation, else the reseller's id), taken
    under the counter row's lock in the caller's transaction."""
    table = InvoiceCounter._meta.db_table
    sql = f"UPDATE {table} SET last = last + 1 WHERE scope = %s RETURNING last"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [scope])
        row = cursor.fetchone()
        if row is None:
            InvoiceCounter.objects.get_or_create(scope=scope)
            cursor.execute(sql, [scope])
            row = cursor.fetchone()
    last = int(row[0])
    number = f"INV-{last:07d}" if scope == 0 else f"R{scope}-{last:07d}"
    return last, number


# --------------------------------------------------------------------------------------------
# Taxes and rounding


@dataclass
class Totals:
    charges: Decimal
    base: Decimal
    tax: TaxResult | None
    inclusive: bool
    tax_added: Decimal  # taxes added on top (0 when inclusive)
    special: Decimal  # GST 0.05 rounding
    total: Decimal
    rounding: Decimal


def tax_engine_for(method: str, inst: InstallationSettings) -> Any:
    """The external tax engine of ``method`` (EZTax / SureTax), or TaxEngineNotConfigured."""
    from billcore.invoicing.tax_engines import engine_for

    return engine_for(method, inst)


def taxed_at_close(balance_control: str, cls: CustomerClass) -> bool:
    """Taxes go on the invoice, except for a prepaid customer of a class that taxes prepaid
    customers at the time of payment (portabilling.md "Taxes")."""
    return not (balance_control == BalanceControl.PREPAID and cls.tax_prepaid_at_payment)


def tax_at_payment(
    *, customer_id: int, amount: Decimal, now: dt.datetime, payment_id: int | None = None
) -> Transaction | None:
    """A prepaid customer's payment of a class taxing at payment time: the tax the payment
    contains (the payment is the gross; inclusive calculation of the class's fixed VAT, custom
    taxes or GST) is posted as a ``tax`` row at once, naming the payment (``reference``). The
    caller (the ledger, inside the payment's transaction) holds the customer's lock. None when
    nothing is taxed."""
    customer = Customer.objects.select_related("customer_class", "currency").get(pk=customer_id)
    cls = customer.customer_class
    if taxed_at_close(customer.balance_control, cls):
        return None
    decimals = customer.currency.decimals
    gross = round_down(amount, places=decimals)
    half_up = _installation().tax_rounding_half_up
    method = cls.taxation_method
    tax: TaxResult | None = None
    if method == TaxationMethod.FIXED_VAT and cls.vat_rate is not None:
        tax = fixed_vat(
            amount=gross, rate=cls.vat_rate, inclusive=True, decimals=decimals, half_up=half_up
        )
    elif method == TaxationMethod.CUSTOM and cls.taxes:
        tax = custom_taxes(
            amount=gross,
            taxes=[(t["name"], Decimal(str(t["rate"]))) for t in cls.taxes],
            inclusive=True,
            decimals=decimals,
            half_up=half_up,
        )
    elif method == TaxationMethod.GST_MY:
        rate = cls.vat_rate if cls.vat_rate is not None else Decimal(6)
        tax = gst_calculator(amount=round_down(gross, places=2), rate=rate, inclusive=True)
    if tax is None or not tax.total_tax:
        return None
    names = ", ".join(f"{t.name} {t.rate.normalize():f}%" for t in tax.taxes)
    return post_locked(
        customer_id=customer_id,
        action=Action.TAX,
        amount=tax.total_tax,
        now=now,
        visible_comment=f"{names} in the payment of {gross}",
        reference_id=payment_id,
    )


# Payments a refund can give back (their tax rows name them), and the refund actions.
TAXED_PAYMENTS = (Action.MANUAL_PAYMENT, Action.ECOMMERCE_PAYMENT, Action.CAPTURE_PAYMENT)
REFUNDS = (Action.REFUND, Action.ECOMMERCE_REFUND)


@dataclass(frozen=True)
class _Refundable:
    payment: Transaction
    gross: Decimal  # what the payment paid (positive)
    refunded: Decimal  # refunded of it so far (positive)
    tax: Decimal  # the tax its tax row took (positive)
    given_back: Decimal  # tax given back by its earlier refunds (positive)

    @property
    def left(self) -> Decimal:
        return self.gross - self.refunded


def _refundable(payment: Transaction) -> _Refundable:
    refunded = Transaction.objects.filter(reference=payment, action__in=REFUNDS).aggregate(
        s=Sum("amount")
    )["s"]
    tax = Transaction.objects.filter(reference=payment, action=Action.TAX).aggregate(
        s=Sum("amount")
    )["s"]
    back = Transaction.objects.filter(
        reference__reference=payment, reference__action__in=REFUNDS, action=Action.TAX
    ).aggregate(s=Sum("amount"))["s"]
    return _Refundable(
        payment=payment,
        gross=-payment.amount,
        refunded=refunded or ZERO,
        tax=tax or ZERO,
        given_back=-(back or ZERO),
    )


def payment_refunded(
    *, customer_id: int, amount: Decimal, reference_id: int | None
) -> Transaction | None:
    """The payment a refund of ``amount`` gives back (the caller holds the customer's lock).

    ``reference_id`` names it: a payment of this customer with at least ``amount`` not yet
    refunded. Without it, for a customer with payments whose tax was taken at payment time
    (prepaid, CC-10): the newest such payment with ``amount`` left to refund; when none has,
    the refund is refused naming the payments left, so no refund leaves the customer owing
    the tax it contained. None: a refund of no particular payment (nothing taxed)."""
    if reference_id is not None:
        payment = Transaction.objects.filter(
            pk=reference_id, customer_id=customer_id, action__in=TAXED_PAYMENTS
        ).first()
        if payment is None:
            raise ValidationFailed(
                f"reference: {reference_id} is not a payment of this customer",
                field="reference",
                code="not_found",
            )
        info = _refundable(payment)
        if amount > info.left:
            raise ValidationFailed(
                f"amount: only {info.left} of payment {payment.pk} is left to refund",
                field="amount",
                code="exceeds_payment",
            )
        return payment
    taxed = (
        Transaction.objects.filter(
            customer_id=customer_id,
            action__in=TAXED_PAYMENTS,
            followups__action=Action.TAX,
        )
        .distinct()
        .order_by("-created_at", "-id")
    )
    open_payments = [info for info in map(_refundable, taxed) if info.left > 0]
    for info in open_payments:
        if info.left >= amount:
            return info.payment
    if open_payments:
        left = ", ".join(f"payment {i.payment.pk} has {i.left} left" for i in open_payments)
        raise ValidationFailed(
            f"reference: no single payment has {amount} left to refund ({left}); refund each "
            "payment on its own, naming it in reference, so that the tax it contained is given "
            "back with it",
            field="reference",
            code="required",
        )
    return None


def tax_back_on_refund(
    *, customer_id: int, refund: Transaction, payment: Transaction, now: dt.datetime
) -> Transaction | None:
    """A refund of a payment that was taxed at payment time gives back the tax it contained,
    as a ``tax`` row naming the refund: in proportion to the part refunded, rounded half-up
    to the currency's minor unit; the refund that completes the payment gives back exactly
    what is left of its tax, so a payment refunded in parts gives back all of its tax and no
    more. None when the payment carried no tax. The caller holds the customer's lock (the
    refund row is already written)."""
    info = _refundable(payment)
    if not info.tax:
        return None
    decimals = Customer.objects.values_list("currency__decimals", flat=True).get(pk=customer_id)
    if info.refunded >= info.gross:
        back = info.tax - info.given_back
    else:
        part = refund.amount * info.tax / info.gross
        back = min(round_half_up(part, places=decimals), info.tax - info.given_back)
    if not back:
        return None
    return post_locked(
        customer_id=customer_id,
        action=Action.TAX,
        amount=-back,
        now=now,
        visible_comment=(
            f"Tax given back with the refund of {refund.amount} of payment {payment.pk}"
        ),
        reference_id=refund.pk,
    )


def compute_totals(
    *,
    charges: Decimal,
    cls: CustomerClass,
    decimals: int,
    inst: InstallationSettings,
    country: str = "",
    currency: str = "",
    taxed: bool = True,
) -> Totals:
    """The invoice arithmetic of the module docstring, for ``charges`` (5 decimals).
    ``taxed=False``: no taxes (a prepaid customer taxed at payment time)."""
    pattern, mode = _pattern(cls, decimals)
    # The taxable base: the charges at the currency's minor unit, rounded the way the class
    # rounds at that unit (up for the currency default, half-up for a custom pattern); the
    # pattern itself never touches it (features.md, the rounding decisions).
    to_unit = round_up if mode == "currency_default" else round_half_up
    base = to_unit(charges, places=decimals)
    half_up = inst.tax_rounding_half_up
    method = cls.taxation_method if taxed else TaxationMethod.NONE
    tax: TaxResult | None = None
    inclusive = False
    if method == TaxationMethod.FIXED_VAT and cls.vat_rate is not None:
        inclusive = cls.vat_inclusive
        tax = fixed_vat(
            amount=base, rate=cls.vat_rate, inclusive=inclusive, decimals=decimals, half_up=half_up
        )
    elif method == TaxationMethod.CUSTOM and cls.taxes:
        inclusive = cls.vat_inclusive
        tax = custom_taxes(
            amount=base,
            taxes=[(t["name"], Decimal(str(t["rate"]))) for t in cls.taxes],
            inclusive=inclusive,
            decimals=decimals,
            half_up=half_up,
        )
    elif method == TaxationMethod.GST_MY:
        inclusive = cls.vat_inclusive
        rate = cls.vat_rate if cls.vat_rate is not None else Decimal(6)
        tax = gst_calculator(amount=round_up(base, places=2), rate=rate, inclusive=inclusive)
    elif method in (TaxationMethod.EZTAX, TaxationMethod.SURETAX):
        from billcore.core.taxes import TaxableLine

        engine = tax_engine_for(method, inst)
        tax = engine.calculate(
            lines=[TaxableLine(amount=base, description="charges")],
            currency=currency,
            decimals=decimals,
            customer_country=country,
        )
    tax_added = ZERO if (tax is None or inclusive) else tax.total_tax
    special = tax.rounding_adjustment if tax is not None else ZERO
    before = charges + tax_added + special
    total = round_invoice_total(before, pattern=pattern, mode=mode)
    if parse_pattern(pattern).decimals > decimals:
        # Only a class without currency can hold such a pattern: then to the customer's
        # currency by the currency's own default rule (up to its unit).
        total = round_currency_default(total, decimals=decimals)
    rounding = total - charges - tax_added - special
    return Totals(
        charges=charges,
        base=base,
        tax=tax,
        inclusive=inclusive,
        tax_added=tax_added,
        special=special,
        total=total,
        rounding=rounding,
    )


# --------------------------------------------------------------------------------------------
# Issuing an invoice from ledger rows


@dataclass
class _Group:
    action: str
    service: str
    amount: Decimal
    count: int
    quantity: Decimal | None
    unit: str


def _groups(rows: Any) -> list[_Group]:
    """Invoiceable rows summed per action (and per service and unit for usage)."""
    out = []
    for r in (
        rows.filter(action__in=INVOICEABLE)
        .values("action", "xdr__service", "xdr__unit")
        .annotate(
            total=Sum("amount"),
            n=Count("id"),
            qty=Sum("xdr__quantity"),
        )
        .order_by("action", "xdr__service", "xdr__unit")
    ):
        out.append(
            _Group(
                action=r["action"],
                service=r["xdr__service"] or "",
                amount=r["total"],
                count=r["n"],
                quantity=r["qty"],
                unit=r["xdr__unit"] or "",
            )
        )
    return out


def _line_order(g: _Group) -> tuple[int, str, str]:
    order: list[str] = [Action.USAGE, Action.SUBSCRIPTION, Action.MANUAL_CHARGE]
    return (order.index(g.action) if g.action in order else 9, g.service, g.unit)


def _payments_sum(rows: Any) -> Decimal:
    total = rows.filter(action__in=PAYMENTS).aggregate(s=Sum("amount"))["s"]
    return total if total is not None else ZERO


def line_values(groups: list[_Group], totals: Totals) -> list[dict[str, Any]]:
    """An invoice's lines, in order, as column values: charges per action (usage per service
    and unit), taxes (added, or shown as included), the GST rounding, the invoice rounding."""
    lines: list[dict[str, Any]] = []
    for g in groups:
        if g.action == Action.USAGE:
            text = SERVICE_TEXT.get(g.service, g.service.title() or "Usage")
        else:
            text = LINE_TEXT[g.action]
        lines.append(
            {
                "kind": LINE_OF_ACTION[g.action],
                "description": text,
                "service": g.service,
                "quantity": g.quantity,
                "unit": g.unit,
                "count": g.count,
                "amount": g.amount,
            }
        )
    if totals.tax is not None:
        for t in totals.tax.taxes:
            lines.append(
                {
                    "kind": LineKind.TAX_INCLUDED if totals.inclusive else LineKind.TAX,
                    "description": f"{t.name} {t.rate.normalize():f}%"
                    + (" (included)" if totals.inclusive else ""),
                    "rate": t.rate,
                    "base": t.base,
                    "amount": t.amount,
                }
            )
    if totals.special:
        lines.append(
            {
                "kind": LineKind.SPECIAL_ROUNDING,
                "description": "GST rounding adjustment",
                "amount": totals.special,
            }
        )
    if totals.rounding:
        lines.append(
            {
                "kind": LineKind.ROUNDING,
                "description": "Invoice rounding",
                "amount": totals.rounding,
            }
        )
    return lines


def issue_invoice(
    *,
    customer: Customer,
    kind: str,
    rows: Any,
    now: dt.datetime,
    period: ClosedPeriod | None,
    period_start: dt.datetime,
    period_end: dt.datetime,
    inst: InstallationSettings,
    actor: Any = None,
    previous_balance: Decimal | None = None,
    payments: Decimal = ZERO,
) -> Invoice | None:
    """Issue one invoice for ``rows`` (a queryset of the locked customer's ledger rows that no
    invoice has billed yet). None when there is nothing to bill.

    The invoice's summary always reconciles: ``previous_balance + payments + total ==
    balance_after`` (see :func:`_close` for what the figures of a period's invoice hold;
    ``previous_balance=None``, out of turn: the balance without the rows it bills)."""
    cls = customer.customer_class
    groups = sorted(_groups(rows), key=_line_order)
    if not groups:
        return None
    decimals = customer.currency.decimals
    charges = sum((g.amount for g in groups), ZERO)
    if previous_balance is None:
        # Out of turn: the balance without the rows this invoice bills (payments 0), so
        # previous balance + this invoice's total = the balance after it, too.
        previous_balance = customer.balance - charges
    totals = compute_totals(
        charges=charges,
        cls=cls,
        decimals=decimals,
        inst=inst,
        country=customer.country,
        currency=customer.currency_id,
        taxed=taxed_at_close(customer.balance_control, cls),
    )
    scope = customer.reseller_id or 0
    sequence, number = _next_number(scope)
    grace = (
        cls.out_of_turn_grace_period_days
        if kind == InvoiceKind.OUT_OF_TURN
        else cls.grace_period_days
    )
    template = customer.invoice_template or (
        cls.out_of_turn_invoice_template
        if kind == InvoiceKind.OUT_OF_TURN
        else cls.invoice_template
    )
    invoice = Invoice.objects.create(
        customer=customer,
        numbering_scope=scope,
        sequence=sequence,
        number=number,
        kind=kind,
        period=period,
        period_start=period_start,
        period_end=period_end,
        issued_at=now,
        due_at=now + dt.timedelta(days=grace),
        currency=customer.currency_id,
        decimals=decimals,
        previous_balance=previous_balance,
        payments=payments,
        net=totals.tax.net if (totals.tax is not None and totals.inclusive) else totals.base,
        tax_total=totals.tax.total_tax if totals.tax is not None else ZERO,
        tax_inclusive=totals.inclusive,
        special_rounding=totals.special,
        rounding=totals.rounding,
        total=totals.total,
        balance_after=previous_balance + payments + totals.total,
        status=InvoiceStatus.ISSUED,
        template=template,
        created_by=actor if actor is not None and getattr(actor, "pk", None) else None,
    )
    # The rows are billed by this invoice, once.
    rows.filter(action__in=INVOICEABLE).update(invoice=invoice)
    InvoiceLine.objects.bulk_create(
        InvoiceLine(invoice=invoice, position=position, **values)
        for position, values in enumerate(line_values(groups, totals), 1)
    )
    # What the invoice adds to the balance beyond its rows: taxes on top and roundings. The
    # locked customer's balance is tracked in memory (nothing else can move it meanwhile).
    pid = period.pk if period is not None else None
    if totals.tax_added:
        row = post_locked(
            customer_id=customer.pk,
            action=Action.TAX,
            amount=totals.tax_added,
            now=now,
            visible_comment=f"Taxes of invoice {number}",
            period_id=pid,
            invoice_id=invoice.pk,
            balance_before=customer.balance,
        )
        customer.balance = row.balance_after
    adjust = totals.special + totals.rounding
    if adjust:
        row = post_locked(
            customer_id=customer.pk,
            action=Action.INVOICE_ROUNDING,
            amount=adjust,
            now=now,
            visible_comment=f"Rounding of invoice {number}",
            period_id=pid,
            invoice_id=invoice.pk,
            balance_before=customer.balance,
        )
        customer.balance = row.balance_after
    return invoice


# --------------------------------------------------------------------------------------------
# Settling: payments pay the oldest unpaid invoice first


def invoice_status(
    *,
    total: Decimal,
    paid: Decimal,
    due_at: dt.datetime | None,
    paid_at: dt.datetime | None,
    now: dt.datetime,
) -> tuple[str, dt.datetime | None]:
    """An invoice's status and paid date once ``paid`` of its ``total`` is paid at ``now``:
    paid (a credit is paid at once; the date it first became paid is kept), overdue past its
    due date, partly paid, or issued."""
    if total <= 0 or paid >= total:
        return InvoiceStatus.PAID, paid_at or now
    if due_at is not None and now >= due_at:
        return InvoiceStatus.OVERDUE, None
    if paid > 0:
        return InvoiceStatus.PARTLY_PAID, None
    return InvoiceStatus.ISSUED, None


def settle(*, customer_id: int, now: dt.datetime) -> list[Invoice]:
    """Recompute ``amount_paid`` and ``status`` of the customer's invoices (caller holds the
    customer's lock). Every payment (and an opening balance, a balance reset, an invoice that
    is a credit) goes into one pool that pays invoices in the order they were issued, so a
    payment always settles the oldest unpaid invoice first. A recurring-fee invoice (CC-14) is
    paid only by the saved payment method: its card payment pays it and nothing else, and the
    pool never pays it. Returns the invoices that changed."""
    from billcore.invoicing.models import PaymentAttempt

    paid_in = (
        Transaction.objects.filter(customer_id=customer_id)
        .filter(Q(action__in=PAYMENTS) | Q(balance_reset=True))
        .aggregate(s=Sum("amount"))["s"]
    )
    pool = -(paid_in or ZERO)
    invoices = list(Invoice.objects.filter(customer_id=customer_id).order_by("issued_at", "id"))
    pool += sum((-inv.total for inv in invoices if inv.total < 0), ZERO)
    dedicated: dict[int, Decimal] = defaultdict(lambda: ZERO)
    if any(inv.kind == InvoiceKind.RECURRING for inv in invoices):
        for invoice_id, amount in PaymentAttempt.objects.filter(
            customer_id=customer_id, approved=True, invoice__kind=InvoiceKind.RECURRING
        ).values_list("invoice_id", "amount"):
            dedicated[invoice_id] += amount
            pool -= amount
    changed = []
    for inv in invoices:
        if inv.total <= 0:
            paid = ZERO
        elif inv.kind == InvoiceKind.RECURRING:
            paid = min(dedicated[inv.pk], inv.total)
        else:
            paid = min(max(pool, ZERO), inv.total)
            pool -= paid
        status, paid_at = invoice_status(
            total=inv.total, paid=paid, due_at=inv.due_at, paid_at=inv.paid_at, now=now
        )
        if (inv.amount_paid, inv.status, inv.paid_at) != (paid, status, paid_at):
            inv.amount_paid, inv.status, inv.paid_at = paid, status, paid_at
            inv.save(update_fields=["amount_paid", "status", "paid_at"])
            changed.append(inv)
    return changed


def _settle_into(invoices: list[Invoice], *, customer_id: int, now: dt.datetime) -> None:
    """Settle, and bring ``invoices`` (objects the caller holds) up to date in memory."""
    changed = {inv.pk: inv for inv in settle(customer_id=customer_id, now=now)}
    for inv in invoices:
        fresh = changed.get(inv.pk)
        if fresh is not None:
            inv.amount_paid, inv.status, inv.paid_at = (
                fresh.amount_paid,
                fresh.status,
                fresh.paid_at,
            )


def settle_after_payment(*, customer_id: int, now: dt.datetime) -> None:
    """Called by the ledger after a payment or refund, inside its transaction (the customer
    is locked): settle the invoices, then lift an overdue suspension that is paid (CU-15),
    then charge the subscription fees that waited for funds and lift the suspension for
    insufficient funds when the funds cover them (CC-19)."""
    if Invoice.objects.filter(customer_id=customer_id).exists():
        settle(customer_id=customer_id, now=now)
        from billcore.invoicing.collections import after_payment

        customer = Customer.objects.select_related("customer_class", "currency").get(pk=customer_id)
        after_payment(customer=customer, now=now)
    from billcore.subscriptions.engine import after_funds_arrive

    after_funds_arrive(customer_id=customer_id, now=now)


# --------------------------------------------------------------------------------------------
# Closing a period


def _queue_emails(
    *,
    customer: Customer,
    cls: CustomerClass,
    period: ClosedPeriod | None,
    invoices: list[Invoice],
    now: dt.datetime,
) -> None:
    if not customer.email:
        return
    if invoices and "invoice_issued" in (cls.notifications or []):
        from billcore.notifications.services import notify

        for inv in invoices:
            notify(
                customer=customer,
                kind="invoice_issued",
                now=now,
                context={"invoice": inv},
                dedupe_key=f"invoice_issued:{inv.pk}",
            )
    if cls.send_invoices_by_email:
        for inv in invoices:
            queue_email(
                customer=customer,
                kind=EmailKind.INVOICE,
                now=now,
                invoice_id=inv.pk,
                period_id=period.pk if period is not None else None,
            )
    if period is not None and cls.generate_statistics:
        mode = customer.send_statistics or cls.send_statistics
        if mode in (SendStatistics.FULL, SendStatistics.SUMMARY):
            queue_email(
                customer=customer,
                kind=EmailKind.STATISTICS,
                now=now,
                period_id=period.pk,
                variant=mode,
            )


def _close(
    *,
    customer: Customer,
    period: ClosedPeriod,
    now: dt.datetime,
    inst: InstallationSettings,
    actor: Any = None,
    adjustments_until: dt.datetime | None = None,
    kind: str = InvoiceKind.REGULAR,
) -> list[Invoice]:
    """Close ``period`` of the locked ``customer``: stamp, invoice, reset, queue e-mails."""
    cls = customer.customer_class
    mine = Transaction.objects.filter(customer_id=customer.pk)
    # A midterm period ends now: everything posted up to now is in it.
    window = (
        Q(created_at__lte=period.end)
        if kind == InvoiceKind.MIDTERM
        else Q(created_at__lt=period.end)
    )
    if adjustments_until is not None:
        window |= Q(action__in=ADJUSTMENTS, created_at__lte=adjustments_until)
    mine.filter(period__isnull=True).filter(window).update(period=period)
    in_period = mine.filter(period=period)
    # Balance-forward figures, so that previous balance + payments + total = balance after on
    # every invoice: the previous balance is what was owed before the period plus what other
    # invoices billed within it (an out-of-turn invoice: its charges and its taxes and
    # rounding); the payments are the period's payments and refunds net of the taxes they
    # contained (prepaid customers taxed at payment time).
    sums = mine.filter(Q(period=period) | Q(period__isnull=True)).aggregate(
        in_period=Sum("amount", filter=Q(period=period)),
        later=Sum("amount", filter=Q(period__isnull=True)),
        payments=Sum("amount", filter=Q(period=period) & _PAID_IN),
        other=Sum("amount", filter=Q(period=period, invoice__isnull=False) & ~_PAID_IN),
    )
    previous_balance = customer.balance - (sums["in_period"] or ZERO) - (sums["later"] or ZERO)
    previous_balance += sums["other"] or ZERO
    payments = sums["payments"] or ZERO
    invoices: list[Invoice] = []
    external = billed_externally(customer, cls, inst)
    if cls.generate_regular_invoices and not external:
        unbilled = in_period.filter(invoice__isnull=True)
        if cls.separate_recurring_fee_invoice:
            recurring = issue_invoice(
                customer=customer,
                kind=InvoiceKind.RECURRING,
                rows=unbilled.filter(action=Action.SUBSCRIPTION),
                now=now,
                period=period,
                period_start=period.start,
                period_end=period.end,
                inst=inst,
                actor=actor,
                previous_balance=previous_balance,
                payments=payments,
            )
            if recurring is not None:
                invoices.append(recurring)
                previous_balance += recurring.total  # billed within the period, before
            unbilled = in_period.filter(invoice__isnull=True).exclude(action=Action.SUBSCRIPTION)
        regular = issue_invoice(
            customer=customer,
            kind=kind,
            rows=unbilled,
            now=now,
            period=period,
            period_start=period.start,
            period_end=period.end,
            inst=inst,
            actor=actor,
            previous_balance=previous_balance,
            payments=payments,
        )
        if regular is not None:
            invoices.append(regular)
    if inst.allow_external_billing and cls.reset_balance_every_period:
        balance = customer.balance
        if balance:
            row = post_locked(
                customer_id=customer.pk,
                action=Action.MANUAL_CREDIT if balance > 0 else Action.MANUAL_CHARGE,
                amount=-balance,
                now=now,
                visible_comment="Balance reset at the end of the billing period",
                period_id=period.pk,
                invoice_id=invoices[-1].pk if invoices else None,
                hidden=cls.hide_balance_reset_xdr,
                balance_reset=True,
                balance_before=balance,
            )
            customer.balance = row.balance_after
    period.status = PeriodStatus.CLOSED
    period.closed_at = now
    period.approved_by = actor if actor is not None and getattr(actor, "pk", None) else None
    period.balance_after = customer.balance
    period.statement_wanted = bool(
        inst.show_financial_documents_page and cls.generate_financial_documentation
    )
    period.save()
    if invoices:
        _settle_into(invoices, customer_id=customer.pk, now=now)
    _queue_emails(customer=customer, cls=cls, period=period, invoices=invoices, now=now)
    return invoices


@dataclass
class CustomerRun:
    customer_id: int
    closed: int = 0
    awaiting: int = 0
    invoices: list[int] = field(default_factory=list)
    skipped: bool = False  # another engine process holds the customer


def _open_end(customer: Customer, start: dt.datetime) -> dt.datetime:
    from billcore.customers.services import open_period_end

    return open_period_end(customer, start=start)


def close_due_periods(
    *,
    customer_id: int,
    now: dt.datetime,
    skip_locked: bool = False,
    inst: InstallationSettings | None = None,
    deadlines: bool = True,
) -> CustomerRun:
    """Everything due for one customer up to ``now``, in one transaction: periods waiting for
    approval whose deadline passed are closed; ended open periods are closed (or put to
    approval, CC-18). Idempotent: a second call with the same ``now`` finds nothing due.
    ``deadlines=False``: the caller knows no approval deadline of this customer has passed
    (the engine does), which saves a query."""
    result = CustomerRun(customer_id=customer_id)
    with transaction.atomic():
        customer = _lock_customer(customer_id, skip_locked=skip_locked)
        if customer is None:
            result.skipped = True
            return result
        inst = inst or _installation()
        cls = customer.customer_class
        if customer.billed_to is None or customer.next_billed_to is None:
            customer.billed_to = customer.billed_to or customer.created_at
            customer.next_billed_to = _open_end(customer, customer.billed_to)
            Customer.objects.filter(pk=customer.pk).update(
                billed_to=customer.billed_to, next_billed_to=customer.next_billed_to
            )
        external = billed_externally(customer, cls, inst)
        approval = cls.period_close == PeriodCloseMode.APPROVAL and not external
        while customer.next_billed_to <= now and customer.status != Status.CLOSED:
            start, end = customer.billed_to, customer.next_billed_to
            period = ClosedPeriod.objects.create(
                customer=customer,
                start=start,
                end=end,
                status=PeriodStatus.AWAITING_APPROVAL,
                approve_by=(
                    end + dt.timedelta(days=cls.approval_max_days)
                    if approval and cls.approval_max_days is not None
                    else None
                ),
                created_at=now,
            )
            if approval:
                result.awaiting += 1
            customer.billed_to = end
            customer.next_billed_to = _open_end(customer, end)
            Customer.objects.filter(pk=customer.pk).update(
                billed_to=customer.billed_to, next_billed_to=customer.next_billed_to
            )
            if not approval:
                invoices = _close(customer=customer, period=period, now=now, inst=inst)
                result.closed += 1
                result.invoices.extend(inv.pk for inv in invoices)
        # Approval deadlines that passed (oldest first; they close in order).
        waiting = ClosedPeriod.objects.filter(
            customer=customer, status=PeriodStatus.AWAITING_APPROVAL, approve_by__lte=now
        )
        for period in waiting.order_by("start") if (deadlines or approval) else ():
            if _older_waiting(period):
                break
            invoices = _close(
                customer=customer,
                period=period,
                now=now,
                inst=inst,
                adjustments_until=period.approve_by,
            )
            result.closed += 1
            result.awaiting -= 1 if result.awaiting else 0
            result.invoices.extend(inv.pk for inv in invoices)
    return result


def close_open_period_now(*, customer: Customer, now: dt.datetime, actor: Any = None) -> None:
    """CU-17 midterm invoice: before a permanent termination, periods waiting for approval are
    closed (in order) and the open period is closed early, at ``now``, and invoiced. For the
    locked ``customer``, in the caller's transaction; the caller saves the customer row
    afterwards (its ``billed_to``/``balance`` are kept up to date in memory here)."""
    inst = _installation()
    for period in ClosedPeriod.objects.filter(
        customer=customer, status=PeriodStatus.AWAITING_APPROVAL
    ).order_by("start"):
        _close(
            customer=customer,
            period=period,
            now=now,
            inst=inst,
            actor=actor,
            adjustments_until=now,
        )
    start = customer.billed_to or customer.created_at
    if start < now:
        period = ClosedPeriod.objects.create(
            customer=customer,
            start=start,
            end=now,
            status=PeriodStatus.AWAITING_APPROVAL,
            created_at=now,
        )
        _close(
            customer=customer,
            period=period,
            now=now,
            inst=inst,
            actor=actor,
            kind=InvoiceKind.MIDTERM,
        )
    customer.billed_to = now
    customer.next_billed_to = None
    Customer.objects.filter(pk=customer.pk).update(billed_to=now, next_billed_to=None)


def mark_overdue(*, now: dt.datetime, customer_id: int | None = None) -> int:
    """Invoices past their due date and not paid become overdue (CU-15 reads them)."""
    qs = Invoice.objects.filter(
        status__in=(InvoiceStatus.ISSUED, InvoiceStatus.PARTLY_PAID), due_at__lte=now
    )
    if customer_id is not None:
        qs = qs.filter(customer_id=customer_id)
    return qs.update(status=InvoiceStatus.OVERDUE)


def _older_waiting(period: ClosedPeriod) -> bool:
    return ClosedPeriod.objects.filter(
        customer_id=period.customer_id,
        status=PeriodStatus.AWAITING_APPROVAL,
        start__lt=period.start,
    ).exists()


# --------------------------------------------------------------------------------------------
# Operator actions


def _visible_period(actor: Any, period_id: Any) -> ClosedPeriod:
    try:
        pid = int(period_id)
    except (TypeError, ValueError):
        raise NotFound(f"period {period_id!r} not found") from None
    period = ClosedPeriod.objects.filter(pk=pid).first()
    if period is None:
        raise NotFound(f"period {pid} not found")
    get_customer(actor=actor, customer_id=period.customer_id)  # NotFound when not visible
    return period


@transaction.atomic
def approve_period(*, actor: Any, now: dt.datetime, period_id: Any) -> list[Invoice]:
    """CC-18: close a period waiting for approval now (its adjustments until now included)."""
    period = _visible_period(actor, period_id)
    customer = _lock_customer(period.customer_id)
    assert customer is not None
    period = ClosedPeriod.objects.get(pk=period.pk)
    if period.status != PeriodStatus.AWAITING_APPROVAL:
        raise Conflict(f"period {period.pk} is already closed", field="id", code="already_closed")
    older = (
        ClosedPeriod.objects.filter(
            customer_id=period.customer_id,
            status=PeriodStatus.AWAITING_APPROVAL,
            start__lt=period.start,
        )
        .order_by("start")
        .first()
    )
    if older is not None:
        raise Conflict(
            f"approve the customer's earlier period {older.pk} "
            f"({older.start:%Y-%m-%d} .. {older.end:%Y-%m-%d}) first",
            field="id",
            code="earlier_period_waiting",
        )
    before = snapshot(period)
    invoices = _close(
        customer=customer,
        period=period,
        now=now,
        inst=_installation(),
        actor=actor,
        adjustments_until=now,
    )
    record(
        actor=actor, now=now, operation="update", obj=period, before=before, after=snapshot(period)
    )
    return invoices


@transaction.atomic
def issue_out_of_turn_invoice(*, actor: Any, now: dt.datetime, customer_id: Any) -> Invoice:
    """CC-15: an invoice now for every charge no invoice has billed yet."""
    visible = get_customer(actor=actor, customer_id=customer_id)
    customer = _lock_customer(visible.pk)
    assert customer is not None
    cls = customer.customer_class
    if not cls.allow_out_of_turn_invoices:
        raise ValidationFailed(
            f"class {cls.name!r} does not allow out-of-turn invoices (CC-15)",
            field="customer_id",
            code="not_allowed",
        )
    if customer.status == Status.CLOSED:
        raise ValidationFailed(
            "the customer is permanently terminated (CU-17)", field="customer_id", code="closed"
        )
    rows = Transaction.objects.filter(
        customer_id=customer.pk,
        invoice__isnull=True,
        balance_reset=False,
        created_at__lte=now,
    )
    first = rows.filter(action__in=INVOICEABLE).order_by("created_at").first()
    if first is None:
        raise ValidationFailed(
            "there is nothing to invoice: every charge is already on an invoice",
            field="customer_id",
            code="nothing_to_invoice",
        )
    invoice = issue_invoice(
        customer=customer,
        kind=InvoiceKind.OUT_OF_TURN,
        rows=rows,
        now=now,
        period=None,
        period_start=first.created_at,
        period_end=now,
        inst=_installation(),
        actor=actor,
        previous_balance=None,
    )
    assert invoice is not None
    _settle_into([invoice], customer_id=customer.pk, now=now)
    _queue_emails(customer=customer, cls=cls, period=None, invoices=[invoice], now=now)
    record(
        actor=actor, now=now, operation="create", obj=invoice, before=None, after=snapshot(invoice)
    )
    return invoice


def adjustments_refused(customer: Customer) -> str | None:
    """CC-12: for a postpaid customer billed externally no adjustment lands in the current
    period. The reason, or None."""
    cls = customer.customer_class
    if billed_externally(customer, cls, _installation()):
        return (
            "the customer is postpaid and billed externally (CC-12): no balance adjustment "
            "can land in the current billing period"
        )
    return None


def unbilled_totals(*, customer_id: int) -> dict[str, Decimal]:
    """Charges not on an invoice yet, per action (for pages and the API)."""
    out: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for r in (
        Transaction.objects.filter(
            customer_id=customer_id, invoice__isnull=True, action__in=INVOICEABLE
        )
        .values("action")
        .annotate(s=Sum("amount"))
    ):
        out[r["action"]] = r["s"]
    return dict(out)


@transaction.atomic
def charge_subscription_fee(
    *,
    actor: Any,
    now: dt.datetime,
    customer_id: Any,
    amount: Any,
    description: Any = "",
    idempotency_key: str | None = None,
) -> Transaction:
    """A subscription (recurring) fee as a ledger row of its own (CC-14 bills these apart).
    The same ``idempotency_key`` twice returns the first row."""
    from billcore.validation import as_money, as_str

    visible = get_customer(actor=actor, customer_id=customer_id)
    fee = as_money("amount", amount, allow_none=False)
    assert fee is not None
    if fee <= 0:
        raise ValidationFailed("amount must be greater than 0", field="amount")
    text = (
        as_str("description", description, max_length=500, single_line=False) or "Subscription fee"
    )
    customer = _lock_customer(visible.pk)
    assert customer is not None
    if customer.status in (Status.CLOSED, Status.EXPORTED):
        raise ValidationFailed(
            f"customer is {customer.get_status_display().lower()}: no fee can be charged",
            field="customer_id",
            code="not_operational",
        )
    if idempotency_key is not None:
        earlier = Transaction.objects.filter(
            customer_id=customer.pk, idempotency_key=idempotency_key
        ).first()
        if earlier is not None:
            return earlier
    return post_locked(
        customer_id=customer.pk,
        action=Action.SUBSCRIPTION,
        amount=fee,
        now=now,
        visible_comment=text,
        idempotency_key=idempotency_key,
    )
