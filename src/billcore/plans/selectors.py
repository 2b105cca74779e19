"""Reads of volume discount plans and their assignments, already scoped to what the actor
may see (the same rule as tariffs and products, CC-07): administrators see every plan; a
reseller's user only its reseller's own (another's is a 404). Assignments are seen through
their plan, product, account or customer."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch, Q, QuerySet

from billcore.accounts.access import Actor, is_admin, require_user
from billcore.customers.selectors import get_customer
from billcore.errors import NotFound
from billcore.ledger.models import Wallet, WalletEntry
from billcore.plans.models import (
    DiscountPlan,
    PlanAssignment,
    PlanBand,
    PlanCounter,
    PlanRule,
    RuleKind,
)
from billcore.rating import selectors as rating_selectors
from billcore.rating.models import AccountProduct
from billcore.subscribers.models import Account
from billcore.subscribers.services import get_account


def _get(qs: QuerySet[Any], pk: Any, what: str) -> Any:
    try:
        return qs.get(pk=int(pk))
    except (qs.model.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound(f"{what} {pk} not found", field="id") from None


def _rules() -> Prefetch[Any]:
    return Prefetch(
        "rules",
        queryset=PlanRule.objects.select_related("service", "destination_group").prefetch_related(
            Prefetch("bands", queryset=PlanBand.objects.order_by("threshold"))
        ),
    )


def visible_plans(*, actor: Actor) -> QuerySet[DiscountPlan]:
    me = require_user(actor)
    qs = DiscountPlan.objects.select_related("currency", "managed_by")
    if is_admin(me):
        return qs
    return qs.filter(managed_by_id=me.reseller_id)


def get_plan(*, actor: Actor, plan_id: Any) -> DiscountPlan:
    plan: DiscountPlan = _get(
        visible_plans(actor=actor).prefetch_related("destination_groups", _rules()),
        plan_id,
        "discount plan",
    )
    return plan


def list_plans(
    *,
    actor: Actor,
    search: str = "",
    currency: str | None = None,
    managed_by: int | None = None,
    draft: bool | None = None,
) -> QuerySet[DiscountPlan]:
    qs = visible_plans(actor=actor).prefetch_related("destination_groups", _rules())
    if search:
        qs = qs.filter(Q(name__icontains=search) | Q(description__icontains=search))
    if currency:
        qs = qs.filter(currency_id=currency)
    if managed_by is not None:
        qs = qs.filter(managed_by_id=managed_by)
    if draft is not None:
        qs = qs.filter(draft=draft)
    return qs.order_by("name", "id")


def get_rule(*, actor: Actor, plan_id: Any, rule_id: Any) -> PlanRule:
    plan = get_plan(actor=actor, plan_id=plan_id)
    rule: PlanRule = _get(
        PlanRule.objects.filter(plan=plan)
        .select_related("plan", "service", "destination_group")
        .prefetch_related(Prefetch("bands", queryset=PlanBand.objects.order_by("threshold"))),
        rule_id,
        "plan rule",
    )
    return rule


def _assignments() -> QuerySet[PlanAssignment]:
    return PlanAssignment.objects.select_related(
        "plan", "plan__currency", "product", "account", "customer"
    ).order_by("-valid_from", "-id")


def plan_assignments(*, actor: Actor, plan_id: Any) -> QuerySet[PlanAssignment]:
    """Where the plan is (or was) assigned: to a reseller's user only its own targets."""
    plan = get_plan(actor=actor, plan_id=plan_id)
    return _assignments().filter(plan=plan)


def product_assignments(*, actor: Actor, product_id: Any) -> QuerySet[PlanAssignment]:
    product = rating_selectors.get_product(actor=actor, product_id=product_id)
    return _assignments().filter(product=product)


def account_assignments(*, actor: Actor, account_id: Any) -> QuerySet[PlanAssignment]:
    account = get_account(actor=actor, account_id=account_id)
    return _assignments().filter(account=account)


def customer_assignments(*, actor: Actor, customer_id: Any) -> QuerySet[PlanAssignment]:
    customer = get_customer(actor=actor, customer_id=customer_id)
    return _assignments().filter(customer=customer)


def get_assignment(*, actor: Actor, assignment_id: Any) -> PlanAssignment:
    """An assignment the actor may see: its plan and its target both visible to it."""
    me = require_user(actor)
    qs = _assignments()
    if not is_admin(me):
        rid = me.reseller_id
        qs = qs.filter(plan__managed_by_id=rid).filter(
            Q(product__managed_by_id=rid)
            | Q(account__customer__reseller_id=rid)
            | Q(customer__reseller_id=rid)
        )
    assignment: PlanAssignment = _get(qs, assignment_id, "plan assignment")
    return assignment


