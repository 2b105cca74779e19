"""Settlement of invoices and the rules every invoicing module shares: the customer's lock,
the actions that are payments, CC-12 (billed externally), where taxes go (at close or at
payment), and the oldest-first allocation of the payments to the invoices
(``core.invoices.allocate``) written to their ``amount_paid`` and ``status``.

The lowest invoicing module: ``issuing``, ``closing``, ``payments`` and ``settling`` build on
it and it imports none of them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Q, Sum

from billcore.classes.models import CustomerClass
from billcore.core.invoices import Payable, allocate, invoice_status
from billcore.customers.models import BalanceControl, Customer
from billcore.installation.models import InstallationSettings
from billcore.invoicing.models import Invoice, InvoiceKind, InvoiceStatus, PaymentAttempt
from billcore.ledger.models import Action, Transaction
from billcore.locks import lock_row

ZERO = Decimal(0)

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


def lock_customer(customer_id: int, *, skip_locked: bool = False) -> Customer | None:
    """The customer row with its class and currency, locked (``billcore.locks``; first in the
    lock order). ``skip_locked``: None when another engine process holds it."""
    return lock_row(
        Customer.objects.select_related("customer_class", "currency"),
        customer_id,
        skip_locked=skip_locked,
    )


def billed_externally(customer: Customer, cls: CustomerClass, inst: InstallationSettings) -> bool:
    """CC-12: a postpaid customer of a class billed externally (needs AllowExternalBilling)."""
    return bool(
        inst.allow_external_billing
        and cls.postpaid_billed_externally
        and customer.balance_control == BalanceControl.POSTPAID
    )


def taxed_at_close(balance_control: str, cls: CustomerClass) -> bool:
    """Taxes go on the invoice, except for a prepaid customer of a class that taxes prepaid
    customers at the time of payment (portabilling.md "Taxes")."""
    return not (balance_control == BalanceControl.PREPAID and cls.tax_prepaid_at_payment)


# --------------------------------------------------------------------------------------------
# Settling: payments pay the oldest unpaid invoice first


def settle(*, customer_id: int, now: dt.datetime) -> list[Invoice]:
    """Recompute ``amount_paid`` and ``status`` of the customer's invoices (caller holds the
    customer's lock). Every payment (and an opening balance, a balance reset, an invoice that
    is a credit) goes into one pool that pays invoices in the order they were issued, so a
    payment always settles the oldest unpaid invoice first. A recurring-fee invoice (CC-14) is
    paid only by the saved payment method: its card payment pays it and nothing else, and the
    pool never pays it. A void invoice is left out (issue 17). Returns the invoices that
    changed."""
    paid_in = (
        Transaction.objects.filter(customer_id=customer_id)
        .filter(Q(action__in=PAYMENTS) | Q(balance_reset=True))
        .aggregate(s=Sum("amount"))["s"]
    )
    # A void invoice (issue 17) takes no payment: what paid it pays the next ones.
    invoices = list(
        Invoice.objects.filter(customer_id=customer_id)
        .exclude(status=InvoiceStatus.VOID)
        .order_by("issued_at", "id")
    )
    dedicated: dict[int, Decimal] = {}
    if any(inv.kind == InvoiceKind.RECURRING for inv in invoices):
        for inv in invoices:
            if inv.kind == InvoiceKind.RECURRING:
                dedicated[inv.pk] = ZERO
        for invoice_id, amount in PaymentAttempt.objects.filter(
            customer_id=customer_id, approved=True, invoice__kind=InvoiceKind.RECURRING
        ).values_list("invoice_id", "amount"):
            dedicated[invoice_id] = dedicated.get(invoice_id, ZERO) + amount
    paid_of = allocate(
        pool=-(paid_in or ZERO),
        invoices=[Payable(total=inv.total, dedicated=dedicated.get(inv.pk)) for inv in invoices],
    )
    changed = []
    for inv, paid in zip(invoices, paid_of, strict=True):
        status, paid_at = invoice_status(
            total=inv.total, paid=paid, due_at=inv.due_at, paid_at=inv.paid_at, now=now
        )
        if (inv.amount_paid, inv.status, inv.paid_at) != (paid, status, paid_at):
            inv.amount_paid, inv.status, inv.paid_at = paid, status, paid_at
            inv.save(update_fields=["amount_paid", "status", "paid_at"])
            changed.append(inv)
    return changed


def settle_into(invoices: list[Invoice], *, customer_id: int, now: dt.datetime) -> None:
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


def mark_overdue(*, now: dt.datetime, customer_id: int | None = None) -> int:
    """Invoices past their due date and not paid become overdue (CU-15 reads them)."""
    qs = Invoice.objects.filter(
        status__in=(InvoiceStatus.ISSUED, InvoiceStatus.PARTLY_PAID), due_at__lte=now
    )
    if customer_id is not None:
        qs = qs.filter(customer_id=customer_id)
    return qs.update(status=InvoiceStatus.OVERDUE)
