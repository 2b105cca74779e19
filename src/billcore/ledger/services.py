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
from django.db.models import F

from billcore.audit.services import record, snapshot
from billcore.customers.models import Customer, Status
from billcore.customers.selectors import get_customer
from billcore.db import money_value
from billcore.errors import Conflict, ValidationFailed
from billcore.ledger.models import Action, Transaction
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
# The card-payment steps need a payment gateway; they arrive with the charging issue.
MANUAL_ACTIONS = tuple(DIRECTION)


def parse_action(value: Any) -> str:
    """An action by its API string ("Manual charge") or its code ("manual_charge"), in any
    letter case."""
    if isinstance(value, str):
        key = value.strip().lower()
        for action in Action:
            if key in (action.value, action.label.lower()):
                if action.value in DIRECTION:
                    return action.value
                raise ValidationFailed(
                    f"action: {action.label!r} is a card-payment step and needs a payment "
                    "gateway, which this installation does not have configured",
                    field="action",
                    code="not_configured",
                )
    names = ", ".join(Action(a).label for a in MANUAL_ACTIONS)
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
    return PostedTransaction(
        transaction_id=tx.pk,
        customer_id=customer.pk,
        action=tx.action,
        amount=tx.amount,
        balance=tx.balance_after,
        available_funds=-tx.balance_after if customer.is_prepaid else None,
        created_at=tx.created_at,
        replayed=replayed,
    )


def _apply(
    *,
    actor: Any,
    now: dt.datetime,
    customer: Customer,
    action: str,
    delta: Decimal,
    visible_comment: str,
    internal_comment: str,
    idempotency_key: str | None,
    fingerprint: str,
    account: Any = None,
) -> Transaction:
    Customer.objects.filter(pk=customer.pk).update(balance=F("balance") + money_value(delta))
    balance = Customer.objects.values_list("balance", flat=True).get(pk=customer.pk)
    if account is not None:
        type(account).objects.filter(pk=account.pk).update(
            balance=F("balance") + money_value(delta)
        )
    return Transaction.objects.create(
        customer=customer,
        action=action,
        amount=delta,
        balance_after=balance,
        account=account,
        account_amount=delta if account is not None else Decimal(0),
        visible_comment=visible_comment,
        internal_comment=internal_comment,
        actor=actor if getattr(actor, "pk", None) else None,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
        created_at=now,
    )


@transaction.atomic
def post_transaction(
    *,
    actor: Any,
    now: dt.datetime,
    customer_id: int,
    action: Any,
    amount: Any,
    visible_comment: Any = "",
    internal_comment: Any = "",
    idempotency_key: str | None = None,
    account_id: int | None = None,
) -> PostedTransaction:
    """A balance adjustment (CU-12). ``amount`` is a positive magnitude; the action gives
    the direction. The same ``idempotency_key`` twice returns the first result and changes
    nothing; reusing a key for a different request is a 409."""
    code = parse_action(action)
    magnitude = as_money("amount", amount, allow_none=False)
    assert magnitude is not None
    if magnitude <= ZERO:
        raise ValidationFailed("amount must be greater than 0", field="amount")
    visible = as_str("visible_comment", visible_comment, max_length=500)
    internal = as_str("internal_comment", internal_comment, max_length=500)
    key = None
    if idempotency_key is not None:
        key = as_str("idempotency_key", idempotency_key, max_length=200, required=True)
    visible_customer = get_customer(actor=actor, customer_id=customer_id)
    # Lock the customer row: concurrent writers to one customer queue here.
    customer = Customer.objects.select_for_update().get(pk=visible_customer.pk)
    account = None
    if account_id is not None:
        from billcore.subscribers.models import Account

        account = (
            Account.objects.select_for_update().filter(pk=account_id, customer=customer).first()
        )
        if account is None:
            raise ValidationFailed(
                f"account {account_id} is not an account of this customer",
                field="account",
                code="not_found",
            )
    fingerprint = _fingerprint(code, magnitude, visible, internal, account_id)
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
    tx = _apply(
        actor=actor,
        now=now,
        customer=customer,
        action=code,
        delta=magnitude * DIRECTION[code],
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


def post_opening_balance(
    *, actor: Any, now: dt.datetime, customer: Customer, funds: Decimal
) -> Transaction:
    """A prepaid customer's initial payment (CU-08) as the ledger's first row. Called inside
    ``create_customer``'s transaction."""
    return _apply(
        actor=actor,
        now=now,
        customer=customer,
        action=Action.OPENING_BALANCE,
        delta=-funds,
        visible_comment="Opening balance",
        internal_comment="",
        idempotency_key=None,
        fingerprint="",
    )
