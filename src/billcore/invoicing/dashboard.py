"""The dashboard's figures (issue 17 §2), already scoped to what the actor may see: an
administrator sees every customer, a reseller's user only its reseller's customers (DESIGN
rule 4). Money is always per currency: amounts of different currencies are never added.

The caller passes ``today`` and the installation's time zone ``zone`` (nothing here reads the
clock or the settings): a day is a day on that zone's wall clock.

* :func:`receivables`: what open invoices (issued, partly paid, overdue; never void) still
  owe, aged by their due date: current (not yet due), 1-30, 31-60, 61-90 and over 90 days
  past due.
* :func:`revenue_by_month`: invoiced totals per calendar month (void invoices excluded: a
  credit note cancelled them).
* :func:`usage_by_day`: charged xDRs per day and service: how many and their amount.
* :func:`customers_by_status`: how many customers show each status (in words).
* :func:`periods_awaiting`: how many periods wait for approval.
* :func:`balance_history`: one customer's balance at the end of each day.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Max, Q, QuerySet, Sum
from django.db.models.functions import TruncDate, TruncMonth

from billcore.accounts.access import Actor, is_admin, require_user
from billcore.charging.models import Xdr, XdrStatus
from billcore.customers.models import Customer, Status
from billcore.customers.selectors import get_customer, visible_customers
from billcore.db import MoneyField
from billcore.invoicing.models import Invoice, InvoiceStatus
from billcore.invoicing.selectors import periods_awaiting_approval
from billcore.ledger.models import Transaction

ZERO = Decimal("0.00000")
OPEN_STATUSES = (InvoiceStatus.ISSUED, InvoiceStatus.PARTLY_PAID, InvoiceStatus.OVERDUE)
# (key, words, first day past due, last day past due or None); "current": not yet due.
AGE_BUCKETS = (
    ("current", "Current", None, 0),
    ("d1_30", "1\N{EN DASH}30 days", 1, 30),
    ("d31_60", "31\N{EN DASH}60 days", 31, 60),
    ("d61_90", "61\N{EN DASH}90 days", 61, 90),
    ("d90", "Over 90 days", 91, None),
)


def _start(day: dt.date, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=zone)


def _customer_ids(actor: Actor) -> Any:
    """None for an administrator (everything), else the reseller's customers' ids (a
    subquery)."""
    require_user(actor)
    return None if is_admin(actor) else visible_customers(actor=actor).values("pk")


def _scope(qs: QuerySet[Any], actor: Actor, customer_id: int | None = None) -> QuerySet[Any]:
    if customer_id is not None:
        return qs.filter(customer_id=get_customer(actor=actor, customer_id=customer_id).pk)
    ids = _customer_ids(actor)
    return qs if ids is None else qs.filter(customer_id__in=ids)


# --------------------------------------------------------------------------- receivables


@dataclass
class Receivables:
    """What one currency's open invoices owe, in total and per age bucket."""

    currency: str
    decimals: int
    total: Decimal
    invoices: int
    buckets: dict[str, Decimal]  # key of AGE_BUCKETS → amount owed


def receivables(*, actor: Actor, today: dt.date, zone: zoneinfo.ZoneInfo) -> list[Receivables]:
    """Per currency (alphabetical), the amount open invoices still owe (total - paid), aged by
    the due date's day in ``zone`` against ``today``."""
    due = F("total") - F("amount_paid")
    annotations: dict[str, Any] = {
        "total_owed": Sum(due, output_field=MoneyField()),
        "n": Count("id"),
        "decimals": Max("decimals"),
    }
    for key, _, first, last in AGE_BUCKETS:
        # first..last days past due ⇔ due in [start(today - last), start(today - first + 1)).
        q = Q()
        if last is not None:
            q &= Q(due_at__gte=_start(today - dt.timedelta(days=last), zone))
        if first is not None:
            q &= Q(due_at__lt=_start(today - dt.timedelta(days=first - 1), zone))
        annotations[key] = Sum(due, filter=q, output_field=MoneyField())
    rows = (
        _scope(Invoice.objects.filter(status__in=OPEN_STATUSES), actor)
        .order_by()
        .values("currency")
        .annotate(**annotations)
        .order_by("currency")
    )
    return [
        Receivables(
            currency=r["currency"],
            decimals=r["decimals"],
            total=r["total_owed"] or ZERO,
            invoices=r["n"],
            buckets={key: r[key] or ZERO for key, *_ in AGE_BUCKETS},
        )
        for r in rows
    ]


