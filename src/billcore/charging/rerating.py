"""Re-rating the open period (issue 12 §2): after a rate correction, price a customer's (or a
tariff's) usage of the open period again.

What is re-rated: the xDRs billcore priced itself (``base_quantity`` set; pre-rated usage is
the network's price and stays as sent) whose ledger row is not in a closed period — its
``period`` empty (the open period) or a period **awaiting approval** (it counts as open) —
and the records denied because they could not be priced (no product, no rate, a forbidden
destination) created since the customer's last closed period. Closed periods are never
touched.

What happens, per record, on the locked customer (and its reseller, both in ascending id
order, then the accounts by id: ``billcore.locks``):

* priced again to a different amount: the difference is posted as its own ledger row
  (``rerating``, linked to the usage row it corrects, in the same period as that row, on the
  same account) and the xDR carries the new amount and rating; the reseller's wholesale
  charge likewise (in the reseller's current period when its own row is already closed);
* now refused (the destination became forbidden, the rate was removed): the whole charge is
  reversed by one ``rerating`` row and the xDR becomes denied with the reason;
* denied for want of a price and now priced: charged as new usage would be, if the limits
  allow (the same decision as ``charging.services``), else its reason becomes the limit's.

Each customer is one transaction; the summary counts what changed and the money moved.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Max, Q

from billcore.accounts.access import Actor, require_user
from billcore.audit.services import record
from billcore.charging.models import Xdr, XdrStatus
from billcore.charging.services import (
    Rated,
    _Account,
    _Customer,
    apply_plans_locked,
    decide_rated,
    lock_account,
    lock_with_reseller,
    plan_book,
    post_rated_usage,
    rated_of,
)
from billcore.customers.models import Customer
from billcore.customers.selectors import get_customer
from billcore.errors import ValidationFailed
from billcore.ledger.models import Action, Transaction
from billcore.ledger.postings import post_locked
from billcore.plans.applying import undo_parts
from billcore.rating.pricing import REFUSALS, Pricer
from billcore.rating.selectors import get_tariff

ZERO = Decimal(0)
# Denials that a price may cure (the rating refusals), as opposed to limits and statuses.
PRICE_REFUSALS = frozenset(REFUSALS)
AWAITING = "awaiting_approval"


@dataclass
class RerateSummary:
    """What a re-rating did: records looked at, changed, newly charged, reversed, and the
    money moved per customer (signed, as the ledger: + the customer owes more)."""

    examined: int = 0
    changed: int = 0
    charged: int = 0
    reversed: int = 0
    unchanged: int = 0
    still_denied: int = 0
    moved: dict[int, Decimal] = field(default_factory=dict)

    def add(self, customer_id: int, amount: Decimal) -> None:
        if amount:
            self.moved[customer_id] = self.moved.get(customer_id, ZERO) + amount


def _open_since(customer_id: int) -> dt.datetime | None:
    """The end of the customer's last closed period: what is after it is open."""
    last: Any = (
        Customer.objects.filter(pk=customer_id)
        .annotate(closed=Max("closed_periods__end", filter=Q(closed_periods__status="closed")))
        .values_list("closed", flat=True)
        .first()
    )
    return last if isinstance(last, dt.datetime) else None


def _candidates(customer_id: int, tariff_id: int | None) -> list[Xdr]:
    """The xDRs of the customer that re-rating looks at (see the module docstring)."""
    since = _open_since(customer_id)
    recent = Q(created_at__gte=since) if since is not None else Q()
    # A charge of 0 (a call inside the grace period) has no ledger row: its xDR's own date
    # says whether it is in the open period.
    charged = Q(status=XdrStatus.CHARGED, base_quantity__isnull=False) & (
        Q(transaction__isnull=False, transaction__period__isnull=True)
        | Q(transaction__period__status=AWAITING)
        | (Q(transaction__isnull=True) & recent)
    )
    denied = Q(status=XdrStatus.DENIED, deny_reason__in=PRICE_REFUSALS, cld__isnull=False)
    denied &= recent
    rows = Xdr.objects.filter(customer_id=customer_id).filter(charged | denied)
    if tariff_id is not None:
        rows = rows.filter(Q(tariff_id=tariff_id) | Q(status=XdrStatus.DENIED))
    return list(
        rows.select_related("transaction__period", "reseller_transaction__period").order_by(
            "account_id", "id"
        )
    )


