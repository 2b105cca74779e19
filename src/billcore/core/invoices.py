"""Invoice arithmetic (CC-10, CC-14, CC-17): pure rules, no Django and no database.

Both closing paths use it: ``invoicing.issuing`` (the ORM path) and ``invoicing.fastclose``
(the engine's plain-SQL path), so an invoice's figures, its lines, its status and the way
payments settle it are written once.

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

Settling: every payment (an opening balance, a balance reset, an invoice that is a credit)
goes into one pool that pays the invoices in the order they were issued, oldest first; a
recurring-fee invoice (CC-14) is paid only by its own card payments, never by the pool.

The string values below (statuses, line kinds, actions) are those of the models' choices
(``invoicing.models.InvoiceStatus``/``LineKind``, ``ledger.models.Action``); a test checks
they agree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from billcore.core.rounding import (
    currency_default_pattern,
    parse_pattern,
    round_currency_default,
    round_half_up,
    round_invoice_total,
    round_up,
)
from billcore.core.taxes import TaxResult, custom_taxes, fixed_vat, gst_malaysia

ZERO = Decimal(0)

# Invoice statuses (invoicing.models.InvoiceStatus).
ISSUED = "issued"
PARTLY_PAID = "partly_paid"
PAID = "paid"
OVERDUE = "overdue"
VOID = "void"  # cancelled by a credit note (issue 17): never settled, never collected

# Ledger actions an invoice bills (ledger.models.Action) and the line kinds they become
# (invoicing.models.LineKind), in the order the lines are shown.
USAGE = "usage"
RERATING = "rerating"
SUBSCRIPTION = "subscription"
MANUAL_CHARGE = "manual_charge"
MANUAL_CREDIT = "manual_credit"
PROMOTIONAL_CREDIT = "promotional_credit"
# A measured service's charge at period close (its unit is the metric's code).
MEASURED_SERVICE = "measured_service"
LINE_OF_ACTION: dict[str, str] = {
    USAGE: "usage",
    RERATING: "usage",
    SUBSCRIPTION: "subscription",
    MANUAL_CHARGE: "fee",
    MEASURED_SERVICE: "fee",
    MANUAL_CREDIT: "adjustment",
    PROMOTIONAL_CREDIT: "adjustment",
}
LINE_TEXT: dict[str, str] = {
    RERATING: "Usage re-rating",
    SUBSCRIPTION: "Subscription fees",
    MANUAL_CHARGE: "Other fees",
    MEASURED_SERVICE: "Measured service",
    MANUAL_CREDIT: "Credits",
    PROMOTIONAL_CREDIT: "Promotional credits",
}
SERVICE_TEXT: dict[str, str] = {
    "voice": "Voice calls",
    "data": "Data",
    "messaging": "Messaging",
    "other": "Other usage",
}
# A measured-service line's text, by metric (measured.models.Metric).
METRIC_TEXT: dict[str, str] = {
    "active_calls": "Measured service: active calls",
    "concurrent_calls": "Measured service: concurrent calls",
    "pbx_extensions": "Measured service: PBX extensions",
}
LINE_TAX = "tax"
LINE_TAX_INCLUDED = "tax_included"
LINE_SPECIAL_ROUNDING = "special_rounding"
LINE_ROUNDING = "rounding"

# Taxation methods computed here (classes.models.TaxationMethod); the external engines
# (EZTax, SureTax) are called by the caller, which passes their result.
FIXED_VAT = "fixed_vat"
CUSTOM = "custom"
GST_MY = "gst_my"

PatternMode = Literal["currency_default", "custom"]


# --------------------------------------------------------------------------------------------
# Totals


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

    @property
    def net(self) -> Decimal:
        """The invoice's net: the charges without the taxes they include, else the base."""
        return self.tax.net if (self.tax is not None and self.inclusive) else self.base

    @property
    def tax_total(self) -> Decimal:
        return self.tax.total_tax if self.tax is not None else ZERO


def rounding_pattern(*, custom_pattern: str | None, decimals: int) -> tuple[str, PatternMode]:
    """The pattern that rounds an invoice's total (CC-17): the class's custom pattern, else the
    currency's default."""
    if custom_pattern:
        return custom_pattern, "custom"
    return currency_default_pattern(decimals=decimals), "currency_default"


def taxable_base(charges: Decimal, *, decimals: int, mode: PatternMode) -> Decimal:
    """The charges at the currency's minor unit, rounded the way the class rounds at that unit
    (up for the currency default, half-up for a custom pattern); the pattern itself never
    touches the base (features.md, the rounding decisions)."""
    to_unit = round_up if mode == "currency_default" else round_half_up
    return to_unit(charges, places=decimals)