# --------------------------------------------------------------------------- revenue


@dataclass
class MonthlyRevenue:
    """One currency's invoiced totals, one per month (oldest first, every month listed)."""

    currency: str
    decimals: int
    months: list[tuple[dt.date, Decimal]]

    @property
    def total(self) -> Decimal:
        return sum((v for _, v in self.months), ZERO)


def _months_back(today: dt.date, months: int) -> list[dt.date]:
    first = today.replace(day=1)
    out = []
    for back in range(months - 1, -1, -1):
        y, m = divmod(first.year * 12 + first.month - 1 - back, 12)
        out.append(dt.date(y, m + 1, 1))
    return out


def revenue_by_month(
    *, actor: Actor, today: dt.date, zone: zoneinfo.ZoneInfo, months: int = 12
) -> list[MonthlyRevenue]:
    """Per currency, the totals of the invoices issued in each of the last ``months`` calendar
    months (this one included, days in ``zone``); void invoices are not revenue."""
    calendar = _months_back(today, months)
    rows = (
        _scope(
            Invoice.objects.exclude(status=InvoiceStatus.VOID).filter(
                issued_at__gte=_start(calendar[0], zone)
            ),
            actor,
        )
        .annotate(month=TruncMonth("issued_at", tzinfo=zone))
        .order_by()
        .values("currency", "month")
        .annotate(s=Sum("total"), decimals=Max("decimals"))
    )
    sums: dict[str, dict[dt.date, Decimal]] = defaultdict(dict)
    decimals: dict[str, int] = {}
    for r in rows:
        month = r["month"]
        day = month.astimezone(zone).date() if isinstance(month, dt.datetime) else month
        sums[r["currency"]][day] = r["s"] or ZERO
        decimals[r["currency"]] = r["decimals"]
    return [
        MonthlyRevenue(
            currency=code,
            decimals=decimals[code],
            months=[(m, sums[code].get(m, ZERO)) for m in calendar],
        )
        for code in sorted(sums)
    ]


# --------------------------------------------------------------------------- usage


@dataclass
class ServiceUsage:
    service: str
    amounts: list[Decimal]  # one per day of UsageByDay.days
    counts: list[int]

    @property
    def amount(self) -> Decimal:
        return sum(self.amounts, ZERO)

    @property
    def count(self) -> int:
        return sum(self.counts)


@dataclass
class UsageByDay:
    """One currency's charged usage per service and day (every day of the window listed)."""

    currency: str
    decimals: int
    days: list[dt.date]
    services: list[ServiceUsage] = field(default_factory=list)


