"""Which payment a refund gives back (CC-10, tax at payment time): read from the ledger's own
rows, so the ledger decides it before writing the refund.

A payment whose tax was taken at payment time has a ``tax`` row naming it (``reference``); a
refund names the payment it refunds, and the tax it gives back is a ``tax`` row naming the
refund. ``invoicing.settling.tax_back_on_refund`` posts that row once the refund is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Sum

from billcore.errors import ValidationFailed
from billcore.ledger.models import Action, Transaction

ZERO = Decimal(0)

# Payments a refund can give back (their tax rows name them), and the refund actions.
TAXED_PAYMENTS = (Action.MANUAL_PAYMENT, Action.ECOMMERCE_PAYMENT, Action.CAPTURE_PAYMENT)
REFUNDS = (Action.REFUND, Action.ECOMMERCE_REFUND)


@dataclass(frozen=True)
class Refundable:
    payment: Transaction
    gross: Decimal  # what the payment paid (positive)
    refunded: Decimal  # refunded of it so far (positive)
    tax: Decimal  # the tax its tax row took (positive)
    given_back: Decimal  # tax given back by its earlier refunds (positive)

    @property
    def left(self) -> Decimal:
        return self.gross - self.refunded


def refundable(payment: Transaction) -> Refundable:
    refunded = Transaction.objects.filter(reference=payment, action__in=REFUNDS).aggregate(
        s=Sum("amount")
    )["s"]
    tax = Transaction.objects.filter(reference=payment, action=Action.TAX).aggregate(
        s=Sum("amount")
    )["s"]
    back = Transaction.objects.filter(
        reference__reference=payment, reference__action__in=REFUNDS, action=Action.TAX
    ).aggregate(s=Sum("amount"))["s"]
    return Refundable(
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
        info = refundable(payment)
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
    open_payments = [info for info in map(refundable, taxed) if info.left > 0]
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
