"""Issue 17 §2 in Debian's Chromium (Playwright, never a downloaded browser): the dashboard's
and the customer page's charts draw with the real numbers. Each bar and point carries the
exact figure the selector computes from the database (``data-value``), is drawn (a bar's height
in the browser is proportional to its value), and the page loads nothing from the network and
raises no Content-Security-Policy violation; at 390 px the page does not overflow."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal as D
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from tests.e2e.test_csp_browser import WATCH
from tests.integration.test_dashboard import _invoice, _xdr

PASSWORD = "operator-pass-1234"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def data(live_server: Any) -> dict[str, Any]:
    """An administrator, a customer with invoices, usage and ledger rows dated from today, and
    the figures the selectors compute for them (the test body may not use the ORM)."""
    from billcore.accounts.models import User
    from billcore.classes.services import create_class
    from billcore.invoicing import dashboard
    from billcore.ledger.customers import create_customer
    from billcore.ledger.postings import post_locked

    operator = User.objects.create_user(username="operator", password=PASSWORD)
    now = timezone.now()
    cls = create_class(actor=operator, now=now, data={"name": "Dollar", "currency": "USD"})
    c = create_customer(
        actor=operator,
        now=now - dt.timedelta(days=100),
        data={
            "name": "Chart Co",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": cls.pk,
        },
    )
    days = dt.timedelta(days=1)
    _invoice(c, "120", status="issued", issued=now - 3 * days, due=now + 7 * days)
    _invoice(c, "80", paid="20", status="overdue", issued=now - 50 * days, due=now - 40 * days)
    _invoice(c, "33.3", status="overdue", issued=now - 120 * days, due=now - 100 * days)
    for amount, back in (("10", 60), ("25.5", 2), ("-5", 0)):
        with transaction.atomic():
            post_locked(
                customer_id=c.pk, action="manual_charge", amount=D(amount), now=now - back * days
            )
    _xdr(c, "voice", "1.75", now - 1 * days)
    _xdr(c, "data", "0.6", now)
    zone = zoneinfo.ZoneInfo("UTC")
    today = now.astimezone(zone).date()
    [owed] = dashboard.receivables(actor=operator, today=today, zone=zone)
    [revenue] = dashboard.revenue_by_month(actor=operator, today=today, zone=zone)
    _, history = dashboard.balance_history(actor=operator, customer_id=c.pk, today=today, zone=zone)
    return {
        "customer": c.pk,
        "receivables": [str(owed.buckets[k]) for k, *_ in dashboard.AGE_BUCKETS],
        "revenue": [str(v) for _, v in revenue.months],
        "balance": [str(v) for _, v in history],
    }


def _sign_in(page: Any, base: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    # No seller details yet: an administrator lands on Settings to fill them in (issue 17 §6).
    page.wait_for_url(f"{base}/settings/#seller")
    page.goto(f"{base}/")


def _bars(page: Any, chart: str) -> list[dict[str, Any]]:
    return page.eval_on_selector_all(
        f"#{chart} rect.chart-bar",
        "els => els.map(e => ({value: e.dataset.value, height: e.getBoundingClientRect().height}))",
    )


def test_the_charts_draw_the_real_numbers(live_server: Any, browser: Any, data: Any) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.add_init_script(WATCH)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    base = live_server.url
    _sign_in(page, base)

    # Receivables by age: 120 current, 60 (80 - 20) 31-60 days, 33.30 over 90 days.
    bars = _bars(page, "receivables-usd")
    assert [b["value"] for b in bars] == data["receivables"]
    assert [D(v) for v in data["receivables"]] == [D(120), D(0), D(60), D(0), D("33.3")]
    heights = [b["height"] for b in bars]
    assert heights[1] == heights[3] == 0 and heights[0] > heights[2] > heights[4] > 0
    # Heights in proportion to the values (to the pixel rounding of the layout).
    assert abs(heights[2] / heights[0] - 0.5) < 0.01
    assert page.inner_text("#receivables-table tbody") == (
        "USD\t120.00\t0.00\t60.00\t0.00\t33.30\t213.30"
    )
    # Invoiced per month: the twelve months' totals, drawn.
    bars = _bars(page, "revenue-usd")
    assert [b["value"] for b in bars] == data["revenue"]
    assert sum(b["height"] > 0 for b in bars) == sum(D(v) > 0 for v in data["revenue"])
    # Usage: a line per service, a point per day.
    assert page.eval_on_selector_all(
        "#usage-usd g.chart-series", "gs => gs.map(g => g.dataset.series)"
    ) == ["Data", "Voice"]
    assert page.locator("#usage-usd circle").count() == 60
    assert page.is_visible("#usage-usd polyline")
    assert page.get_attribute("#customers-by-status rect", "data-value") == "1"
    assert page.evaluate("window.__csp") == []

    # The customer page: the balance at the end of each of the last 90 days.
    page.goto(f"{base}/customers/{data['customer']}/")
    page.click("#tab-balance")
    points = page.eval_on_selector_all(
        "#balance-history circle", "els => els.map(e => e.dataset.value)"
    )
    assert points == data["balance"]
    assert [D(v) for v in points[-4:]] == [D(10), D("35.5"), D("35.5"), D("30.5")]
    assert page.is_visible("#balance-history polyline")
    assert page.locator("#customer-usage-usd circle").count() == 60
    assert page.evaluate("window.__csp") == []

    # 390 px: the dashboard fits (the charts shrink with their box).
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"{base}/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.is_visible("#receivables-usd")

    assert all(url.startswith(base) for url in requests), requests
    assert errors == []
