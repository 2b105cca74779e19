"""Settling (CC-10, CC-14, CU-15, CC-19): payments recorded by the ledger, then applied to
invoices, oldest first, in the same transaction.

How a payment travels: an interface calls :func:`record_transaction`, which locks the customer
(``billcore.locks``), has the ledger record the row (``ledger.services.post_transaction``: the
ledger imports nothing above it), then, for a payment of a prepaid customer taxed at payment
time, posts the tax it contains (:func:`tax_at_payment`); for a refund of such a payment, the
tax it gives back (:func:`tax_back_on_refund`); then settles the invoices (:func:`settle`, the
oldest-first allocation of ``core.invoices.allocate``), lifts an overdue suspension that is
paid (``collections.after_payment``) and charges the subscription fees that waited for funds
(``subscriptions.engine.after_funds_arrive``, CC-19).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction

from billcore.accounts.access import Actor
from billcore.classes.models import TaxationMethod
from billcore.core.rounding import round_down, round_half_up
from billcore.core.taxes import TaxResult, custom_taxes, fixed_vat
from billcore.core.taxes import gst_malaysia as gst_calculator
from billcore.customers.models import Customer
from billcore.customers.selectors import get_customer
from billcore.installation.services import get_settings
from billcore.invoicing.allocation import (
    billed_externally,
    lock_customer,
    settle,
    taxed_at_close,
)
from billcore.invoicing.collections import after_payment
from billcore.invoicing.models import Invoice
from billcore.ledger import services as ledger
from billcore.ledger.models import Action, Transaction
from billcore.ledger.postings import post_locked
from billcore.ledger.refunds import REFUNDS, TAXED_PAYMENTS, refundable
from billcore.subscriptions.engine import after_funds_arrive

# Steps that move no money: nothing to settle after them.
_NO_MONEY = (Action.AUTHORIZATION_ONLY, Action.VOID)


def adjustments_refused(customer: Customer) -> str | None:
    """CC-12: for a postpaid customer billed externally no adjustment lands in the current
    period. The reason, or None."""
    cls = customer.customer_class
    if billed_externally(customer, cls, get_settings()):
        return (
            "the customer is postpaid and billed externally (CC-12): no balance adjustment "
            "can land in the current billing period"
        )
    return None


# --------------------------------------------------------------------------------------------
# Recording a transaction


@transaction.atomic
def record_transaction(
    *,
    actor: Actor,
    now: dt.datetime,
    customer_id: Any,
    action: Any,
    amount: Any,
    visible_comment: Any = "",
    internal_comment: Any = "",
    idempotency_key: str | None = None,
    account_id: int | None = None,
    reference_id: int | None = None,
) -> ledger.PostedTransaction:
    """A balance adjustment (CU-12) recorded by the ledger and then settled, in one
    transaction: the arguments and the reply are those of ``ledger.services.post_transaction``
    (the reply's balance includes the tax row that follows a payment or a refund). CC-12: a
    postpaid customer billed externally takes no adjustment."""
    visible = get_customer(actor=actor, customer_id=customer_id)
    customer = lock_customer(visible.pk)
    assert customer is not None
    posted = ledger.post_transaction(
        actor=actor,
        now=now,
        customer_id=customer.pk,
        action=action,
        amount=amount,
        visible_comment=visible_comment,
        internal_comment=internal_comment,
        idempotency_key=idempotency_key,
        account_id=account_id,
        reference_id=reference_id,
        refused=adjustments_refused(customer),
    )
    if posted.replayed:
        return posted
    code = posted.action
    follow: Transaction | None = None
    if code in TAXED_PAYMENTS:
        follow = tax_at_payment(
            customer_id=customer.pk,
            amount=-posted.amount,
            now=now,
            payment_id=posted.transaction_id,
        )
    elif code in REFUNDS:
        # The payment refunded (the ledger found it: named, or the one whose tax comes back).
        payment_id = Transaction.objects.values_list("reference_id", flat=True).get(
            pk=posted.transaction_id
        )
        if payment_id is not None:
            follow = tax_back_on_refund(
                customer_id=customer.pk,
                refund_id=posted.transaction_id,
                refund_amount=posted.amount,
                payment=Transaction.objects.get(pk=payment_id),
                now=now,
            )
    if code not in _NO_MONEY:
        # Payments settle the oldest unpaid invoice first; a charge can un-settle nothing.
        settle_after_payment(customer_id=customer.pk, now=now)
    if follow is None:
        return posted
    balance = follow.balance_after
    return dataclasses.replace(
        posted,
        balance=balance,
        available_funds=-balance if posted.available_funds is not None else None,
    )


# --------------------------------------------------------------------------------------------
# Taxes at payment time


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
    half_up = get_settings().tax_rounding_half_up
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


def tax_back_on_refund(
    *,
    customer_id: int,
    refund_id: int,
    refund_amount: Decimal,
    payment: Transaction,
    now: dt.datetime,
) -> Transaction | None:
    """A refund of a payment that was taxed at payment time gives back the tax it contained,
    as a ``tax`` row naming the refund: in proportion to the part refunded, rounded half-up
    to the currency's minor unit; the refund that completes the payment gives back exactly
    what is left of its tax, so a payment refunded in parts gives back all of its tax and no
    more. None when the payment carried no tax. The caller holds the customer's lock (the
    refund row is already written)."""
    info = refundable(payment)
    if not info.tax:
        return None
    decimals = Customer.objects.values_list("currency__decimals", flat=True).get(pk=customer_id)
    if info.refunded >= info.gross:
        back = info.tax - info.given_back
    else:
        part = refund_amount * info.tax / info.gross
        back = min(round_half_up(part, places=decimals), info.tax - info.given_back)
    if not back:
        return None
    return post_locked(
        customer_id=customer_id,
        action=Action.TAX,
        amount=-back,
        now=now,
        visible_comment=(
            f"Tax given back with the refund of {refund_amount} of payment {payment.pk}"
        ),
        reference_id=refund_id,
    )


def settle_after_payment(*, customer_id: int, now: dt.datetime) -> None:
    """After a payment or refund, inside its transaction (:func:`record_transaction`; the
    customer is locked): settle the invoices, then lift an overdue suspension that is paid (CU-15),
    then charge the subscription fees that waited for funds and lift the suspension for
    insufficient funds when the funds cover them (CC-19)."""
    if Invoice.objects.filter(customer_id=customer_id).exists():
        settle(customer_id=customer_id, now=now)
        customer = Customer.objects.select_related("customer_class", "currency").get(pk=customer_id)
        after_payment(customer=customer, now=now)
    after_funds_arrive(customer_id=customer_id, now=now)
