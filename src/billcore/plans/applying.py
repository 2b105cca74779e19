"""Volume discount plans consumed while a session is rated (issue 13; rating-and-tabs §2, §7).

Charging calls this module from its one charge path (single ``charge`` and the batch
``charge_many`` the importer uses) inside its transaction, after it has locked the customer
and account rows:

1. :meth:`PlanBook.load` reads, for the customers and accounts of the transaction, the plan
   assignments in force (account, the account's add-on and main products, customer), their
   rules, bands and destination prefixes, and locks the counters and wallets (stage 3 of
   ``billcore.locks``: after the customers and accounts, ascending id). ``None`` when no
   plan is assigned to any of them: the charge then costs one query more than without
   plans.
2. :meth:`PlanBook.apply` takes one rated session (its price terms, charged quantity, price
   set, called number) and returns what it takes (``core.discounts.apply_plans``): quotas
   (account -> add-on by precedence -> main product -> customer, each quota's volume
   earliest-expiring first), then wallets (same order), then the main balance at the price
   the discount of highest precedence leaves, with a customer-level discount on top.
   Nothing is written: the caller decides on the main balance's amount.
3. :meth:`PlanBook.commit` (the charge was allowed) moves the counters and wallets in
   memory; :meth:`PlanBook.write` writes them (one update per counter touched, the wallets'
   usage entries) and each xDR's parts (``XdrPart``) once the xDRs have ids.

Counters (``PlanCounter``) are created when first needed, one per rule, holder (the account,
or the customer for a plan assigned to the customer) and period of the rule's reset (a
quota's renewal period): daily, monthly (from the rule's renewal anchor date, else the
assignment's start), the customer's billing period, or one time. A quota's row of an
earlier period stays usable until ``rollovers`` periods after its own end; the rows of the
periods without usage are created with it, so their unused volume rolls over too. A
partial first period (the assignment starts inside a regular period) prorates a rule's
thresholds when the rule says so.

Choices where the sources are silent (documented in ``docs/discount-plans.md``): plans
apply to usage billcore rates (pre-rated usage carries no price terms: it is charged as
sent); a quota that is used up with "block" refuses at ``/authorize`` (``quota_exhausted``)
but usage reported anyway is charged as usual; a wallet pays the standard price of what it
covers; a discount counts only the units it priced.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Q

from billcore.core.discounts import (
    Band,
    DiscountRule,
    Measure,
    Outcome,
    Pot,
    SessionLine,
    apply_plans,
    prorate,
    proration_factor,
)
from billcore.core.periods import BillingPeriod, Period, next_period, period_containing
from billcore.core.rating import PriceTerms
from billcore.customers.models import Customer
from billcore.ledger.models import Wallet
from billcore.ledger.wallets import open_wallet_locked, return_locked, take_locked
from billcore.locks import for_update
from billcore.plans.counters import insert_parts, save_counters
from billcore.plans.models import (
    OnExhausted,
    PeakScope,
    PlanAssignment,
    PlanBand,
    PlanCounter,
    PlanRule,
    Reset,
    RuleKind,
    XdrPart,
)
from billcore.rating.models import AccountProduct, ProductKind

ZERO = Decimal(0)
ONE = Decimal(1)
UNLIMITED = Decimal(10) ** 12  # an unlimited quota's volume for the arithmetic


@dataclass(frozen=True, slots=True)
class _Rule:
    pk: int
    plan_id: int
    kind: str
    service: str
    group_id: int | None
    peak_scope: str
    measure: Measure
    reset: str
    volume: Decimal | None
    renewal_period: str
    renewal_anchor: dt.date | None
    rollovers: int
    on_exhausted: str
    speed_policy: str
    prorate: bool
    split: bool
    initial: Decimal
    expiry_days: int | None
    expiry_date: dt.date | None
    name: str
    bands: tuple[Band, ...] = ()

    @property
    def period_kind(self) -> str:
        return self.renewal_period if self.kind == RuleKind.QUOTA else self.reset


@dataclass(frozen=True, slots=True)
class _Assignment:
    pk: int
    plan_id: int
    product_id: int | None
    account_id: int | None
    customer_id: int | None
    valid_from: dt.datetime
    valid_to: dt.datetime | None

    def in_force(self, at: dt.datetime) -> bool:
        return self.valid_from <= at and (self.valid_to is None or at < self.valid_to)


@dataclass(frozen=True, slots=True)
class _Holder:
    """Where a rule was found for a session: its assignment and whose counters it uses."""

    assignment: _Assignment
    customer_id: int
    account_id: int | None  # None: the customer's own counters (a customer-level plan)
    customer_level: bool


@dataclass(slots=True)
class _Taken:
    kind: str  # "quota", "wallet", "discount"
    rule: _Rule
    counter: PlanCounter | None = None
    wallet_id: int | None = None
    amount: Decimal = ZERO


@dataclass(slots=True)
class Applied:
    """What plans do to one session: the main balance's ``amount``, the parts, what each
    counter and wallet takes (written only after :meth:`PlanBook.commit`)."""

    amount: Decimal
    outcome: Outcome
    takes: list[_Taken] = field(default_factory=list)
    parts: list[tuple[Any, ...]] = field(default_factory=list)  # XdrPart values but xdr
    policy: str = ""


@dataclass(frozen=True, slots=True)
class Session:
    """A rated session as the plans see it."""

    customer_id: int
    account_id: int
    service: str
    cld: str
    price_set: str
    started_at: dt.datetime
    terms: PriceTerms
    charged_quantity: int


def _peak_matches(scope: str, price_set: str) -> bool:
    if scope == PeakScope.ANY:
        return True
    if scope == PeakScope.PEAK:
        return price_set == "peak"
    return price_set.startswith("offpeak")


class PlanBook:
    """The plans of the customers and accounts of one charging transaction (see the module
    docstring). Build it with :meth:`load`."""

    def __init__(self) -> None:
        self._assignments: list[_Assignment] = []
        self._rules: dict[int, list[_Rule]] = {}  # plan id -> rules
        self._prefixes: dict[int, tuple[str, ...]] = {}  # destination group -> prefixes
        self._products: dict[int, list[tuple[int, bool, int]]] = {}  # account -> products
        self._customers: dict[int, tuple[str, int, dt.datetime]] = {}  # tz, period, created
        self._counters: dict[tuple[int, int, int | None, dt.datetime], PlanCounter] = {}
        self._wallets: dict[tuple[int, int, int | None], Wallet] = {}
        self._dirty: dict[int, PlanCounter] = {}
        self._created: list[PlanCounter] = []
        self._periods: dict[tuple[int, int, int | None], tuple[Period, Any]] = {}
        self._takes: list[tuple[int, Decimal]] = []
        self._parts: list[tuple[int, list[tuple[Any, ...]]]] = []
        self._now: dt.datetime | None = None
        # ``/authorize`` reads: missing counters are not created (it changes nothing).
        self.read_only = False

    # --- loading ------------------------------------------------------------------------

    @classmethod
    def load(cls, *, customer_ids: Iterable[int], account_ids: Iterable[int]) -> PlanBook | None:
        """The plans in force for these customers and accounts, or None when none has one.
        Inside the caller's transaction, after its customer and account locks."""
        cids, aids = sorted(set(customer_ids)), sorted(set(account_ids))
        if not aids:
            return None
        products = list(
            AccountProduct.objects.filter(account_id__in=aids).values_list(
                "account_id", "product_id", "is_main", "product__precedence", "product__kind"
            )
        )
        product_ids = sorted({p[1] for p in products})
        found = list(
            PlanAssignment.objects.filter(
                Q(account_id__in=aids) | Q(customer_id__in=cids) | Q(product_id__in=product_ids),
                plan__draft=False,
            ).values_list(
                "pk",
                "plan_id",
                "product_id",
                "account_id",
                "customer_id",
                "valid_from",
                "valid_to",
            )
        )
        if not found:
            return None
        book = cls()
        book._assignments = [_Assignment(*row) for row in found]
        for aid, pid, is_main, precedence, kind in products:
            book._products.setdefault(aid, []).append(
                (pid, bool(is_main) or kind == ProductKind.MAIN, int(precedence or 0))
            )
        plan_ids = sorted({a.plan_id for a in book._assignments})
        bands: dict[int, list[Band]] = {}
        for rule_id, threshold, percent in PlanBand.objects.filter(
            rule__plan_id__in=plan_ids
        ).values_list("rule_id", "threshold", "percent"):
            bands.setdefault(rule_id, []).append(Band(Decimal(threshold), Decimal(percent)))
        group_ids: set[int] = set()
        for r in PlanRule.objects.filter(plan_id__in=plan_ids).order_by("plan_id", "id"):
            rule = _Rule(
                pk=r.pk,
                plan_id=r.plan_id,
                kind=r.kind,
                service=r.service_id,
                group_id=r.destination_group_id,
                peak_scope=r.peak_scope,
                measure=Measure(r.measure),
                reset=r.reset,
                volume=None if r.volume is None else Decimal(r.volume),
                renewal_period=r.renewal_period,
                renewal_anchor=r.renewal_anchor_date,
                rollovers=r.rollovers,
                on_exhausted=r.on_exhausted,
                speed_policy=r.speed_policy,
                prorate=r.prorate_first_period,
                split=r.split_xdrs,
                initial=Decimal(r.initial_volume),
                expiry_days=r.expiry_days,
                expiry_date=r.expiry_date,
                name=f"{r.plan.name}: {r.service_id}",
                bands=tuple(sorted(bands.get(r.pk, []), key=lambda b: b.start)),
            )
            book._rules.setdefault(r.plan_id, []).append(rule)
            if rule.group_id is not None:
                group_ids.add(rule.group_id)
        if group_ids:
            from billcore.rating.models import DestinationGroup

            through = DestinationGroup.destinations.through
            grouped: dict[int, list[str]] = {}
            for gid, prefix in through.objects.filter(
                destinationgroup_id__in=sorted(group_ids)
            ).values_list("destinationgroup_id", "destination__prefix"):
                grouped.setdefault(gid, []).append(prefix)
            book._prefixes = {gid: tuple(p) for gid, p in grouped.items()}
        for pk, tz, period, created in Customer.objects.filter(pk__in=cids).values_list(
            "pk", "time_zone", "billing_period", "created_at"
        ):
            book._customers[pk] = (tz, period, created)
        rule_ids = sorted(r.pk for rules in book._rules.values() for r in rules)
        # billcore.locks stage 3: the counters, then the wallets, each by ascending id.
        for c in for_update(PlanCounter.objects.filter(rule_id__in=rule_ids, customer_id__in=cids)):
            book._counters[(c.rule_id, c.customer_id, c.account_id, c.period_start)] = c
        for w in for_update(Wallet.objects.filter(rule_id__in=rule_ids, customer_id__in=cids)):
            book._wallets[(w.rule_id, w.customer_id, w.account_id)] = w
        return book

    # --- which rules ------------------------------------------------------------------------

    def _holders(self, customer_id: int, account_id: int, at: dt.datetime) -> list[_Holder]:
        """Account, add-ons by precedence, main product, then the customer (§2.1)."""
        mine = [a for a in self._assignments if a.in_force(at)]
        out = [
            _Holder(a, customer_id, account_id, False) for a in mine if a.account_id == account_id
        ]
        products = self._products.get(account_id, [])
        addons = sorted((p for p in products if not p[1]), key=lambda p: -p[2])
        mains = [p for p in products if p[1]]
        for pid, _, _ in (*addons, *mains):
            out += [_Holder(a, customer_id, account_id, False) for a in mine if a.product_id == pid]
        out += [_Holder(a, customer_id, None, True) for a in mine if a.customer_id == customer_id]
        return out

    def _matches(self, rule: _Rule, s: Session) -> bool:
        if rule.service != s.service or not _peak_matches(rule.peak_scope, s.price_set):
            return False
        if rule.group_id is None:
            return True
        prefixes = self._prefixes.get(rule.group_id, ())
        return any(p == "|" or s.cld.startswith(p) for p in prefixes)

    def rules_for(self, s: Session) -> list[tuple[_Holder, _Rule]]:
        out = []
        for holder in self._holders(s.customer_id, s.account_id, s.started_at):
            for rule in self._rules.get(holder.assignment.plan_id, []):
                if self._matches(rule, s):
                    out.append((holder, rule))
        return out

    # --- counters -------------------------------------------------------------------------

    def _period(self, rule: _Rule, holder: _Holder, at: dt.datetime) -> tuple[Period | None, Any]:
        """The period of ``rule``'s counter containing ``at`` (None: one time) and what
        ``next_period`` needs (kind, anchor)."""
        kind = rule.period_kind
        if kind == Reset.ONE_TIME:
            return None, None
        cache_key = (rule.pk, holder.assignment.pk, holder.customer_id)
        cached = self._periods.get(cache_key)
        if cached is not None and cached[0].start <= at < cached[0].end:
            return cached
        tz, billing, created = self._customers[holder.customer_id]
        start = holder.assignment.valid_from
        if kind == Reset.DAILY:
            period, anchor = BillingPeriod.DAILY, min(created, start)
        elif kind == Reset.MONTHLY:
            period = BillingPeriod.MONTHLY_ANNIVERSARY
            anchor = start
            if rule.renewal_anchor is not None:
                anchor = min(
                    start,
                    dt.datetime.combine(rule.renewal_anchor, dt.time(), tzinfo=dt.UTC),
                )
        else:
            period, anchor = BillingPeriod(billing), min(created, start)
        found = period_containing(at=max(at, anchor), period=period, time_zone=tz, anchor=anchor)
        self._periods[cache_key] = (found, (period, anchor))
        return found, (period, anchor)

    def _scale(self, rule: _Rule, holder: _Holder, p: Period | None) -> Decimal:
        """The proration factor of the period the assignment starts inside (1 otherwise)."""
        start = holder.assignment.valid_from
        if not rule.prorate or p is None or not p.start < start < p.end:
            return ONE
        return proration_factor(period_start=p.start, period_end=p.end, active_from=start)

    def _counter(
        self,
        rule: _Rule,
        holder: _Holder,
        p: Period | None,
        now: dt.datetime,
        scale: Decimal,
    ) -> PlanCounter:
        start = p.start if p is not None else holder.assignment.valid_from
        key = (rule.pk, holder.customer_id, holder.account_id, start)
        found = self._counters.get(key)
        if found is not None:
            return found
        volume = rule.volume
        if volume is not None and scale != ONE:
            volume = prorate(volume, factor=scale, measure=rule.measure)
        c = PlanCounter(
            rule_id=rule.pk,
            customer_id=holder.customer_id,
            account_id=holder.account_id,
            period_start=start,
            period_end=p.end if p is not None else None,
            expires_at=None,
            volume=volume if rule.kind == RuleKind.QUOTA else None,
            used=ZERO,
            scale=scale,
            updated_at=now,
        )
        if not self.read_only:
            self._created.append(c)  # inserted by write()
        self._counters[key] = c
        return c

    def _quota_rows(
        self, rule: _Rule, holder: _Holder, at: dt.datetime, now: dt.datetime
    ) -> list[PlanCounter]:
        """The quota's rows usable at ``at``: this period's and the rolled-over ones,
        earliest-expiring first (rows of earlier periods without usage created too)."""
        p, how = self._period(rule, holder, at)
        if p is None:
            rows = [self._counter(rule, holder, None, now, ONE)]
        else:
            chain = [p]
            for _ in range(rule.rollovers):
                earlier = _period_before(chain[0], how, holder.assignment.valid_from)
                if earlier is None:
                    break
                chain.insert(0, earlier)
            rows = []
            for period in chain:
                row = self._counter(rule, holder, period, now, self._scale(rule, holder, period))
                if row.expires_at is None:
                    end = period
                    for _ in range(rule.rollovers):
                        end = next_period(end, period=how[0], anchor=how[1])
                    row.expires_at = end.end
                    self._dirty[id(row)] = row
                rows.append(row)
        usable = [
            r for r in rows if r.period_start <= at and (r.expires_at is None or at < r.expires_at)
        ]
        usable.sort(key=lambda r: (r.expires_at is None, r.expires_at or at, r.period_start))
        return usable

    def _wallet(self, rule: _Rule, holder: _Holder, now: dt.datetime) -> Wallet:
        key = (rule.pk, holder.customer_id, holder.account_id)
        found = self._wallets.get(key)
        if found is None:
            start = holder.assignment.valid_from
            expires = None
            if rule.expiry_date is not None:
                expires = dt.datetime.combine(rule.expiry_date, dt.time(), tzinfo=dt.UTC)
            elif rule.expiry_days is not None:
                expires = start + dt.timedelta(days=rule.expiry_days)
            found = open_wallet_locked(
                customer_id=holder.customer_id,
                account_id=holder.account_id,
                rule_id=rule.pk,
                name=rule.name,
                measure=rule.measure.value,
                initial=rule.initial,
                expires_at=expires,
                now=now,
            )
            self._wallets[key] = found
        return found

    # --- applying ---------------------------------------------------------------------------

    def apply(self, s: Session, *, now: dt.datetime) -> Applied | None:
        """What the plans do to session ``s`` (nothing written), or None (no rule)."""
        line = SessionLine(s.terms, s.charged_quantity)
        if line.end.money == 0 and s.charged_quantity == 0:
            return None
        found = self.rules_for(s)
        if not found:
            return None
        at = s.started_at
        pots: dict[int, _Taken] = {}
        quotas: list[Pot] = []
        wallets: list[Pot] = []
        discount: DiscountRule | None = None
        customer_discount: DiscountRule | None = None
        policy = ""
        for holder, rule in found:
            if rule.kind == RuleKind.QUOTA:
                rows = self._quota_rows(rule, holder, at, now)
                left = ZERO
                for row in rows:
                    free = UNLIMITED if row.volume is None else max(row.volume - row.used, ZERO)
                    left += free
                    pots[id(row)] = _Taken("quota", rule, counter=row)
                    quotas.append(Pot(id(row), "quota", rule.measure, free, rule.split))
                if left <= 0 and rule.on_exhausted == OnExhausted.LIMIT_SPEED:
                    policy = policy or rule.speed_policy
            elif rule.kind == RuleKind.WALLET:
                w = self._wallet(rule, holder, now)
                if w.expires_at is not None and w.expires_at <= at:
                    continue
                pots[id(w)] = _Taken("wallet", rule, wallet_id=w.pk)
                wallets.append(
                    Pot(id(w), "wallet", Measure(w.measure), Decimal(w.balance), rule.split)
                )
            elif rule.kind == RuleKind.DISCOUNT:
                if holder.customer_level and customer_discount is not None:
                    continue
                if not holder.customer_level and discount is not None:
                    continue
                p, _ = self._period(rule, holder, at)
                row = self._counter(rule, holder, p, now, self._scale(rule, holder, p))
                pots[id(row)] = _Taken("discount", rule, counter=row)
                bands = rule.bands
                if row.scale != ONE:
                    bands = tuple(
                        Band(prorate(b.start, factor=row.scale, measure=rule.measure), b.percent)
                        for b in bands
                    )
                made = DiscountRule(id(row), rule.measure, Decimal(row.used), bands, rule.split)
                if holder.customer_level:
                    customer_discount = made
                else:
                    discount = made
        outcome = apply_plans(
            line,
            quotas=quotas,
            wallets=wallets,
            discount=discount,
            customer_discount=customer_discount,
        )
        applied = Applied(amount=outcome.main_amount, outcome=outcome, policy=policy)
        for key, amount in (*outcome.taken.items(), *outcome.advanced.items()):
            taken = pots[key]  # type: ignore[index]
            applied.takes.append(
                _Taken(taken.kind, taken.rule, taken.counter, taken.wallet_id, amount)
            )
        main_rule = None
        for taken in pots.values():
            if taken.kind == "discount":
                main_rule = main_rule or taken
        for position, part in enumerate(outcome.parts):
            payer = part.payer if isinstance(part.payer, int) else -1
            source = pots.get(payer) if part.kind != "main" else main_rule
            amount = part.amount if outcome.split else money_exact(part.exact)
            if part.kind == "quota":
                amount = ZERO
            applied.parts.append(
                (
                    position,
                    part.kind,
                    outcome.split,
                    source.rule.pk if source is not None else None,
                    source.counter if source is not None else None,
                    source.wallet_id if source is not None else None,
                    money_exact(part.units),
                    money_exact(part.money),
                    money_exact(part.percent),
                    amount,
                )
            )
        for taken in applied.takes:
            if taken.kind != "discount" or taken.counter is None:
                continue
            units = taken.amount if taken.rule.measure is Measure.UNITS else ZERO
            applied.parts.append(
                (
                    1000 + len(applied.parts),
                    "count",
                    outcome.split,
                    taken.rule.pk,
                    taken.counter,
                    None,
                    units,
                    taken.amount - units,
                    ZERO,
                    ZERO,
                )
            )
        return applied

    def commit(self, applied: Applied, *, now: dt.datetime) -> None:
        """The charge was allowed: move the counters and wallets (in memory)."""
        self._now = now
        for t in applied.takes:
            if t.counter is not None:
                t.counter.used = Decimal(t.counter.used) + t.amount
                t.counter.updated_at = now
                self._dirty[id(t.counter)] = t.counter
            elif t.wallet_id is not None and t.amount > 0:
                w = next(w for w in self._wallets.values() if w.pk == t.wallet_id)
                w.balance = Decimal(w.balance) - t.amount
                self._takes.append((t.wallet_id, t.amount))

    def add_parts(self, xdr_key: int, applied: Applied) -> None:
        """Remember the parts of a committed session whose xDR is ``xdr_key`` (its id, or
        its index in the batch: :meth:`write` maps it)."""
        self._parts.append((xdr_key, applied.parts))

    def write(self, xdr_ids: Sequence[int] | None = None) -> None:
        """Write what was committed: counters, wallet entries, the xDRs' parts. ``xdr_ids``
        maps the keys given to :meth:`add_parts` when they are batch indexes."""
        now = self._now
        created = {id(c) for c in self._created}
        save_counters(self._created, [c for k, c in self._dirty.items() if k not in created])
        self._created = []
        self._dirty.clear()
        if self._takes and now is not None:
            take_locked(takes=self._takes, now=now, comment="usage")
            self._takes = []
        rows = []
        for key, parts in self._parts:
            xdr_id = xdr_ids[key] if xdr_ids is not None else key
            for position, kind, split, rule, counter, wallet, *figures in parts:
                counter_id = counter.pk if counter is not None else None
                rows.append((xdr_id, position, kind, split, rule, counter_id, wallet, *figures))
        insert_parts(rows)
        self._parts = []

    # --- authorize ----------------------------------------------------------------------------

    def free_for(self, s: Session, *, now: dt.datetime) -> tuple[Decimal, Decimal, str, bool]:
        """For ``/authorize``: the units the session's quotas still hold, the money of its
        money wallets, the speed policy of a used-up "limit the speed" quota, and whether a
        used-up "block" quota refuses the session."""
        self.read_only = True
        units = money = ZERO
        policy = ""
        blocked = False
        for holder, rule in self.rules_for(s):
            if rule.kind == RuleKind.QUOTA:
                rows = self._quota_rows(rule, holder, s.started_at, now)
                left = sum(
                    (UNLIMITED if r.volume is None else max(r.volume - r.used, ZERO) for r in rows),
                    ZERO,
                )
                if left <= 0:
                    if rule.on_exhausted == OnExhausted.BLOCK:
                        blocked = True
                    elif rule.on_exhausted == OnExhausted.LIMIT_SPEED:
                        policy = policy or rule.speed_policy
                elif rule.measure is Measure.UNITS:
                    units += left
            elif rule.kind == RuleKind.WALLET:
                key = (rule.pk, holder.customer_id, holder.account_id)
                w = self._wallets.get(key)
                balance = Decimal(w.balance) if w is not None else rule.initial
                if w is not None and w.expires_at is not None and w.expires_at <= s.started_at:
                    continue
                if rule.measure is Measure.MONEY:
                    money += balance
                else:
                    units += balance
        return units, money, policy, blocked


