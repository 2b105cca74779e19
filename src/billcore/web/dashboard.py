"""The dashboard (``/``, issue 17 §2) and the customer page's charts.

The figures come from ``billcore.invoicing.dashboard`` (scoped to the actor, money per
currency); this module only turns them into server-side SVG charts (``charts``) and tables.
Days are days in the installation's time zone (``settings.TIME_ZONE``); the engine's last run
is shown to administrators only (the engine page is theirs).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from billcore.accounts.access import is_admin
from billcore.charging.models import Service
from billcore.core.money import format_money
from billcore.customers.models import Customer
from billcore.customers.selectors import own_reseller
from billcore.engine.models import EngineRun
from billcore.engine.status import list_runs
from billcore.invoicing import dashboard as figures
from billcore.web import base
from billcore.web.base import page
from billcore.web.charts import Series, bar_chart, line_chart
from billcore.web.customer_page import customer_tab
from billcore.web.views_engine import FIGURES
from billcore.web.views_reseller import own_account_summary

BALANCE_DAYS = 90
USAGE_DAYS = 30


def installation_zone() -> zoneinfo.ZoneInfo:
    """The installation's time zone (UTC when its name is not one)."""
    try:
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def run_summary(run: EngineRun) -> str:
    """A run's main figures in words, as the engine page says them."""
    report = run.report or {}
    keys = ("periods_closed", "invoices", "fees_charged", "pdfs", "emails_sent")
    return ", ".join(f"{report[k]} {FIGURES[k]}" for k in keys if report.get(k)) or "nothing due"


def service_words(code: str) -> str:
    try:
        return str(Service(code).label)
    except ValueError:
        return code


def _day_label(day: dt.date) -> str:
    return day.strftime("%d %b")


def usage_charts(
    usage: list[figures.UsageByDay], *, prefix: str, what: str
) -> list[dict[str, Any]]:
    """One line chart per currency (a line per service: the amount charged each day) and the
    totals per service (how many xDRs, their amount)."""
    out = []
    for u in usage:
        chart = line_chart(
            chart_id=f"{prefix}-{u.currency.lower()}",
            title=f"{what} per service per day, {u.currency}",
            labels=[_day_label(d) for d in u.days],
            series=[Series(service_words(s.service), s.amounts) for s in u.services],
            unit=u.currency,
        )
        rows = [
            {
                "service": service_words(s.service),
                "series": i % 6,
                "count": s.count,
                "amount": format_money(s.amount, u.decimals),
            }
            for i, s in enumerate(u.services)
        ]
        out.append(
            {
                "currency": u.currency,
                "chart": chart,
                "rows": rows,
                "table_id": f"{prefix}-table-{u.currency.lower()}",
            }
        )
    return out


@page
def dashboard(request: HttpRequest) -> HttpResponse:
    actor = request.user
    zone = installation_zone()
    today = base.now().astimezone(zone).date()
    receivables = [
        {
            "r": r,
            "total": format_money(r.total, r.decimals),
            "buckets": [
                (key, words, format_money(r.buckets[key], r.decimals))
                for key, words, *_ in figures.AGE_BUCKETS
            ],
            "chart": bar_chart(
                chart_id=f"receivables-{r.currency.lower()}",
                title=f"Receivables by age, {r.currency}",
                bars=[(words, r.buckets[key]) for key, words, *_ in figures.AGE_BUCKETS],
                unit=r.currency,
                height=170,
            ),
        }
        for r in figures.receivables(actor=actor, today=today, zone=zone)
    ]
    revenue = [
        {
            "currency": m.currency,
            "total": format_money(m.total, m.decimals),
            "chart": bar_chart(
                chart_id=f"revenue-{m.currency.lower()}",
                title=f"Invoiced per month, {m.currency}",
                bars=[(d.strftime("%b %y"), v) for d, v in m.months],
                unit=m.currency,
                height=190,
            ),
        }
        for m in figures.revenue_by_month(actor=actor, today=today, zone=zone)
    ]
    usage = usage_charts(
        figures.usage_by_day(actor=actor, today=today, zone=zone, days=USAGE_DAYS),
        prefix="usage",
        what="Usage charged",
    )
    statuses = figures.customers_by_status(actor=actor)
    status_chart = bar_chart(
        chart_id="customers-by-status",
        title="Customers by status",
        bars=[(words, Decimal(n)) for _, words, n in statuses],
        unit="customers",
        height=200,
    )
    admin = is_admin(actor)
    last_run = list_runs(actor=actor).first() if admin else None
    context = {
        "nav_section": "dashboard",
        "today": today,
        "zone": zone.key,
        "receivables": receivables,
        "revenue": revenue,
        "usage": usage,
        "usage_days": USAGE_DAYS,
        "statuses": statuses,
        "status_chart": status_chart,
        "customer_count": sum(n for *_, n in statuses),
        "periods_awaiting": figures.periods_awaiting(actor=actor),
        "show_engine": admin,
        "last_run": last_run,
        "last_run_summary": run_summary(last_run) if last_run else "",
        # A reseller's user (issue 16 §2): its own account with the operator, on its home.
        "own": None if admin else own_account_summary(own_reseller(actor=actor)),
    }
    return render(request, "web/dashboard/dashboard.html", context)


# --------------------------------------------------------------------------- customer page


@customer_tab
def customer_charts(request: HttpRequest, customer: Customer) -> dict[str, Any]:
    """The Balance & Credits tab's charts: the balance (or, prepaid, the available funds) at
    the end of each of the last 90 days, and the usage per service per day of the last 30."""
    zone = installation_zone()
    today = base.now().astimezone(zone).date()
    _, history = figures.balance_history(
        actor=request.user, customer_id=customer.pk, today=today, zone=zone, days=BALANCE_DAYS
    )
    prepaid = customer.is_prepaid
    # A prepaid customer's page shows available funds: the ledger's balance, negated.
    values = [-v if prepaid else v for _, v in history]
    what = "Available funds" if prepaid else "Balance"
    balance_chart = line_chart(
        chart_id="balance-history",
        title=f"{what} at the end of each day, last {BALANCE_DAYS} days, {customer.currency_id}",
        labels=[_day_label(d) for d, _ in history],
        series=[Series(what, values)],
        unit=customer.currency_id,
    )
    usage = usage_charts(
        figures.usage_by_day(
            actor=request.user,
            today=today,
            zone=zone,
            days=USAGE_DAYS,
            customer_id=customer.pk,
        ),
        prefix="customer-usage",
        what="Usage",
    )
    return {
        "chart_balance": balance_chart,
        "chart_balance_what": what,
        "chart_balance_days": BALANCE_DAYS,
        "chart_usage": usage,
        "chart_usage_days": USAGE_DAYS,
    }