# --------------------------------------------------------------------------------------------
# What applies to an account (the tabs): account → add-ons by precedence → main → customer


class Source:
    ACCOUNT = "account"
    ADDON = "addon"
    MAIN = "main"
    CUSTOMER = "customer"


@dataclass(frozen=True)
class AppliedPlan:
    """A plan in force for an account, where it comes from, in consumption order."""

    assignment: PlanAssignment
    source: str  # Source.*
    precedence: int  # an add-on product's precedence; 0 otherwise

    @property
    def plan(self) -> DiscountPlan:
        return self.assignment.plan


def _in_force(qs: QuerySet[PlanAssignment], at: dt.datetime) -> QuerySet[PlanAssignment]:
    return qs.filter(valid_from__lte=at).filter(Q(valid_to__isnull=True) | Q(valid_to__gt=at))


def plans_of_account(account: Account, *, at: dt.datetime) -> list[AppliedPlan]:
    """The plans in force for ``account`` at ``at``, in the order quotas and wallets are
    consumed (§2.1): the account's own, its add-on products' (highest precedence first), its
    main product's, its customer's. Not scoped: the caller has the account already."""
    rules = _rules()
    products = {
        ap.product_id: ap
        for ap in AccountProduct.objects.filter(account=account).select_related("product")
    }
    rows = list(
        _in_force(
            PlanAssignment.objects.filter(
                Q(account=account) | Q(product_id__in=products) | Q(customer=account.customer_id)
            ),
            at,
        )
        .select_related("plan", "plan__currency", "product")
        .prefetch_related(Prefetch("plan__rules", queryset=rules.queryset))
        .order_by("valid_from", "id")
    )
    applied = []
    for row in rows:
        if row.account_id is not None:
            applied.append(AppliedPlan(row, Source.ACCOUNT, 0))
        elif row.customer_id is not None:
            applied.append(AppliedPlan(row, Source.CUSTOMER, 0))
        else:
            ap = products[row.product_id]  # type: ignore[index]
            if ap.is_main:
                applied.append(AppliedPlan(row, Source.MAIN, 0))
            else:
                applied.append(AppliedPlan(row, Source.ADDON, ap.product.precedence))
    order = {Source.ACCOUNT: 0, Source.ADDON: 1, Source.MAIN: 2, Source.CUSTOMER: 3}
    applied.sort(key=lambda a: (order[a.source], -a.precedence, a.assignment.pk))
    return applied


def account_plans(*, actor: Actor, account_id: Any, at: dt.datetime) -> list[AppliedPlan]:
    account = get_account(actor=actor, account_id=account_id)
    return plans_of_account(account, at=at)


def customer_plans(*, actor: Actor, customer_id: Any, at: dt.datetime) -> list[AppliedPlan]:
    """The plans in force on the customer itself (the customer-level discounts, applied last,
    and its quotas and wallets, consumed last)."""
    customer = get_customer(actor=actor, customer_id=customer_id)
    rows = (
        _in_force(PlanAssignment.objects.filter(customer=customer), at)
        .select_related("plan", "plan__currency")
        .prefetch_related(Prefetch("plan__rules", queryset=_rules().queryset))
        .order_by("valid_from", "id")
    )
    return [AppliedPlan(row, Source.CUSTOMER, 0) for row in rows]


# --------------------------------------------------------------------------------------------
# Usage: counters and wallets (the tabs' usage bars, expiry and history)