def _customers_of_tariff(tariff_id: int, visible: Iterable[int] | None) -> list[int]:
    """Customers with usage priced on the tariff, or whose accounts' products (or override
    pairs) use it, and denied usage that may now be priced."""
    ids = set(
        Xdr.objects.filter(tariff_id=tariff_id, status=XdrStatus.CHARGED).values_list(
            "customer_id", flat=True
        )
    )
    ids |= set(
        Xdr.objects.filter(
            status=XdrStatus.DENIED,
            deny_reason__in=PRICE_REFUSALS,
            account__products__product__entries__tariff_id=tariff_id,
        ).values_list("customer_id", flat=True)
    )
    ids |= set(
        Xdr.objects.filter(
            status=XdrStatus.DENIED,
            deny_reason__in=PRICE_REFUSALS,
            customer__override_tariffs__override_tariff_id=tariff_id,
        ).values_list("customer_id", flat=True)
    )
    if visible is not None:
        ids &= set(visible)
    return sorted(ids)


def rerate(
    *,
    actor: Actor,
    now: dt.datetime,
    customer_id: Any = None,
    tariff_id: Any = None,
) -> RerateSummary:
    """Re-rate the open period of one customer (``customer_id``) or of every customer whose
    usage a tariff prices (``tariff_id``); exactly one of them. A reseller's user re-rates
    its own customers and tariffs only."""
    user = require_user(actor)
    if (customer_id in (None, "")) == (tariff_id in (None, "")):
        raise ValidationFailed(
            "customer: give a customer or a tariff to re-rate (exactly one)", field="customer"
        )
    tid: int | None = None
    if customer_id not in (None, ""):
        customers = [get_customer(actor=actor, customer_id=customer_id).pk]
    else:
        tid = get_tariff(actor=actor, tariff_id=tariff_id).pk
        visible = None
        if user.reseller_id is not None:
            visible = Customer.objects.filter(reseller_id=user.reseller_id).values_list(
                "pk", flat=True
            )
        customers = _customers_of_tariff(tid, visible)
    summary = RerateSummary()
    pricer = Pricer(whole_tariffs=True)
    for cid in customers:
        with transaction.atomic():
            _rerate_customer(actor, now, cid, tid, pricer, summary)
    return summary


