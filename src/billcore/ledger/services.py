"""The only way a balance changes (DESIGN rule 1): one ledger row and one guarded update of
the customer's balance in the same database transaction.

Sign convention (portabilling.md): ``balance`` is what the customer owes. A charge raises it,
a payment or credit lowers it. Prepaid available funds = -balance.

Concurrency: the customer row is locked (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's
IMMEDIATE transactions hold the database write lock), the balance moves by an atomic
``UPDATE … SET balance = balance + δ``, and the new balance is read back under the same lock,
so ``balance_after`` is exact under any number of concurrent writers. Later issues add
real-time charging with limit checks on this same function.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction

from billcore.accounts.access import Actor, user_row
from billcore.audit.services import record, snapshot
from billcore.customers.models import Customer, Status
from billcore.customers.selectors import get_customer
from billcore.errors import Conflict, ValidationFailed
from billcore.ledger.balances import customer_balance, move_account_balance, move_customer_balance
from billcore.ledger.models import Action, Transaction
from billcore.ledger.refunds import payment_refunded
from billcore.locks import for_update, lock_row
from billcore.subscribers.models import Account
from billcore.validation import as_money, as_str

ZERO = Decimal(0)

# +1: raises what the customer owes (postpaid balance up, prepaid funds down); -1: lowers it.
DIRECTION: dict[str, int] = {
    Action.MANUAL_CHARGE: +1,
    Action.MANUAL_CREDIT: -1,
    Action.PROMOTIONAL_CREDIT: -1,
    Action.MANUAL_PAYMENT: -1,
    Action.ECOMMERCE_PAYMENT: -1,
    Action.REFUND: +1,
    Action.ECOMMERCE_REFUND: +1,
}
# Card-payment steps (portabilling.md): recorded as the gateway reports them. An
# authorisation changes no balance; a capture of (part of) it is a payment; a void cancels
# what was authorised and not captured.
CARD_STEPS = (Action.AUTHORIZATION_ONLY, Action.CAPTURE_PAYMENT, Action.VOID)
# What an operator adjusts by hand (the balance-adjustment dialog); card steps come from a
# payment gateway and name the authorisation they follow.
MANUAL_ACTIONS = tuple(DIRECTION)
ACTIONS = (*MANUAL_ACTIONS, *CARD_STEPS)


def parse_action(value: Any) -> str:
    """An action by its API string ("Manual charge") or its code ("manual_charge"), in any
    letter case."""
    if isinstance(value, str):
        key = value.strip().lower()
        for action in Action:
            if action.value in ACTIONS and key in (action.value, action.label.lower()):
                return action.value
    names = ", ".join(Action(a).label for a in ACTIONS)
    raise ValidationFailed(
        f"action must be one of: {names} (got {value!r})", field="action", code="invalid_choice"
    )


@dataclass(frozen=True)
class PostedTransaction:
    transaction_id: int
    customer_id: int
    action: str
    amount: Decimal  # signed effect on the balance
    balance: Decimal  # balance after this transaction
    available_funds: Decimal | None
    created_at: dt.datetime
    replayed: bool  # True when an idempotency key returned an earlier result


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()


def _result(tx: Transaction, customer: Customer, *, replayed: bool) -> PostedTransaction:
    """The reply: the balance after the row and the tax row that follows it, if any (a
    payment taxed at payment time, or the tax a refund gives back)."""
    balance = tx.balance_after
    follow = (
        Transaction.objects.filter(reference=tx, action=Action.TAX)
        .order_by("-id")
        .values_list("balance_after", flat=True)
        .first()
    )
    if follow is not None:
        balance = follow
    return PostedTransaction(
        transaction_id=tx.pk,
        customer_id=customer.pk,
        action=tx.action,
        amount=tx.amount,
        balance=balance,
        available_funds=-balance if customer.is_prepaid else None,
        created_at=tx.created_at,
        replayed=replayed,
    )


def _apply(
    *,
    actor: Actor,
    now: dt.datetime,
    customer: Customer,
    action: str,
    delta: Decimal,
    visible_comment: str,
    internal_comment: str,
    idempotency_key: str | None,
    fingerprint: str,
    account: Any = None,
    card_amount: Decimal | None = None,
    reference: Transaction | None = None,
) -> Transaction:
    if delta:
        move_customer_balance(customer_id=customer.pk, delta=delta)
    balance = customer_balance(customer.pk)
    if account is not None and delta:
        move_account_balance(account_id=account.pk, delta=delta)
    return Transaction.objects.create(
        customer=customer,
        action=action,
        amount=delta,
        balance_after=balance,
        account=account,
        account_amount=delta if account is not None else Decimal(0),
        visible_comment=visible_comment,
        internal_comment=internal_comment,
        actor=user_row(actor),
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
        created_at=now,
        card_amount=card_amount,
        reference=reference,
    )


def _card_step(
    customer: Customer, code: str, amount: Decimal, reference_id: int | None
) -> tuple[Decimal, Transaction | None]:
    """The balance effect of a card step and the authorisation it follows."""
    if code == Action.AUTHORIZATION_ONLY:
        if reference_id is not None:
            raise ValidationFailed("reference: an authorisation follows nothing", field="reference")
        return ZERO, None
    if reference_id is None:
        raise ValidationFailed(
            f"reference: a {Action(code).label.lower()} names the authorisation it follows",
            field="reference",
            code="required",
        )
    auth = lock_row(
        Transaction.objects.filter(customer=customer, action=Action.AUTHORIZATION_ONLY),
        reference_id,
    )
    if auth is None:
        raise ValidationFailed(
            f"reference: {reference_id} is not an authorisation of this customer",
            field="reference",
            code="not_found",
        )
    followups = list(auth.followups.values_list("action", "card_amount"))
    if any(a == Action.VOID for a, _ in followups):
        raise ValidationFailed(
            "reference: the authorisation was voided", field="reference", code="voided"
        )
    captured = sum((c or ZERO for a, c in followups if a == Action.CAPTURE_PAYMENT), ZERO)
    remaining = (auth.card_amount or ZERO) - captured
    if code == Action.VOID:
        if captured:
            raise ValidationFailed(
                "reference: a captured authorisation cannot be voided; refund the payment instead",
                field="reference",
                code="captured",
            )
        if amount != remaining:
            raise ValidationFailed(
                f"amount: a void cancels the whole authorisation ({remaining})", field="amount"
            )
        return ZERO, auth
    if amount > remaining:
        raise ValidationFailed(
            f"amount: only {remaining} of the authorisation is left to capture",
            field="amount",
            code="exceeds_authorisation",
        )
    return -amount, auth


@transaction.atomic
def post_transaction(
    *,
    actor: Actor,
    now: dt.datetime,
    customer_id: int,
    action: Any,
    amount: Any,
    visible_comment: Any = "",
    internal_comment: Any = "",
    idempotency_key: str | None = None,
    account_id: int | None = None,
    reference_id: int | None = None,
    refused: str | None = None,
) -> PostedTransaction:
    """A balance adjustment (CU-12). ``amount`` is a positive magnitude; the action gives
    the direction. The same ``idempotency_key`` twice returns the first result and changes
    nothing; reusing a key for a different request is a 409. ``refused``: why the caller's
    rules refuse any adjustment of this customer (raised once the request is checked).

    The ledger records the row only: ``invoicing.settling.record_transaction`` calls this
    under the customer's lock and then posts the tax a payment contains (or a refund gives
    back) and settles the invoices, in the same transaction."""
    code = parse_action(action)
    magnitude = as_money("amount", amount, allow_none=False)
    assert magnitude is not None
    if magnitude <= ZERO:
        raise ValidationFailed("amount must be greater than 0", field="amount")
    visible = as_str("visible_comment", visible_comment, max_length=500, single_line=False)
    internal = as_str("internal_comment", internal_comment, max_length=500, single_line=False)
    key = None
    if idempotency_key is not None:
        key = as_str("idempotency_key", idempotency_key, max_length=200, required=True)
    visible_customer = get_customer(actor=actor, customer_id=customer_id)
    # Lock the customer row, then the account's (billcore.locks): concurrent writers to one
    # customer queue here.
    customer = for_update(Customer.objects.filter(pk=visible_customer.pk)).get()
    account = None
    if account_id is not None:
        account = lock_row(Account.objects.filter(customer=customer), account_id)
        if account is None:
            raise ValidationFailed(
                f"account {account_id} is not an account of this customer",
                field="account",
                code="not_found",
            )
    fingerprint = _fingerprint(code, magnitude, visible, internal, account_id, reference_id)
    if key is not None:
        earlier = Transaction.objects.filter(customer=customer, idempotency_key=key).first()
        if earlier is not None:
            if earlier.request_fingerprint != fingerprint:
                raise Conflict(
                    "Idempotency-Key was already used for a different transaction",
                    field="idempotency_key",
                    code="idempotency_key_reused",
                )
            return _result(earlier, customer, replayed=True)
    if customer.status in (Status.CLOSED, Status.EXPORTED):
        raise ValidationFailed(
            f"customer is {customer.get_status_display().lower()}: no transaction is possible",
            field="customer",
            code="not_operational",
        )
    if refused:
        raise ValidationFailed(refused, field="action", code="billed_externally")
    card_amount = None
    reference = None
    if code in CARD_STEPS:
        delta, reference = _card_step(customer, code, magnitude, reference_id)
        card_amount = magnitude
    elif code in (Action.REFUND, Action.ECOMMERCE_REFUND):
        # The payment refunded: named, or found when its tax must be given back.
        reference = payment_refunded(
            customer_id=customer.pk, amount=magnitude, reference_id=reference_id
        )
        delta = magnitude * DIRECTION[code]
    elif reference_id is not None:
        raise ValidationFailed(
            "reference applies only to capture payment, void and refunds",
            field="reference",
            code="not_applicable",
        )
    else:
        delta = magnitude * DIRECTION[code]
    tx = _apply(
        actor=actor,
        now=now,
        customer=customer,
        action=code,
        delta=delta,
        card_amount=card_amount,
        reference=reference,
        visible_comment=visible,
        internal_comment=internal,
        idempotency_key=key,
        fingerprint=fingerprint,
        account=account,
    )
    record(
        actor=actor,
        now=now,
        operation="create",
        obj=tx,
        before=None,
        after=snapshot(tx),
        object_type="transaction",
    )
    return _result(tx, customer, replayed=False)
