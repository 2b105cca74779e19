"""Service wallets in the ledger (issue 13, rating-and-tabs §2.4): a wallet is a sub-balance
with its own entries, whose sum is its balance like the main one's ledger rows.

* a top-up **from the balance** is a transfer: the main ledger's ``transfer`` row (the
  customer owes more: ``+amount``, and the account too when the wallet is an account's) and
  the wallet's entry, in one transaction, after a check of the available funds;
* **from a card**: a payment into the wallet (the entry records the price charged); the main
  balance is untouched;
* **credit** (promotional, compensation): the entry alone;
* **usage** paid from a wallet: a negative entry (``take_locked``, in the charge's
  transaction).

Every writer holds the customer's row locked first, then the account's, then the wallet's
(``billcore.locks`` stages 1-3); the balance moves by ``balance = balance + δ`` guarded by
``balance + δ >= 0`` for a take. Wallet balances are positive: what the wallet can still pay
(money in the customer's currency, or units for a unit wallet).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F

from billcore.accounts.access import Actor, is_admin, require_user, user_row
from billcore.audit.services import record
from billcore.customers.models import BalanceControl, Customer
from billcore.db import money_value
from billcore.errors import Conflict, NotFound, ValidationFailed
from billcore.ledger.balances import move_account_balance, move_customer_balance
from billcore.ledger.models import (
    Action,
    Transaction,
    Wallet,
    WalletEntry,
    WalletEntryKind,
    WalletMeasure,
)
from billcore.locks import for_update
from billcore.subscribers.models import Account
from billcore.validation import as_choice, as_int, as_money, as_str

ZERO = Decimal(0)
SOURCES = ("balance", "card", "credit")
_KIND_OF_SOURCE = {
    "balance": WalletEntryKind.TRANSFER,
    "card": WalletEntryKind.CARD,
    "credit": WalletEntryKind.CREDIT,
}


def open_wallet_locked(
    *,
    customer_id: int,
    account_id: int | None,
    rule_id: int,
    name: str,
    measure: str,
    initial: Decimal,
    expires_at: dt.datetime | None,
    now: dt.datetime,
) -> Wallet:
    """The wallet of a plan rule for this holder, created with its initial volume (an
    ``initial`` entry) when it does not exist yet. The caller holds the customer's row."""
    same = Wallet.objects.filter(rule_id=rule_id, customer_id=customer_id)
    if account_id is None:
        found = same.filter(account__isnull=True).first()
    else:
        found = same.filter(account_id=account_id).first()
    if found is not None:
        return found
    wallet = Wallet.objects.create(
        customer_id=customer_id,
        account_id=account_id,
        rule_id=rule_id,
        name=name[:200],
        measure=measure,
        balance=initial,
        expires_at=expires_at,
        created_at=now,
    )
    if initial:
        WalletEntry.objects.create(
            wallet=wallet,
            kind=WalletEntryKind.INITIAL,
            amount=initial,
            balance_after=initial,
            created_at=now,
        )
    return wallet