def _rerate_customer(
    actor: Actor,
    now: dt.datetime,
    cid: int,
    tariff_id: int | None,
    pricer: Pricer,
    summary: RerateSummary,
) -> None:
    rows = _candidates(cid, tariff_id)
    if not rows:
        return
    pricer.prefetch({x.account_id for x in rows if x.account_id is not None})
    priced: list[tuple[Xdr, Rated]] = []
    for xdr in rows:
        summary.examined += 1
        if xdr.account_id is None or not xdr.cld:
            summary.unchanged += 1
            continue
        pricing = pricer.price(
            account_id=xdr.account_id,
            service=xdr.service,
            cld=xdr.cld,
            quantity=xdr.quantity,
            unit=xdr.unit,
            started_at=xdr.started_at,
            access_code=xdr.access_code or "",
        )
        priced.append((xdr, rated_of(pricing)))
    resellers = {r.reseller_id for _, r in priced if r.reseller_id is not None}
    resellers |= {t.customer_id for x, _ in priced if (t := x.reseller_transaction) is not None}
    reseller_id = next(iter(resellers)) if resellers else None
    customer, _, reseller = lock_with_reseller(cid, None, reseller_id)
    balance_before = customer.balance
    before = (summary.changed, summary.charged, summary.reversed)
    awaiting = {c.pk: _awaiting(c.pk) for c in (customer, reseller) if c is not None}
    # billcore.locks: the accounts by id, then (plans) the counters and wallets.
    ids = sorted({x.account_id for x, _ in priced if x.account_id is not None})
    accounts = {aid: lock_account(aid) for aid in ids}
    # Issue 13: what the plans took is given back, then the sessions take it again in start
    # order (the counters replayed).
    book = None
    if priced:
        undo_parts(xdr_ids=[x.pk for x, _ in priced], now=now)
        with_terms = next((r for _, r in priced if r.terms is not None), None)
        book = plan_book(with_terms, [cid], ids) if with_terms is not None else None
    priced.sort(key=lambda pair: (pair[0].started_at, pair[0].pk))
    for xdr, rated in priced:
        account = accounts[xdr.account_id] if xdr.account_id is not None else None
        rated, applied = apply_plans_locked(book, cid, xdr.account_id, xdr, rated, now)
        if xdr.status == XdrStatus.CHARGED:
            _correct(actor, now, xdr, rated, customer, account, reseller, summary, awaiting)
        else:
            _charge_denied(actor, now, xdr, rated, customer, account, reseller, summary)
        if book is not None and applied is not None and xdr.status == XdrStatus.CHARGED:
            book.commit(applied, now=now)
            book.add_parts(xdr.pk, applied)
    if book is not None:
        book.write()
    after = (summary.changed, summary.charged, summary.reversed)
    if after != before:
        record(
            actor=actor,
            now=now,
            operation="update",
            obj=Customer.objects.get(pk=cid),
            object_type="customer usage",
            before={"balance": str(balance_before)},
            after={
                "balance": str(customer.balance),
                "rerated": after[0] - before[0],
                "charged": after[1] - before[1],
                "reversed": after[2] - before[2],
                "tariff": tariff_id,
            },
        )


Awaiting = list[tuple[int, dt.datetime, dt.datetime]]  # (period id, start, end)


def _awaiting(customer_id: int) -> Awaiting:
    """The customer's periods awaiting approval, read once per customer re-rated."""
    return list(
        Customer.objects.filter(pk=customer_id, closed_periods__status=AWAITING).values_list(
            "closed_periods__id", "closed_periods__start", "closed_periods__end"
        )
    )


def _period_of(row: Transaction | None, awaiting: Awaiting) -> int | None:
    """Where a correction of ``row`` goes: the period awaiting approval that ``row`` belongs
    to (stamped, or by its date: an awaiting period's rows are stamped when it is approved),
    else the open period (``None``); never a closed one. ``row``'s period comes with it
    (``select_related``), ``awaiting`` is its customer's."""
    if row is None:
        return None
    if row.period is not None:
        return row.period.pk if row.period.status == AWAITING else None
    return next((pk for pk, start, end in awaiting if start <= row.created_at < end), None)


def _post_difference(
    *,
    now: dt.datetime,
    customer: _Customer,
    account: _Account | None,
    amount: Decimal,
    corrects: Transaction | None,
    awaiting: Awaiting,
    comment: str,
) -> None:
    post_locked(
        customer_id=customer.pk,
        action=Action.RERATING,
        amount=amount,
        now=now,
        internal_comment=comment,
        period_id=_period_of(corrects, awaiting),
        reference_id=corrects.pk if corrects is not None else None,
        account_id=account.pk if account is not None else None,
        balance_before=customer.balance,
    )
    customer.balance += amount
    if account is not None:
        account.balance += amount


