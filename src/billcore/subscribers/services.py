"""Accounts (end users) and subscriber-to-subscriber transfers (CC-21)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from billcore.accounts.access import is_admin, require_user
from billcore.audit.services import record, snapshot
from billcore.customers.models import Customer
from billcore.customers.selectors import get_customer
from billcore.db import money_value
from billcore.errors import Conflict, NotFound, ValidationFailed
from billcore.installation.services import custom_field_values
from billcore.ledger.models import Action, Transaction
from billcore.subscribers.models import Account, AccountType
from billcore.validation import as_bool, as_choice, as_money, as_str, reject_unknown

ZERO = Decimal(0)


def visible_accounts(*, actor: Any) -> Any:
    require_user(actor)
    qs = Account.objects.select_related("customer")
    return qs if is_admin(actor) else qs.filter(customer__reseller_id=actor.reseller_id)


def get_account(*, actor: Any, account_id: int) -> Account:
    try:
        account: Account = visible_accounts(actor=actor).get(pk=account_id)
    except (Account.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"account {account_id} not found", field="id") from None
    return account


@transaction.atomic
def create_account(
    *, actor: Any, now: dt.datetime, customer_id: int, data: Mapping[str, Any]
) -> Account:
    reject_unknown(dict(data), ("identifier", "account_type", "blocked", "credit_limit"))
    customer = get_customer(actor=actor, customer_id=customer_id)
    account = Account(
        customer=customer,
        created_at=now,
        updated_at=now,
        identifier=as_str("identifier", data.get("identifier"), max_length=100, required=True),
        account_type=as_choice(
            "account_type", data.get("account_type") or AccountType.CREDIT, AccountType.values
        ),
        blocked=as_bool("blocked", data.get("blocked", False)),
        credit_limit=as_money("credit_limit", data.get("credit_limit"), minimum=ZERO),
    )
    if account.account_type == AccountType.DEBIT and account.credit_limit is not None:
        raise ValidationFailed(
            "credit_limit applies only to credit accounts; a debit account spends its own funds",
            field="credit_limit",
            code="not_applicable",
        )
    try:
        with transaction.atomic():
            account.save()
    except IntegrityError:
        raise ValidationFailed(
            f"identifier: an account {account.identifier!r} already exists",
            field="identifier",
            code="duplicate",
        ) from None
    record(
        actor=actor, now=now, operation="create", obj=account, before=None, after=snapshot(account)
    )
    return account


@transaction.atomic
def update_account(
    *, actor: Any, now: dt.datetime, account_id: int, changes: Mapping[str, Any]
) -> Account:
    reject_unknown(dict(changes), ("blocked", "credit_limit", "custom_fields"))
    account = Account.objects.select_for_update().get(
        pk=get_account(actor=actor, account_id=account_id).pk
    )
    _refuse_terminated(account)
    before = snapshot(account)
    if "custom_fields" in changes:
        account.custom_fields = custom_field_values(account.custom_fields, changes["custom_fields"])
    if "blocked" in changes:
        account.blocked = as_bool("blocked", changes["blocked"])
    if "credit_limit" in changes:
        limit = as_money("credit_limit", changes["credit_limit"], minimum=ZERO)
        if account.account_type == AccountType.DEBIT and limit is not None:
            raise ValidationFailed(
                "credit_limit applies only to credit accounts",
                field="credit_limit",
                code="not_applicable",
            )
        account.credit_limit = limit
    account.updated_at = now
    account.save()
    record(
        actor=actor,
        now=now,
        operation="update",
        obj=account,
        before=before,
        after=snapshot(account),
    )
    return account


def _refuse_terminated(account: Account) -> None:
    if account.terminated_at is not None:
        raise ValidationFailed(
            f"account {account.identifier!r} is terminated; it cannot change any more",
            field="id",
            code="terminated",
        )


@transaction.atomic
def terminate_account(*, actor: Any, now: dt.datetime, account_id: int) -> Account:
    """Close the account for good: it is blocked (no more charges) and refuses further
    changes; its row, balance and history stay. Terminating it twice is refused."""
    account = Account.objects.select_for_update().get(
        pk=get_account(actor=actor, account_id=account_id).pk
    )
    _refuse_terminated(account)
    before = snapshot(account)
    account.blocked = True
    account.terminated_at = now
    account.updated_at = now
    account.save()
    record(
        actor=actor,
        now=now,
        operation="update",
        obj=account,
        before=before,
        after=snapshot(account),
    )
    return account


def _can_transfer(account: Account) -> bool:
    return account.account_type == AccountType.DEBIT or account.credit_limit is not None


@transaction.atomic
def transfer(
    *,
    actor: Any,
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
    customer = (
        Customer.objects.select_for_update(of=("self",))
        .select_related("customer_class")
        .get(pk=source.customer_id)
    )
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
    locked = {
        a.pk: a
        for a in Account.objects.select_for_update()
        .filter(pk__in=sorted([source.pk, target.pk]))
        .order_by("pk")
    }
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
        Account.objects.filter(pk=acc.pk).update(balance=F("balance") + money_value(delta))
        rows.append(
            Transaction.objects.create(
                customer=customer,
                action=Action.TRANSFER,
                amount=ZERO,
                balance_after=customer.balance,
                account=acc,
                account_amount=delta,
                visible_comment=note,
                actor=actor if getattr(actor, "pk", None) else None,
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
