"""Saved payment methods and the payment-gateway interface (CU-13 Payment Method tab, CC-14).

``PaymentGateway`` is what a card processor adapter implements: ``tokenize`` a card into the
gateway's token (billcore never stores the card number) and ``charge`` a token with an
idempotency key. The adapter shipped is ``TestCardGateway``: a **simulated** card processor
that runs here, for test mode and demos; no money moves. It approves any valid card number
(Luhn check, not expired) except the well-known decline test numbers. A real processor plugs
in behind the same protocol; choose one with ``BILLCORE_PAYMENT_GATEWAY`` (``test`` is the
only one shipped). Without it, saving a payment method is refused with a clear message.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from django.conf import settings
from django.db import transaction

from billcore.accounts.access import Actor
from billcore.audit.services import record, snapshot
from billcore.customers.selectors import get_customer
from billcore.errors import NotFound, ValidationFailed
from billcore.invoicing.allocation import lock_customer, settle
from billcore.invoicing.models import (
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    PaymentAttempt,
    PaymentMethod,
)
from billcore.ledger.models import Action, Transaction
from billcore.ledger.postings import post_locked
from billcore.validation import as_int, as_str, reject_unknown


@dataclass(frozen=True)
class CardToken:
    token: str
    brand: str
    last4: str


@dataclass(frozen=True)
class ChargeResult:
    approved: bool
    reference: str
    decline_reason: str = ""


class PaymentGateway(Protocol):
    name: str
    label: str

    def tokenize(self, *, number: str, exp_month: int, exp_year: int) -> CardToken: ...

    def charge(
        self, *, token: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> ChargeResult: ...


class GatewayNotConfigured(ValidationFailed):
    def __init__(self) -> None:
        super().__init__(
            "no payment gateway is configured: set BILLCORE_PAYMENT_GATEWAY (the shipped "
            "adapter is 'test', a simulated card processor for test mode and demos)",
            field="payment_method",
            code="gateway_not_configured",
        )


def _luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _brand(number: str) -> str:
    if number.startswith("4"):
        return "Visa"
    if number[:2] in {"51", "52", "53", "54", "55"} or "2221" <= number[:4] <= "2720":
        return "Mastercard"
    if number[:2] in {"34", "37"}:
        return "American Express"
    return "Card"


class TestCardGateway:
    """Simulated card processor (no money moves). Decline numbers:
    4000000000000002 (card declined), 4000000000009995 (insufficient funds)."""

    name = "test"
    label = "Test gateway (simulated card processor, no money moves)"
    DECLINES = {
        "4000000000000002": "card_declined",
        "4000000000009995": "insufficient_funds",
    }

    def tokenize(self, *, number: str, exp_month: int, exp_year: int) -> CardToken:
        digest = hashlib.sha256(number.encode()).hexdigest()[:20]
        outcome = self.DECLINES.get(number, "ok")
        return CardToken(
            token=f"tok_test_{digest}_{outcome}", brand=_brand(number), last4=number[-4:]
        )

    def charge(
        self, *, token: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> ChargeResult:
        if not token.startswith("tok_test_"):
            return ChargeResult(False, "", "unknown_token")
        reference = "ch_test_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:20]
        parts = token.split("_", 3)  # tok, test, digest, outcome (which may hold "_")
        outcome = parts[3] if len(parts) == 4 else "unknown_token"
        if outcome != "ok":
            return ChargeResult(False, reference, outcome)
        return ChargeResult(True, reference)


GATEWAYS: dict[str, type] = {"test": TestCardGateway}


def check_gateway_setting() -> None:
    """At startup: ``BILLCORE_PAYMENT_GATEWAY`` names a shipped adapter, or is empty."""
    from django.core.exceptions import ImproperlyConfigured

    name = getattr(settings, "BILLCORE_PAYMENT_GATEWAY", "") or ""
    if name and name not in GATEWAYS:
        known = ", ".join(sorted(GATEWAYS))
        raise ImproperlyConfigured(
            f"BILLCORE_PAYMENT_GATEWAY={name!r} is not a payment gateway billcore knows: use "
            f"one of: {known} (the simulated card processor), or leave it empty for none"
        )


def gateway() -> PaymentGateway:
    name = getattr(settings, "BILLCORE_PAYMENT_GATEWAY", "") or ""
    cls = GATEWAYS.get(name)
    if cls is None:
        raise GatewayNotConfigured()
    instance: PaymentGateway = cls()
    return instance


PAYMENT_METHOD_FIELDS = {"card_number", "exp_month", "exp_year", "holder_name"}


@transaction.atomic
def save_payment_method(
    *, actor: Actor, now: dt.datetime, customer_id: Any, data: dict[str, Any]
) -> PaymentMethod:
    """Save (or replace) the customer's card: tokenized by the gateway, only the token, brand,
    last four digits and expiry are kept."""
    customer = get_customer(actor=actor, customer_id=customer_id)
    reject_unknown(dict(data), PAYMENT_METHOD_FIELDS)
    gw = gateway()
    number = as_str("card_number", data.get("card_number"), max_length=19).replace(" ", "")
    if not number.isdigit() or not 12 <= len(number) <= 19:
        raise ValidationFailed(
            "card_number must be 12 to 19 digits", field="card_number", code="invalid"
        )
    if not _luhn_ok(number):
        raise ValidationFailed(
            "card_number fails the check digit (Luhn)", field="card_number", code="invalid"
        )
    month = as_int("exp_month", data.get("exp_month"), minimum=1)
    if month > 12:
        raise ValidationFailed("exp_month must be 1 to 12", field="exp_month", code="invalid")
    year = as_int("exp_year", data.get("exp_year"), minimum=2000)
    if year > 2100:
        raise ValidationFailed("exp_year must be a four-digit year", field="exp_year")
    if (year, month) < (now.year, now.month):
        raise ValidationFailed(
            f"the card expired at the end of {month:02d}/{year}", field="exp_year", code="expired"
        )
    holder = as_str("holder_name", data.get("holder_name") or "", max_length=200)
    card = gw.tokenize(number=number, exp_month=month, exp_year=year)
    existing = PaymentMethod.objects.filter(customer=customer).first()
    before = snapshot(existing) if existing else None
    method = existing or PaymentMethod(customer=customer, created_at=now)
    method.gateway = gw.name
    method.token = card.token
    method.brand = card.brand
    method.last4 = card.last4
    method.exp_month = month
    method.exp_year = year
    method.holder_name = holder
    method.updated_at = now
    method.save()
    after = snapshot(method)
    after.pop("token", None)
    if before:
        before.pop("token", None)
    record(
        actor=actor,
        now=now,
        operation="update" if existing else "create",
        obj=method,
        before=before,
        after=after,
    )
    return method


@transaction.atomic
def remove_payment_method(*, actor: Actor, now: dt.datetime, customer_id: Any) -> None:
    customer = get_customer(actor=actor, customer_id=customer_id)
    method = PaymentMethod.objects.filter(customer=customer).first()
    if method is None:
        raise NotFound("the customer has no saved payment method")
    before = snapshot(method)
    before.pop("token", None)
    method.delete()
    record(actor=actor, now=now, operation="delete", obj=method, before=before, after=None)


def _auto_charged(invoice: Invoice) -> bool:
    cls = invoice.customer.customer_class
    return invoice.kind == InvoiceKind.RECURRING or bool(cls.auto_charge_invoices)


def collect_invoice(*, invoice_id: int, now: dt.datetime) -> PaymentAttempt | None:
    """Charge the saved payment method for what ``invoice`` still owes (one attempt per
    invoice; the ledger row and the gateway share the idempotency key
    ``invoice-<id>-autocharge``, so a crash between them never charges twice)."""
    invoice = Invoice.objects.select_related("customer__customer_class").get(pk=invoice_id)
    if PaymentAttempt.objects.filter(invoice=invoice).exists():
        return None
    method = PaymentMethod.objects.filter(customer_id=invoice.customer_id).first()
    due = invoice.amount_due
    if method is None or due <= 0:
        return None
    try:
        gw = gateway()
    except GatewayNotConfigured:
        return None
    key = f"invoice-{invoice.pk}-autocharge"
    result = gw.charge(
        token=method.token, amount=due, currency=invoice.currency, idempotency_key=key
    )
    with transaction.atomic():
        lock_customer(invoice.customer_id)
        if PaymentAttempt.objects.filter(invoice=invoice).exists():
            return None  # another engine process took it meanwhile
        txn_id = None
        if result.approved:
            earlier = Transaction.objects.filter(
                customer_id=invoice.customer_id, idempotency_key=key
            ).first()
            txn = earlier or post_locked(
                customer_id=invoice.customer_id,
                action=Action.ECOMMERCE_PAYMENT,
                amount=-due,
                now=now,
                visible_comment=f"Card payment of invoice {invoice.number}",
                internal_comment=f"{gw.name} {result.reference}",
                idempotency_key=key,
            )
            txn_id = txn.pk
        attempt = PaymentAttempt.objects.create(
            invoice=invoice,
            customer_id=invoice.customer_id,
            gateway=gw.name,
            amount=due,
            approved=result.approved,
            gateway_reference=result.reference,
            decline_reason=result.decline_reason,
            transaction_id=txn_id,
            created_at=now,
        )
        if result.approved:
            settle(customer_id=invoice.customer_id, now=now)
        return attempt


def collect_step(*, now: dt.datetime, report: Any) -> None:
    """Engine step: charge invoices the class auto-charges (and CC-14 recurring-fee invoices)."""
    candidates = (
        Invoice.objects.filter(
            status__in=(InvoiceStatus.ISSUED, InvoiceStatus.PARTLY_PAID, InvoiceStatus.OVERDUE),
            customer__payment_method__isnull=False,
            payment_attempts__isnull=True,
        )
        .select_related("customer__customer_class")
        .order_by("id")
    )
    try:
        gateway()
    except GatewayNotConfigured:
        waiting = sum(1 for invoice in candidates if _auto_charged(invoice))
        if waiting:
            report.notes.append(
                f"collect: {waiting} invoice(s) wait to be charged to a saved card, but no "
                "payment gateway is configured (set BILLCORE_PAYMENT_GATEWAY)"
            )
        return
    for invoice in candidates:
        if not _auto_charged(invoice):
            continue
        attempt = collect_invoice(invoice_id=invoice.pk, now=now)
        if attempt is None:
            continue
        if attempt.approved:
            report.payments_collected += 1
        else:
            report.payments_declined += 1
