"""Issuing invoices (CC-10, CC-14, CC-15, CC-17): numbers, taxes, rounding, lines, and the
e-mails owed; the out-of-turn invoice and the subscription-fee rows it may bill apart.

An invoice is issued from ledger rows that no invoice has billed yet. Its arithmetic (charges
→ base → taxes → total rounded by the class's pattern → rounding line) and its lines are
``core.invoices``; here the class's settings are read, the external tax engines (EZTax,
SureTax) are called, the number is taken from the gapless counter, and the rows are written:
the invoice, its lines, and the ``tax`` and ``invoice_rounding`` ledger rows that make the
balance, the ledger and the invoice agree to the last digit.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Sum
from django.db.models.functions import Coalesce

from billcore.accounts.access import Actor, user_row
from billcore.audit.services import record, snapshot
from billcore.classes.models import CustomerClass, RoundingMode, SendStatistics, TaxationMethod
from billcore.core.invoices import (
    Group,
    TaxRule,
    Totals,
    invoice_totals,
    line_order,
    line_values,
    rounding_pattern,
    taxes_of,
)
from billcore.core.taxes import TaxableLine, TaxResult
from billcore.customers.models import Customer, Status
from billcore.customers.selectors import get_customer
from billcore.errors import ValidationFailed
from billcore.installation.models import InstallationSettings
from billcore.installation.services import get_settings
from billcore.invoicing.allocation import lock_customer, settle_into, taxed_at_close
from billcore.invoicing.models import (
    ClosedPeriod,
    Invoice,
    InvoiceCounter,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
)
from billcore.invoicing.tax_engines import engine_for
from billcore.ledger.models import Action, Transaction
from billcore.ledger.postings import post_locked
from billcore.notifications.models import EmailKind
from billcore.notifications.outbox import queue_email
from billcore.notifications.services import notify

ZERO = Decimal(0)

# Rows an invoice bills (charges and credits); everything else only moves the balance.
INVOICEABLE = (
    Action.USAGE,
    Action.RERATING,
    Action.MANUAL_CHARGE,
    Action.MANUAL_CREDIT,
    Action.PROMOTIONAL_CREDIT,
    Action.SUBSCRIPTION,
    Action.MEASURED_SERVICE,
)


def next_number(scope: int) -> tuple[int, str]:
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


def tax_engine_for(method: str, inst: InstallationSettings) -> Any:
    """The external tax engine of ``method`` (EZTax / SureTax), or TaxEngineNotConfigured."""
    return engine_for(method, inst)


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
    """The invoice arithmetic of ``core.invoices`` for ``charges`` (5 decimals) under the
    class's taxation and rounding. ``taxed=False``: no taxes (a prepaid customer taxed at
    payment time)."""
    custom = cls.invoice_rounding == RoundingMode.CUSTOM and cls.invoice_rounding_pattern
    pattern, mode = rounding_pattern(
        custom_pattern=cls.invoice_rounding_pattern if custom else None, decimals=decimals
    )
    method = cls.taxation_method if taxed else TaxationMethod.NONE
    rule = TaxRule(
        method=str(method),
        rate=cls.vat_rate,
        taxes=tuple((t["name"], Decimal(str(t["rate"]))) for t in (cls.taxes or [])),
        inclusive=bool(cls.vat_inclusive),
        half_up=inst.tax_rounding_half_up,
    )

    def external(base: Decimal) -> TaxResult | None:
        engine = tax_engine_for(method, inst)
        result: TaxResult = engine.calculate(
            lines=[TaxableLine(amount=base, description="charges")],
            currency=currency,
            decimals=decimals,
            customer_country=country,
        )
        return result

    def builtin(base: Decimal) -> TaxResult | None:
        return taxes_of(base, rule=rule, decimals=decimals)

    engine = method in (TaxationMethod.EZTAX, TaxationMethod.SURETAX)
    return invoice_totals(
        charges=charges,
        decimals=decimals,
        pattern=pattern,
        mode=mode,
        taxes=external if engine else builtin,
        inclusive=rule.inclusive and not engine,
    )


# --------------------------------------------------------------------------------------------
# Issuing an invoice from ledger rows


def groups_of(rows: Any) -> list[Group]:
    """Invoiceable rows summed per action (and per service and unit for usage)."""
    out = []
    # A measured-service row names its service and metric (as unit) by its charge
    # (``measured.MeasuredCharge``).
    # A usage row is the customer's charge of an xDR (``xdr``) or, for a reseller, its
    # wholesale charge of a sub-customer's xDR (``reseller_xdr``): either names the service.
    for r in (
        rows.filter(action__in=INVOICEABLE)
        .annotate(
            usage_service=Coalesce(
                "xdr__service", "reseller_xdr__service", "measured_charge__service"
            ),
            usage_unit=Coalesce("xdr__unit", "reseller_xdr__unit", "measured_charge__metric"),
            usage_quantity=Coalesce(
                "xdr__quantity", "reseller_xdr__quantity", "measured_charge__quantity"
            ),
        )
        .values("action", "usage_service", "usage_unit")
        .annotate(
            total=Sum("amount"),
            n=Count("id"),
            qty=Sum("usage_quantity"),
        )
        .order_by("action", "usage_service", "usage_unit")
    ):
        out.append(
            Group(
                action=r["action"],
                service=r["usage_service"] or "",
                amount=r["total"],
                count=r["n"],
                quantity=r["qty"],
                unit=r["usage_unit"] or "",
            )
        )
    return out


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
    actor: Actor | None = None,
    previous_balance: Decimal | None = None,
    payments: Decimal = ZERO,
) -> Invoice | None:
    """Issue one invoice for ``rows`` (a queryset of the locked customer's ledger rows that no
    invoice has billed yet). None when there is nothing to bill.

    The invoice's summary always reconciles: ``previous_balance + payments + total ==
    balance_after`` (see :func:`_close` for what the figures of a period's invoice hold;
    ``previous_balance=None``, out of turn: the balance without the rows it bills)."""
    cls = customer.customer_class
    groups = sorted(groups_of(rows), key=line_order)
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
    sequence, number = next_number(scope)
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
        net=totals.net,
        tax_total=totals.tax_total,
        tax_inclusive=totals.inclusive,
        special_rounding=totals.special,
        rounding=totals.rounding,
        total=totals.total,
        balance_after=previous_balance + payments + totals.total,
        status=InvoiceStatus.ISSUED,
        template=template,
        created_by=user_row(actor),
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


def queue_emails(
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


# --------------------------------------------------------------------------------------------
# Operator actions


@transaction.atomic
def issue_out_of_turn_invoice(*, actor: Actor, now: dt.datetime, customer_id: Any) -> Invoice:
    """CC-15: an invoice now for every charge no invoice has billed yet."""
    visible = get_customer(actor=actor, customer_id=customer_id)
    customer = lock_customer(visible.pk)
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
        inst=get_settings(),
        actor=actor,
        previous_balance=None,
    )
    assert invoice is not None
    settle_into([invoice], customer_id=customer.pk, now=now)
    queue_emails(customer=customer, cls=cls, period=None, invoices=[invoice], now=now)
    record(
        actor=actor, now=now, operation="create", obj=invoice, before=None, after=snapshot(invoice)
    )
    return invoice