def usage_by_day(
    *,
    actor: Actor,
    today: dt.date,
    zone: zoneinfo.ZoneInfo,
    days: int = 30,
    customer_id: int | None = None,
) -> list[UsageByDay]:
    """Per currency, the charged xDRs of the last ``days`` days (today included, days in
    ``zone``) per service and day: their amount and how many. ``customer_id``: one
    customer's only (NotFound for a customer the actor cannot see)."""
    window = [today - dt.timedelta(days=back) for back in range(days - 1, -1, -1)]
    rows = (
        _scope(
            Xdr.objects.filter(
                status=XdrStatus.CHARGED,
                started_at__gte=_start(window[0], zone),
                started_at__lt=_start(today + dt.timedelta(days=1), zone),
            ),
            actor,
            customer_id,
        )
        .annotate(day=TruncDate("started_at", tzinfo=zone))
        .order_by()
        .values("customer__currency_id", "customer__currency__decimals", "service", "day")
        .annotate(amount=Sum("amount"), n=Count("id"))
    )
    index = {d: i for i, d in enumerate(window)}
    per: dict[str, dict[str, ServiceUsage]] = defaultdict(dict)
    decimals: dict[str, int] = {}
    for r in rows:
        code = r["customer__currency_id"]
        decimals[code] = r["customer__currency__decimals"]
        usage = per[code].setdefault(
            r["service"], ServiceUsage(r["service"], [ZERO] * days, [0] * days)
        )
        i = index[r["day"]]
        usage.amounts[i] += r["amount"] or ZERO
        usage.counts[i] += r["n"]
    return [
        UsageByDay(
            currency=code,
            decimals=decimals[code],
            days=window,
            services=[per[code][s] for s in sorted(per[code])],
        )
        for code in sorted(per)
    ]


# --------------------------------------------------------------------------- customers, periods


def status_words(status: str, blocked: bool) -> str:
    """A customer's status as the pages show it (permanently terminated over blocked over the
    status itself)."""
    if status == Status.CLOSED:
        return str(Status.CLOSED.label)
    if blocked:
        return "Blocked"
    return str(Status(status).label)


def customers_by_status(*, actor: Actor) -> list[tuple[str, str, int]]:
    """(status code or "blocked", words, how many) of the visible customers, in the order of
    the lifecycle; statuses without a customer left out."""
    rows = (
        visible_customers(actor=actor)
        .order_by()
        .values("status", "blocked")
        .annotate(n=Count("id"))
    )
    counts: dict[str, int] = defaultdict(int)
    for r in rows:
        blocked = r["blocked"] and r["status"] != Status.CLOSED
        counts["blocked" if blocked else r["status"]] += r["n"]
    order = [Status.OPEN, "blocked", Status.SUSPENDED, Status.PROVISIONALLY_TERMINATED]
    order += [Status.CLOSED, Status.EXPORTED]
    return [
        (str(code), status_words(str(code), code == "blocked"), counts[str(code)])
        for code in order
        if counts.get(str(code))
    ]


def periods_awaiting(*, actor: Actor) -> int:
    """How many ended periods wait for approval (CC-18) among the actor's customers."""
    return periods_awaiting_approval(actor=actor).count()


# --------------------------------------------------------------------------- one customer


def balance_history(
    *, actor: Actor, customer_id: int, today: dt.date, zone: zoneinfo.ZoneInfo, days: int = 90
) -> tuple[Customer, list[tuple[dt.date, Decimal]]]:
    """The customer's balance (what it owes, the ledger's sign) at the end of each of the last
    ``days`` days, today included: the ``balance_after`` of the day's last ledger row (the
    highest id: the ledger's own order of balance changes), else the day before's. Three
    queries whatever the number of rows."""
    customer = get_customer(actor=actor, customer_id=customer_id)
    window = [today - dt.timedelta(days=back) for back in range(days - 1, -1, -1)]
    start = _start(window[0], zone)
    rows = Transaction.objects.filter(customer_id=customer.pk)
    end = _start(today + dt.timedelta(days=1), zone)
    before = rows.filter(created_at__lt=start).order_by("-id").first()
    last_ids = (
        rows.filter(created_at__gte=start, created_at__lt=end)
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .order_by()
        .values("day")
        .annotate(last=Max("id"))
        .values_list("last", flat=True)
    )
    ends: dict[dt.date, Decimal] = {
        t.created_at.astimezone(zone).date(): t.balance_after or ZERO
        for t in Transaction.objects.filter(pk__in=list(last_ids)).only(
            "created_at", "balance_after"
        )
    }
    balance: Decimal = (before.balance_after or ZERO) if before is not None else ZERO
    history: list[tuple[dt.date, Decimal]] = []
    for day in window:
        balance = ends.get(day, balance)
        history.append((day, balance))
    return customer, history
