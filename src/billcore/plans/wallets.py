"""Service wallet top-ups as the plans allow them (issue 13, rating-and-tabs §2.4): the rule a
wallet comes from says which sources it accepts (credit, card, from the balance) and how
many days a top-up adds to its life; the money moves in the ledger
(``ledger.wallets.top_up_wallet``: a transfer from the balance, a card payment into the
wallet, a promotional credit). Pages, the API and the CLI call :func:`top_up_wallet`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from billcore.accounts.access import Actor
from billcore.errors import ValidationFailed
from billcore.ledger import wallets as ledger_wallets
from billcore.ledger.models import Wallet, WalletEntry
from billcore.plans.models import PlanRule
from billcore.validation import as_choice, as_int

_ALLOWED = {"credit": "topup_credit", "card": "topup_card", "balance": "topup_balance"}


def top_up_wallet(
    *,
    actor: Actor,
    now: dt.datetime,
    wallet_id: Any,
    amount: Any,
    source: Any,
    price: Any = None,
    comment: Any = "",
    idempotency_key: str | None = None,
) -> WalletEntry:
    """Top wallet ``wallet_id`` up by ``amount`` from ``source`` (``"balance"``, ``"card"``
    or ``"credit"``) when its rule allows that source; its life is extended by the rule's
    ``topup_extend_days``. Refusals name the field (``source``, ``amount``, ``wallet``);
    a reseller's user reaches only its own customers' wallets (404 otherwise)."""
    kind = as_choice("source", source, tuple(_ALLOWED))
    wid = as_int("wallet", wallet_id, minimum=1)
    rule_id = Wallet.objects.filter(pk=wid).values_list("rule_id", flat=True).first()
    rule = PlanRule.objects.filter(pk=rule_id).first() if rule_id is not None else None
    if rule is not None and not getattr(rule, _ALLOWED[kind]):
        raise ValidationFailed(
            f"source: the wallet's plan does not allow top-ups by {kind}",
            field="source",
            code="not_allowed",
        )
    return ledger_wallets.top_up_wallet(
        actor=actor,
        now=now,
        wallet_id=wid,
        amount=amount,
        source=kind,
        price=price,
        extend_days=rule.topup_extend_days if rule is not None else 0,
        comment=comment,
        idempotency_key=idempotency_key,
    )