@dataclass(frozen=True)
class TaxRule:
    """A class's own taxation (the methods computed here)."""

    method: str  # FIXED_VAT, CUSTOM, GST_MY; anything else taxes nothing
    rate: Decimal | None = None  # the VAT or GST rate
    taxes: tuple[tuple[str, Decimal], ...] = ()  # custom taxation: (name, rate)
    inclusive: bool = False
    half_up: bool = False  # the installation's tax rounding


def taxes_of(base: Decimal, *, rule: TaxRule, decimals: int) -> TaxResult | None:
    """The taxes of an invoice's ``base`` under ``rule``; None when nothing is taxed."""
    if rule.method == FIXED_VAT and rule.rate is not None:
        return fixed_vat(
            amount=base,
            rate=rule.rate,
            inclusive=rule.inclusive,
            decimals=decimals,
            half_up=rule.half_up,
        )
    if rule.method == CUSTOM and rule.taxes:
        return custom_taxes(
            amount=base,
            taxes=list(rule.taxes),
            inclusive=rule.inclusive,
            decimals=decimals,
            half_up=rule.half_up,
        )
    if rule.method == GST_MY:
        rate = rule.rate if rule.rate is not None else Decimal(6)
        return gst_malaysia(amount=round_up(base, places=2), rate=rate, inclusive=rule.inclusive)
    return None


def invoice_totals(
    *,
    charges: Decimal,
    decimals: int,
    pattern: str,
    mode: PatternMode,
    taxes: Callable[[Decimal], TaxResult | None],
    inclusive: bool,
) -> Totals:
    """The arithmetic of the module docstring for ``charges`` (5 decimals). ``taxes`` computes
    the taxes of the base (:func:`taxes_of`, an external engine, or nothing); ``inclusive``:
    they are contained in the charges rather than added (nothing is, when nothing is taxed)."""
    base = taxable_base(charges, decimals=decimals, mode=mode)
    tax = taxes(base)
    inclusive = inclusive and tax is not None
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
# Lines


@dataclass
class Group:
    """Invoiceable ledger rows summed per action (and per service and unit for usage)."""

    action: str
    service: str
    amount: Decimal
    count: int
    quantity: Decimal | None
    unit: str


def line_order(g: Group) -> tuple[int, str, str]:
    """Usage first (per service and unit), then subscriptions, fees, credits."""
    order = [USAGE, RERATING, SUBSCRIPTION, MEASURED_SERVICE, MANUAL_CHARGE]
    return (order.index(g.action) if g.action in order else 9, g.service, g.unit)


def line_values(groups: Sequence[Group], totals: Totals) -> list[dict[str, Any]]:
    """An invoice's lines, in order, as column values: charges per action (usage per service
    and unit), taxes (added, or shown as included), the GST rounding, the invoice rounding."""
    lines: list[dict[str, Any]] = []
    for g in groups:
        if g.action == USAGE:
            text = SERVICE_TEXT.get(g.service, g.service.title() or "Usage")
        elif g.action == MEASURED_SERVICE:
            text = METRIC_TEXT.get(g.unit, LINE_TEXT[g.action])
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
                    "kind": LINE_TAX_INCLUDED if totals.inclusive else LINE_TAX,
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
                "kind": LINE_SPECIAL_ROUNDING,
                "description": "GST rounding adjustment",
                "amount": totals.special,
            }
        )
    if totals.rounding:
        lines.append(
            {"kind": LINE_ROUNDING, "description": "Invoice rounding", "amount": totals.rounding}
        )
    return lines


# --------------------------------------------------------------------------------------------
# Status and settling


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
        return PAID, paid_at or now
    if due_at is not None and now >= due_at:
        return OVERDUE, None
    if paid > 0:
        return PARTLY_PAID, None
    return ISSUED, None


@dataclass(frozen=True)
class Payable:
    """An invoice to settle: its total, and for a recurring-fee invoice (CC-14) what its own
    card payments paid (None: the pool pays it)."""

    total: Decimal
    dedicated: Decimal | None = None


def allocate(*, pool: Decimal, invoices: Sequence[Payable]) -> list[Decimal]:
    """What is paid of each invoice, given in the order they were issued. ``pool``: the
    customer's payments (positive; refunds lower it). An invoice that is a credit adds to the
    pool and is itself paid at once (0 paid); the card payments of recurring-fee invoices
    leave the pool and pay their invoice only; the rest pays oldest first."""
    pool += sum((-inv.total for inv in invoices if inv.total < 0), ZERO)
    pool -= sum((inv.dedicated for inv in invoices if inv.dedicated is not None), ZERO)
    paid: list[Decimal] = []
    for inv in invoices:
        if inv.total <= 0:
            paid.append(ZERO)
        elif inv.dedicated is not None:
            paid.append(min(inv.dedicated, inv.total))
        else:
            part = min(max(pool, ZERO), inv.total)
            pool -= part
            paid.append(part)
    return paid