def money_exact(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.00001"))


def _period_before(p: Period, how: Any, valid_from: dt.datetime) -> Period | None:
    """The period right before ``p`` (None when ``p`` starts at the assignment)."""
    if p.start <= valid_from:
        return None
    kind, anchor = how
    before = p.start - dt.timedelta(microseconds=1)
    if before < anchor:
        return None
    return period_containing(at=before, period=kind, time_zone=p.time_zone, anchor=anchor)


def undo_parts(*, xdr_ids: Sequence[int], now: dt.datetime) -> int:
    """Re-rating (issue 13): give back what the plans took for these xDRs (quota volume and
    discount counts to their counters, money to their wallets) and forget their parts, so
    that the sessions can be applied again in start order. Inside the caller's transaction,
    after its customer and account locks (counters, then wallets, by id). The number of parts
    undone."""
    found = list(
        XdrPart.objects.filter(xdr_id__in=list(xdr_ids)).values_list(
            "pk", "kind", "counter_id", "wallet_id", "units", "money", "amount"
        )
    )
    if not found:
        return 0
    counter_ids = sorted({c for _, _, c, *_ in found if c is not None})
    counters = {
        c.pk: c
        for c in for_update(PlanCounter.objects.filter(pk__in=counter_ids).select_related("rule"))
    }
    back: dict[int, Decimal] = {}
    for _, kind, counter_id, wallet_id, units, money, amount in found:
        if kind in ("quota", "count") and counter_id in counters:
            c = counters[counter_id]
            by_units = c.rule.measure == Measure.UNITS
            c.used = max(Decimal(c.used) - Decimal(units if by_units else money), ZERO)
            c.updated_at = now
        elif kind == "wallet" and wallet_id is not None:
            back[wallet_id] = back.get(wallet_id, ZERO) + Decimal(amount)
    if counters:
        PlanCounter.objects.bulk_update(list(counters.values()), ["used", "updated_at"])
    for wallet_id in sorted(back):
        list(for_update(Wallet.objects.filter(pk=wallet_id)))
        return_locked(wallet_id=wallet_id, amount=back[wallet_id], now=now, comment="re-rating")
    XdrPart.objects.filter(pk__in=[row[0] for row in found]).delete()
    return len(found)