@dataclass(frozen=True)
class RuleUsage:
    """One rule in force for a holder (an account, or the customer: ``account`` None) with
    what its counters say at ``at``: a quota's volume still free (current and rolled-over
    periods, earliest-expiring first), a discount's counter of the current period, a
    wallet's balance."""

    applied: AppliedPlan
    rule: PlanRule
    account: Account | None
    counters: list[PlanCounter]  # usable now, earliest-expiring first
    history: list[PlanCounter]  # every period, newest first
    wallet: Wallet | None
    entries: list[WalletEntry]  # the wallet's latest entries, newest first

    @property
    def used(self) -> Decimal:
        return sum((c.used for c in self.counters), Decimal("0.00000"))

    @property
    def volume(self) -> Decimal | None:
        """A quota's volume over its usable periods (None: unlimited)."""
        if self.rule.kind != RuleKind.QUOTA:
            return None
        if not self.counters:
            volume: Decimal | None = self.rule.volume
            return volume
        if any(c.volume is None for c in self.counters):
            return None
        return sum((c.volume for c in self.counters if c.volume is not None), Decimal(0))

    @property
    def left(self) -> Decimal | None:
        volume = self.volume
        return None if volume is None else max(volume - self.used, Decimal(0))

    @property
    def percent_used(self) -> int | None:
        volume = self.volume
        if volume is None or volume == 0:
            return None
        return min(100, int(self.used * 100 / volume))

    @property
    def expires_at(self) -> dt.datetime | None:
        """When the first of the volumes still free expires (a wallet: its expiry)."""
        if self.wallet is not None:
            return self.wallet.expires_at
        if self.rule.kind == RuleKind.WALLET:  # not opened yet: as it will open
            if self.rule.expiry_date is not None:
                return dt.datetime.combine(self.rule.expiry_date, dt.time(), tzinfo=dt.UTC)
            if self.rule.expiry_days is not None:
                start = self.applied.assignment.valid_from
                return start + dt.timedelta(days=self.rule.expiry_days)
            return None
        left = [c for c in self.counters if c.volume is None or c.used < c.volume]
        ends = [end for c in left if (end := c.expires_at or c.period_end) is not None]
        return min(ends) if ends else None

    @property
    def current_band(self) -> PlanBand | None:
        """A discount's band the counter is in now."""
        scale = self.counters[0].scale if self.counters else Decimal(1)
        found = None
        for band in self.rule.bands.all():
            if band.threshold * scale <= self.used:
                found = band
        return found


def _usage(
    applied: list[AppliedPlan], *, customer_id: int, account: Account | None, at: dt.datetime
) -> list[RuleUsage]:
    holders: list[tuple[AppliedPlan, PlanRule, Account | None]] = []
    for a in applied:
        holder = None if a.source == Source.CUSTOMER else account
        for rule in a.plan.rules.all():
            holders.append((a, rule, holder))
    if not holders:
        return []
    rule_ids = {rule.pk for _, rule, _ in holders}
    counters: dict[tuple[int, int | None], list[PlanCounter]] = {}
    for c in PlanCounter.objects.filter(rule_id__in=rule_ids, customer_id=customer_id).order_by(
        "-period_start", "-id"
    ):
        counters.setdefault((c.rule_id, c.account_id), []).append(c)
    wallets = {
        (w.rule_id, w.account_id): w
        for w in Wallet.objects.filter(rule_id__in=rule_ids, customer_id=customer_id)
    }
    entries: dict[int, list[WalletEntry]] = {}
    if wallets:
        for e in WalletEntry.objects.filter(
            wallet_id__in=[w.pk for w in wallets.values()]
        ).order_by("-id")[:200]:
            entries.setdefault(e.wallet_id, []).append(e)
    out = []
    for a, rule, holder in holders:
        key = (rule.pk, holder.pk if holder is not None else None)
        rows = counters.get(key, [])
        if rule.kind == RuleKind.QUOTA:
            usable = [
                c
                for c in rows
                if c.period_start <= at and (c.expires_at is None or at < c.expires_at)
            ]
            usable.sort(key=lambda c: (c.expires_at is None, c.expires_at or at, c.pk))
        else:
            usable = [
                c
                for c in rows
                if c.period_start <= at and (c.period_end is None or at < c.period_end)
            ][:1]
        wallet = wallets.get(key) if rule.kind == RuleKind.WALLET else None
        out.append(
            RuleUsage(
                applied=a,
                rule=rule,
                account=holder,
                counters=usable,
                history=rows[:12],
                wallet=wallet,
                entries=entries.get(wallet.pk, [])[:10] if wallet is not None else [],
            )
        )
    return out


def account_usage(*, actor: Actor, account_id: Any, at: dt.datetime) -> list[RuleUsage]:
    """Every rule in force for the account (its own plans, its products', its customer's),
    in consumption order, with its counters and wallet."""
    account = get_account(actor=actor, account_id=account_id)
    applied = plans_of_account(account, at=at)
    return _usage(applied, customer_id=account.customer_id, account=account, at=at)


def customer_usage(*, actor: Actor, customer_id: Any, at: dt.datetime) -> list[RuleUsage]:
    """The rules of the plans assigned to the customer itself, with the customer's own
    counters and wallets."""
    customer = get_customer(actor=actor, customer_id=customer_id)
    applied = customer_plans(actor=actor, customer_id=customer.pk, at=at)
    return _usage(applied, customer_id=customer.pk, account=None, at=at)