def _correct(
    actor: Actor,
    now: dt.datetime,
    xdr: Xdr,
    rated: Rated,
    customer: _Customer,
    account: _Account | None,
    reseller: _Customer | None,
    summary: RerateSummary,
    awaiting: dict[int, Awaiting],
) -> None:
    """A charged xDR priced again: post the differences (the customer's, the reseller's)."""
    old, old_reseller = xdr.amount, xdr.reseller_amount
    new = ZERO if rated.refusal else rated.amount
    new_reseller = None if rated.refusal else rated.reseller_amount
    columns = rated.columns
    same = (
        new == old
        and new_reseller == old_reseller
        and columns.rate_id == xdr.rate_id
        and columns.charged_quantity == xdr.charged_quantity
    )
    if same:
        summary.unchanged += 1
        return
    if new != old:
        _post_difference(
            now=now,
            customer=customer,
            account=account,
            amount=new - old,
            corrects=xdr.transaction,
            awaiting=awaiting[customer.pk],
            comment=f"re-rating of xDR {xdr.pk}: {old} → {new}",
        )
        summary.add(customer.pk, new - old)
    if (
        reseller is not None
        and xdr.reseller_transaction is not None
        and (new_reseller or ZERO) != (old_reseller or ZERO)
    ):
        delta = (new_reseller or ZERO) - (old_reseller or ZERO)
        _post_difference(
            now=now,
            customer=reseller,
            account=None,
            amount=delta,
            corrects=xdr.reseller_transaction,
            awaiting=awaiting[reseller.pk],
            comment=f"re-rating of xDR {xdr.pk} of customer {customer.pk}: wholesale",
        )
        summary.add(reseller.pk, delta)
    fields = _columns(xdr, rated)
    xdr.amount = new
    if rated.refusal:
        xdr.status, xdr.deny_reason = XdrStatus.DENIED, rated.refusal
        fields += ["status", "deny_reason"]
        summary.reversed += 1
    else:
        summary.changed += 1
    xdr.save(update_fields=[*fields, "amount"])


def _columns(xdr: Xdr, rated: Rated) -> list[str]:
    names = []
    for name, value in (
        ("tariff_id", rated.columns.tariff_id),
        ("rate_id", rated.columns.rate_id),
        ("rate_prefix", rated.columns.rate_prefix),
        ("price_set", rated.columns.price_set),
        ("base_quantity", rated.columns.base_quantity),
        ("charged_quantity", rated.columns.charged_quantity),
        ("reseller_amount", rated.columns.reseller_amount),
    ):
        setattr(xdr, name, value)
        names.append(name)
    return names


def _charge_denied(
    actor: Actor,
    now: dt.datetime,
    xdr: Xdr,
    rated: Rated,
    customer: _Customer,
    account: _Account | None,
    reseller: _Customer | None,
    summary: RerateSummary,
) -> None:
    """A record denied for want of a price: charge it if it has one now and the limits
    allow, as new usage would be charged; else keep it denied with the current reason."""
    charges_reseller = reseller is not None and rated.charges_reseller
    decision = decide_rated(customer, account, reseller if charges_reseller else None, rated, now)
    fields = _columns(xdr, rated)
    if not decision.allowed:
        summary.still_denied += 1
        if decision.reason != xdr.deny_reason:
            xdr.deny_reason = decision.reason
            xdr.amount = ZERO if rated.refusal else rated.amount
            xdr.save(update_fields=[*fields, "deny_reason", "amount"])
        return
    wholesale = reseller if charges_reseller else None
    tx_id, reseller_tx_id = post_rated_usage(
        actor=actor,
        now=now,
        customer=customer,
        account=account,
        reseller=wholesale,
        rated=rated,
        fraud_alert=decision.fraud_alert,
        comment=f"re-rating of xDR {xdr.pk}: priced now",
    )
    if wholesale is not None and rated.reseller_amount is not None:
        summary.add(wholesale.pk, rated.reseller_amount)
    summary.add(customer.pk, rated.amount)
    summary.charged += 1
    xdr.status, xdr.deny_reason, xdr.amount = XdrStatus.CHARGED, "", rated.amount
    xdr.transaction_id, xdr.reseller_transaction_id = tx_id, reseller_tx_id
    xdr.save(
        update_fields=[
            *fields,
            "status",
            "deny_reason",
            "amount",
            "transaction",
            "reseller_transaction",
        ]
    )
