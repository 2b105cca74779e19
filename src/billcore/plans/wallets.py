"""Top-ups of service wallets from the pages, the API and the CLI (issue 13, §2.4): which
wallets a holder has and which top-up sources their rule allows are the plans' rules; the
money moves in the ledger (``ledger.wallets.top_up_wallet``: a transfer from the balance, a
card payment into the wallet, or a promotional credit).

* An account's wallets are those of the plans assigned to it or to its products; a
  customer's, those of the plans assigned to the customer itself (§2.4: only wallets
  attached directly or via a product can be topped up on an account).
* A wallet that nothing has used yet is opened (with its rule's initial volume and expiry,
  as rating opens it) by its first top-up, in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from billcore.accounts.access import Actor
from billcore.customers.models import Customer
from billcore.customers.selectors import get_customer
from billcore.errors import ValidationFailed
from billcore.ledger.models import Wallet, WalletEntry
from billcore.ledger.wallets import open_wallet_locked, top_up_wallet
from billcore.locks import for_update
from billcore.plans.models import PlanAssignment, PlanRule, RuleKind
from billcore.plans.selectors import Source, customer_plans, plans_of_account
from billcore.subscribers.services import get_account
from billcore.validation import as_choice, as_int, reject_unknown

TOP_UP_FIELDS = ("amount", "source", "price", "comment", "idempotency_key")


def allowed_sources(rule: PlanRule) -> list[str]:
    """The top-up sources a wallet rule allows, in the order the pages offer them."""
    return [
        source
        for source, on in (
            ("balance", rule.topup_balance),
            ("card", rule.topup_card),
            ("credit", rule.topup_credit),
        )
        if on
    ]


def _expiry(rule: PlanRule, assignment: PlanAssignment) -> dt.datetime | None:
    if rule.expiry_date is not None:
        return dt.datetime.combine(rule.expiry_date, dt.time(), tzinfo=dt.UTC)
    if rule.expiry_days is not None:
        return assignment.valid_from + dt.timedelta(days=rule.expiry_days)
    return None


def _find(
    rules: list[tuple[PlanRule, PlanAssignment]], rule_id: Any
) -> tuple[PlanRule, PlanAssignment]:
    pk = as_int("rule", rule_id, minimum=1)
    for rule, assignment in rules:
        if rule.pk == pk and rule.kind == RuleKind.WALLET:
            return rule, assignment
    raise ValidationFailed(
        f"rule: no service wallet {pk} is in force here", field="rule", code="not_found"
    )


@transaction.atomic
def top_up(
    *,
    actor: Actor,
    now: dt.datetime,
    rule_id: Any,
    data: dict[str, Any],
    account_id: Any = None,
    customer_id: Any = None,
) -> WalletEntry:
    """Top up the wallet of ``rule_id`` held by the account (or, without one, by the
    customer) by ``data["amount"]`` from ``data["source"]`` (one its rule allows)."""
    reject_unknown(data, TOP_UP_FIELDS)
    if account_id is not None:
        account = get_account(actor=actor, account_id=account_id)
        customer_pk, holder = account.customer_id, account.pk
        applied = [a for a in plans_of_account(account, at=now) if a.source != Source.CUSTOMER]
    else:
        customer = get_customer(actor=actor, customer_id=customer_id)
        customer_pk, holder = customer.pk, None
        applied = customer_plans(actor=actor, customer_id=customer.pk, at=now)
    rules = [(rule, a.assignment) for a in applied for rule in a.plan.rules.all()]
    rule, assignment = _find(rules, rule_id)
    sources = allowed_sources(rule)
    if not sources:
        raise ValidationFailed(
            "source: this wallet's rule allows no top-up", field="source", code="not_allowed"
        )
    as_choice("source", data.get("source"), sources)
    # billcore.locks: the customer's row first (open_wallet_locked's contract).
    list(for_update(Customer.objects.filter(pk=customer_pk)))
    same = Wallet.objects.filter(rule_id=rule.pk, customer_id=customer_pk)
    wallet = (
        same.filter(account_id=holder).first()
        if holder is not None
        else same.filter(account__isnull=True).first()
    )
    if wallet is None:
        wallet = open_wallet_locked(
            customer_id=customer_pk,
            account_id=holder,
            rule_id=rule.pk,
            name=f"{rule.plan.name}: {rule.service_id}",
            measure=rule.measure,
            initial=rule.initial_volume,
            expires_at=_expiry(rule, assignment),
            now=now,
        )
    return top_up_wallet(
        actor=actor,
        now=now,
        wallet_id=wallet.pk,
        amount=data.get("amount"),
        source=data.get("source"),
        price=data.get("price"),
        extend_days=rule.topup_extend_days,
        comment=data.get("comment") or "",
        idempotency_key=data.get("idempotency_key") or None,
    )
