"""Bulk actions, a CSV export and the narrow screen in a real browser (issue 17, items 4 and
10): Playwright driving Debian's Chromium against the live server. Ticks customers, blocks
them through the confirmation step; downloads the filtered list as CSV; at 390 px nothing
overflows the page (customer list, customer page, invoice list) and the customer page's tabs
are a menu that opens; at 1280 px every header link is visible and clickable. Screenshots go
to /tmp."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_browser import PASSWORD, browser

__all__ = ["browser"]

SHOTS = Path("/tmp")
T0 = dt.datetime(2026, 1, 10, 9, 0, tzinfo=dt.UTC)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def data(live_server: Any) -> Any:
    """An operator, a class and four customers; the first one's id."""
    from billcore.accounts.models import User
    from billcore.classes.services import create_class
    from billcore.ledger.customers import create_customer

    operator = User.objects.create_user(
        username="operator", password=PASSWORD, is_staff=True, is_superuser=True
    )
    cls = create_class(actor=operator, now=T0, data={"name": "Retail", "currency": "USD"})
    ids = []
    for name in ("Alpha Networks International Holdings", "Beta Telecom", "Gamma", "Delta"):
        c = create_customer(
            actor=operator,
            now=T0,
            data={
                "name": name,
                "currency": "USD",
                "balance_control": "postpaid",
                "customer_class": cls.pk,
                "email": f"{name.split()[0].lower()}@example.com",
            },
        )
        ids.append(c.pk)
    return ids


def _sign_in(page: Any, base: str) -> None:
    page.goto(f"{base}/customers/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/customers/")


def test_bulk_block_export_and_narrow_screen(live_server: Any, browser: Any, data: Any) -> None:
    base = live_server.url
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _sign_in(page, base)

    # Select all on this page, then untick one: the header box unticks itself.
    page.check("#select-all")
    assert page.locator("[data-select-row]:checked").count() == 4
    page.locator("[data-select-row]").nth(3).uncheck()
    assert not page.is_checked("#select-all")
    page.select_option("#bulk-action", "block")
    page.screenshot(path=str(SHOTS / "bulk-list-1400.png"), full_page=True)
    page.click("#bulk-apply")
    assert "Block: 3 customers?" in page.inner_text("#confirm-question")
    page.click("#confirm-yes")
    assert page.inner_text("#bulk-summary") == "3 of 3 customers blocked."
    page.screenshot(path=str(SHOTS / "bulk-result-1400.png"), full_page=True)
    page.click("#bulk-back")
    assert page.locator("#customer-table .badge-danger").count() == 3

    # The export of the filtered list.
    page.goto(f"{base}/customers/?q=beta")
    with page.expect_download() as info:
        page.click(".export-link")
    download = info.value
    assert download.suggested_filename == "customers.csv"
    text = Path(download.path()).read_bytes().decode()
    lines = text.split("\r\n")
    assert lines[0].startswith("id,name,type,")
    assert [line.split(",")[1] for line in lines[1:-1]] == ["Beta Telecom"]

    # 1280 px: every header link visible and clickable.
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{base}/customers/")
    links = page.locator(".nav a")
    assert links.count() == 14  # Rating (issue 12), Numbers (issue 14), Network (issue 15)
    nav = page.locator(".nav").bounding_box()
    assert nav is not None
    for i in range(links.count()):
        link = links.nth(i)
        box = link.bounding_box()
        # Inside the screen and inside the bar's visible part (the bar scrolls, hiding the rest).
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 1280, i
        assert box["x"] + box["width"] <= nav["x"] + nav["width"] + 0.5, i
        link.click(trial=True)
    page.screenshot(path=str(SHOTS / "nav-1280.png"))

    # 390 px: nothing overflows the page; the tabs are a menu.
    page.set_viewport_size({"width": 390, "height": 844})
    for url, shot in (
        ("/customers/", "customers-390"),
        (f"/customers/{data[0]}/", "customer-390"),
        ("/invoices/", "invoices-390"),
        ("/periods/", "periods-390"),
    ):
        page.goto(base + url)
        width = page.evaluate("document.documentElement.scrollWidth")
        wide = page.evaluate(
            "Array.from(document.querySelectorAll('body *:not(.nav *)')).filter(e => "
            "e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 5)"
            ".map(e => e.tagName + '.' + e.className + '#' + e.id)"
        )
        assert width <= page.evaluate("window.innerWidth"), (url, width, wide)
        page.screenshot(path=str(SHOTS / f"{shot}.png"), full_page=True)
    page.goto(f"{base}/customers/{data[0]}/")
    visible = page.locator(".tabs .tab:visible")
    assert visible.count() == 1
    page.click("#tab-address")
    assert page.locator(".tabs .tab:visible").count() >= 9
    page.screenshot(path=str(SHOTS / "customer-390-menu.png"))
    page.click("#tab-balance")
    page.locator("h1").click()
    assert page.get_attribute("#tab-balance", "aria-selected") == "true"
    assert page.locator(".tabs .tab:visible").count() == 1
    assert errors == []
    context.close()