def take_locked(
    *, takes: Sequence[tuple[int, Decimal]], now: dt.datetime, comment: str = ""
) -> list[int]:
    """Usage paid from wallets: per (wallet id, amount > 0) a negative entry and the balance
    moved, the wallets locked (stage 3, by id) inside the caller's transaction, which holds
    their customers. Raises ``Conflict`` when a wallet does not hold the amount (the caller
    read it under the same locks: a bug). The entries' ids, in order."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("take_locked must run inside the caller's transaction")
    wanted = sorted({wid for wid, _ in takes})
    rows: Any = for_update(Wallet.objects.filter(pk__in=wanted)).values_list("pk", "balance")
    balances: dict[int, Decimal] = {pk: Decimal(balance) for pk, balance in rows}
    entries: list[WalletEntry] = []
    for wid, amount in takes:
        after = balances[wid] - amount
        if after < 0:
            raise Conflict(f"wallet {wid} holds {balances[wid]}, not {amount}", field="wallet")
        balances[wid] = after
        entries.append(
            WalletEntry(
                wallet_id=wid,
                kind=WalletEntryKind.USAGE,
                amount=-amount,
                balance_after=after,
                comment=comment[:500],
                created_at=now,
            )
        )
    for wid in wanted:
        total = sum((amount for w, amount in takes if w == wid), ZERO)
        Wallet.objects.filter(pk=wid).update(balance=F("balance") - money_value(total))
    created = WalletEntry.objects.bulk_create(entries)
    return [e.pk for e in created]


def return_locked(*, wallet_id: int, amount: Decimal, now: dt.datetime, comment: str) -> None:
    """Give ``amount`` back to a wallet (re-rating undoes a take); caller holds the locks."""
    Wallet.objects.filter(pk=wallet_id).update(balance=F("balance") + money_value(amount))
    balance: Any = Wallet.objects.values_list("balance", flat=True).get(pk=wallet_id)
    WalletEntry.objects.create(
        wallet_id=wallet_id,
        kind=WalletEntryKind.RERATING,
        amount=amount,
        balance_after=balance,
        comment=comment[:500],
        created_at=now,
    )


def _visible_wallet(actor: Actor, wallet_id: Any) -> Wallet:
    wid = as_int("wallet", wallet_id, minimum=1)
    wallet = Wallet.objects.select_related("customer").filter(pk=wid).first()
    require_user(actor)
    if wallet is None or (
        not is_admin(actor) and wallet.customer.reseller_id != require_user(actor).reseller_id
    ):
        raise NotFound(f"wallet {wid} not found", field="wallet")
    return wallet


def _available(customer: Customer, now: dt.datetime) -> Decimal | None:
    if customer.balance_control == BalanceControl.PREPAID:
        funds: Decimal = -customer.balance - customer.reserved
        return funds
    limit = customer.effective_credit_limit(now=now)
    if limit is None:
        return None
    left: Decimal = limit - customer.balance - customer.reserved
    return left


@transaction.atomic
def top_up_wallet(
    *,
    actor: Actor,
    now: dt.datetime,
    wallet_id: Any,
    amount: Any,
    source: Any,
    price: Any = None,
    extend_days: int = 0,
    comment: Any = "",
    idempotency_key: str | None = None,
) -> WalletEntry:
    """Top a wallet up by ``amount`` (money, or units for a unit wallet) from ``source``:
    ``"balance"`` (a transfer: the main ledger's row and the wallet's entry; the funds must
    be available), ``"card"`` (a payment of ``price``, default ``amount``, into the wallet;
    the balance untouched) or ``"credit"`` (a promotional credit). ``extend_days`` lengthens
    an expiring wallet's life. Audited; the same ``idempotency_key`` twice returns the first
    entry. Which sources a rule allows is the plans' check (``plans.wallets``)."""
    kind = _KIND_OF_SOURCE[as_choice("source", source, SOURCES)]
    money = as_money("amount", amount, allow_none=False)
    assert money is not None
    if money <= ZERO:
        raise ValidationFailed("amount must be greater than 0", field="amount")
    paid = as_money("price", price, allow_none=True, minimum=ZERO)
    note = as_str("comment", comment, max_length=500, single_line=False)
    wallet = _visible_wallet(actor, wallet_id)
    if kind == WalletEntryKind.TRANSFER and wallet.measure != WalletMeasure.MONEY:
        raise ValidationFailed(
            "source: a unit wallet cannot be topped up from the money balance; use card or credit",
            field="source",
        )
    # billcore.locks: the customer, the account, then the wallet.
    customer = for_update(Customer.objects.filter(pk=wallet.customer_id)).get()
    if wallet.account_id is not None:
        list(for_update(Account.objects.filter(pk=wallet.account_id)))
    wallet = for_update(Wallet.objects.filter(pk=wallet.pk)).get()
    if idempotency_key:
        earlier = WalletEntry.objects.filter(wallet=wallet, idempotency_key=idempotency_key).first()
        if earlier is not None:
            if earlier.kind != kind or earlier.amount != money:
                raise Conflict(
                    "Idempotency-Key was already used for a different request",
                    field="idempotency_key",
                    code="idempotency_key_reused",
                )
            return earlier
    tx = None
    if kind == WalletEntryKind.TRANSFER:
        available = _available(customer, now)
        if available is not None and money > available:
            raise ValidationFailed(
                f"amount: the balance has {available} available",
                field="amount",
                code="insufficient_funds",
            )
        move_customer_balance(customer_id=customer.pk, delta=money, now=now)
        if wallet.account_id is not None:
            move_account_balance(account_id=wallet.account_id, delta=money)
        tx = Transaction.objects.create(
            customer=customer,
            action=Action.TRANSFER,
            amount=money,
            balance_after=customer.balance + money,
            account_id=wallet.account_id,
            account_amount=money if wallet.account_id is not None else ZERO,
            visible_comment=f"top-up of wallet {wallet.name}"[:500],
            internal_comment=note,
            actor=user_row(actor),
            created_at=now,
        )
    after = wallet.balance + money
    expires = wallet.expires_at
    if expires is not None and extend_days:
        expires = max(expires, now) + dt.timedelta(days=extend_days)
    Wallet.objects.filter(pk=wallet.pk).update(
        balance=F("balance") + money_value(money), expires_at=expires
    )
    entry = WalletEntry.objects.create(
        wallet=wallet,
        kind=kind,
        amount=money,
        balance_after=after,
        transaction=tx,
        price=(paid if paid is not None else money) if kind == WalletEntryKind.CARD else None,
        actor=user_row(actor),
        comment=note,
        idempotency_key=idempotency_key or None,
        created_at=now,
    )
    record(
        actor=actor,
        now=now,
        operation="create",
        obj=entry,
        before={"balance": str(wallet.balance)},
        after={"balance": str(after), "source": str(source), "amount": str(money)},
        object_type="wallet_top_up",
        object_repr=f"{wallet.name}: +{money} ({source})",
    )
    return entry
