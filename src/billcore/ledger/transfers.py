"""Subscriber-to-subscriber transfers (CC-21): funds move between two accounts of one
customer. The ledger writes both rows and both account balances (``balance = balance + δ``)
under the customer's lock, then the accounts' locks, in the order of ``billcore.locks``; the
customer's own balance does not change."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction

from billcore.accounts.access import Actor, user_row
from billcore.audit.services import record
from billcore.customers.models import Customer
from billcore.errors import Conflict, ValidationFailed
from billcore.ledger.balances import move_account_balance
from billcore.ledger.models import Action, Transaction
from billcore.locks import for_update, lock_rows
from billcore.subscribers.models import Account, AccountType
from billcore.subscribers.services import get_account
from billcore.validation import as_money, as_str

ZERO = Decimal(0)


def _can_transfer(account: Account) -> bool:
    return account.account_type == AccountType.DEBIT or account.credit_limit is not None


@transaction.atomic
def transfer(
    *,
    actor: Actor,
    now: dt.datetime,
    from_account_id: int,
    to_account_id: int,
    amount: Any,
    comment: Any = "",
    idempotency_key: str | None = None,
) -> tuple[Transaction, Transaction]:
    """Move funds between two accounts of one customer (CC-21): both sides in one database
    transaction. Only debit accounts and credit accounts with an individual credit limit can
    send or receive; the sender must have the funds. The customer's balance is unchanged."""
    money = as_money("amount", amount, allow_none=False)
    assert money is not None
    if money <= ZERO:
        raise ValidationFailed("amount must be greater than 0", field="amount")
    if from_account_id == to_account_id:
        raise ValidationFailed("to_account must differ from from_account", field="to_account")
    source = get_account(actor=actor, account_id=from_account_id)
    target = get_account(actor=actor, account_id=to_account_id)
    if source.customer_id != target.customer_id:
        raise ValidationFailed(
            "to_account: transfers stay within one customer",
            field="to_account",
            code="other_customer",
        )
    # The lock order (billcore.locks): the customer row, then both accounts by id.
    customer = for_update(
        Customer.objects.select_related("customer_class").filter(pk=source.customer_id)
    ).get()
    if not customer.customer_class.s2s_transfers_allowed:
        raise ValidationFailed(
            f"subscriber-to-subscriber transfers are not allowed in class "
            f"{customer.customer_class.name!r} (CC-21)",
            field="from_account",
            code="not_allowed",
        )
    if idempotency_key:
        earlier = Transaction.objects.filter(
            customer=customer, idempotency_key=idempotency_key
        ).first()
        if earlier is not None:
            pair = Transaction.objects.filter(reference=earlier, action=Action.TRANSFER).first()
            if (
                earlier.action != Action.TRANSFER
                or pair is None
                or earlier.account_id != source.pk
                or pair.account_id != target.pk
                or earlier.account_amount != money
            ):
                raise Conflict(
                    "Idempotency-Key was already used for a different request",
                    field="idempotency_key",
                    code="idempotency_key_reused",
                )
            return earlier, pair
    locked = lock_rows(Account.objects.all(), [source.pk, target.pk])
    source, target = locked[source.pk], locked[target.pk]
    for field, acc in (("from_account", source), ("to_account", target)):
        if not _can_transfer(acc):
            raise ValidationFailed(
                f"{field}: only debit accounts and credit accounts with an individual credit "
                "limit can transfer funds (CC-21)",
                field=field,
                code="not_allowed",
            )
        if acc.blocked:
            raise ValidationFailed(
                f"{field}: the account is blocked", field=field, code="account_blocked"
            )
    available = source.available_funds
    if available is None or money > available:
        raise ValidationFailed(
            f"amount: {source.identifier} has {available} available",
            field="amount",
            code="insufficient_funds",
        )
    note = as_str("comment", comment, max_length=500, single_line=False)
    rows: list[Transaction] = []
    for acc, delta in ((source, money), (target, -money)):
        move_account_balance(account_id=acc.pk, delta=delta)
        rows.append(
            Transaction.objects.create(
                customer=customer,
                action=Action.TRANSFER,
                amount=ZERO,
                balance_after=customer.balance,
                account=acc,
                account_amount=delta,
                visible_comment=note,
                actor=user_row(actor),
                created_at=now,
                reference=rows[0] if rows else None,
                idempotency_key=None if rows else (idempotency_key or None),
            )
        )
    record(
        actor=actor,
        now=now,
        operation="create",
        obj=rows[0],
        before=None,
        after={"transfer": str(money), "from": source.pk, "to": target.pk},
        object_type="transfer",
    )
    return rows[0], rows[1]
