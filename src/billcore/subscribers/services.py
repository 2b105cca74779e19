"""Accounts (end users). Transfers between them (CC-21) move balances: ``ledger.transfers``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from billcore.accounts.access import Actor, is_admin, require_user
from billcore.audit.services import record, snapshot
from billcore.customers.selectors import get_customer
from billcore.errors import NotFound, ValidationFailed
from billcore.installation.services import custom_field_values
from billcore.locks import for_update
from billcore.subscribers.models import Account, AccountType
from billcore.validation import as_bool, as_choice, as_money, as_str, reject_unknown

ZERO = Decimal(0)


def visible_accounts(*, actor: Actor) -> Any:
    me = require_user(actor)
    qs = Account.objects.select_related("customer")
    return qs if is_admin(me) else qs.filter(customer__reseller_id=me.reseller_id)


def search_accounts(*, actor: Actor, q: str) -> Any:
    """The search box (issue 17): accounts whose identifier contains ``q``
    (case-insensitive), by identifier."""
    return (
        visible_accounts(actor=actor)
        .filter(identifier__icontains=q.strip())
        .order_by("identifier", "id")
    )


def get_account(*, actor: Actor, account_id: int) -> Account:
    try:
        account: Account = visible_accounts(actor=actor).get(pk=account_id)
    except (Account.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"account {account_id} not found", field="id") from None
    return account


@transaction.atomic
def create_account(
    *, actor: Actor, now: dt.datetime, customer_id: int, data: Mapping[str, Any]
) -> Account:
    reject_unknown(
        dict(data), ("identifier", "account_type", "blocked", "credit_limit", "extension")
    )
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
        extension=as_extension(data.get("extension")),
    )
    if account.account_type == AccountType.DEBIT and account.credit_limit is not None:
        raise ValidationFailed(
            "credit_limit applies only to credit accounts; a debit account spends its own funds",
            field="credit_limit",
            code="not_applicable",
        )
    _refuse_taken_extension(account)
    try:
        with transaction.atomic():
            account.save()
    except IntegrityError:
        _refuse_taken_extension(account)
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
    *, actor: Actor, now: dt.datetime, account_id: int, changes: Mapping[str, Any]
) -> Account:
    reject_unknown(dict(changes), ("blocked", "credit_limit", "custom_fields", "extension"))
    account = for_update(
        Account.objects.filter(pk=get_account(actor=actor, account_id=account_id).pk)
    ).get()
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
    if "extension" in changes:
        account.extension = as_extension(changes["extension"])
        _refuse_taken_extension(account)
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


MAX_EXTENSION_LENGTH = 8


def as_extension(value: Any) -> str | None:
    """An account's extension: 1 to 8 digits, or empty (None) for none."""
    text = as_str("extension", value, max_length=MAX_EXTENSION_LENGTH + 50)
    if not text:
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= MAX_EXTENSION_LENGTH):
        raise ValidationFailed(
            f"extension must be 1 to {MAX_EXTENSION_LENGTH} digits (got {text[:20]!r})",
            field="extension",
        )
    return text


def _refuse_taken_extension(account: Account) -> None:
    """Another account of the customer already has this extension: a 400 naming it."""
    if account.extension is None:
        return
    other = (
        Account.objects.filter(customer_id=account.customer_id, extension=account.extension)
        .exclude(pk=account.pk)
        .values_list("identifier", flat=True)
        .first()
    )
    if other is not None:
        raise ValidationFailed(
            f"extension {account.extension} is already the extension of account {other!r}",
            field="extension",
            code="duplicate",
        )


def _refuse_terminated(account: Account) -> None:
    if account.terminated_at is not None:
        raise ValidationFailed(
            f"account {account.identifier!r} is terminated; it cannot change any more",
            field="id",
            code="terminated",
        )


@transaction.atomic
def terminate_account(*, actor: Actor, now: dt.datetime, account_id: int) -> Account:
    """Close the account for good: it is blocked (no more charges) and refuses further
    changes; its row, balance and history stay. Terminating it twice is refused."""
    account = for_update(
        Account.objects.filter(pk=get_account(actor=actor, account_id=account_id).pk)
    ).get()
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
