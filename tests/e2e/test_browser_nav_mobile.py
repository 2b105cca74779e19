"""The top bar's sections at 390 px (issue 17, item 10), in Debian's Chromium: they fold
behind a "Menu" button (a <details>, no script) that opens to show every section, each
reachable; nothing overflows the page sideways on the main lists; at 1400 px the button is
not there and the twelve sections show. Screenshots go to /tmp."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_browser import PASSWORD, browser
from tests.e2e.test_browser_bulk_mobile import data

__all__ = ["browser", "data"]

SHOTS = Path("/tmp")
SECTIONS = [
    "Customers",
    "Invoices",
    "Classes",
    "Approvals",
    "Plans",
    "Rating",
    "Numbers",
    "Users",
    "Business models",
    "Notifications",
    "Settings",
    "Network",
    "Engine",
    "Audit log",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _overflow(page: Any) -> tuple[int, int, list[str]]:
    """The page's width, the screen's, and what sticks out (a table scrolls in its box)."""
    width = page.evaluate("document.documentElement.scrollWidth")
    wide = page.evaluate(
        "Array.from(document.querySelectorAll('body *:not(.table-wrap *)')).filter(e => "
        "e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 5)"
        ".map(e => e.tagName + '.' + e.className + '#' + e.id)"
    )
    return width, page.evaluate("window.innerWidth"), wide


def test_the_main_nav_is_a_menu_on_a_phone(live_server: Any, browser: Any, data: Any) -> None:
    base = live_server.url
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{base}/customers/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/customers/")  # the page asked for wins (issue 17 §6)

    for url, shot in (
        ("/", "nav-390-dashboard"),
        ("/customers/", "nav-390-customers"),
        ("/invoices/", "nav-390-invoices"),
        ("/rating/tariffs/", "nav-390-tariffs"),
    ):
        page.goto(base + url)
        assert page.is_visible("#nav-menu summary"), url
        assert page.locator(".nav a:visible").count() == 0, url
        width, viewport, wide = _overflow(page)
        assert width <= viewport and wide == [], (url, width, wide)
        page.screenshot(path=str(SHOTS / f"{shot}.png"), full_page=True)

    # Open the menu: every section shows, inside the screen, and a tap follows it.
    page.goto(f"{base}/customers/")
    page.click("#nav-menu summary")
    assert page.get_attribute("#nav-menu", "open") == ""
    links = page.locator(".nav a")
    assert [links.nth(i).inner_text() for i in range(links.count())] == SECTIONS
    for i in range(links.count()):
        link = links.nth(i)
        assert link.is_visible(), SECTIONS[i]
        box = link.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, i
        link.click(trial=True)
    width, viewport, wide = _overflow(page)
    assert width <= viewport and wide == [], (width, wide)
    page.screenshot(path=str(SHOTS / "nav-390-open.png"), full_page=True)
    page.locator(".nav a", has_text="Audit log").click()
    page.wait_for_url(f"{base}/audit/")
    # A new page starts with the menu closed; the summary closes it again too.
    assert page.locator(".nav a:visible").count() == 0
    page.click("#nav-menu summary")
    assert page.locator(".nav a:visible").count() == 14
    page.click("#nav-menu summary")
    assert page.locator(".nav a:visible").count() == 0

    # Wide screens: no button, every section in the bar.
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"{base}/customers/")
    assert not page.is_visible("#nav-menu")
    assert page.locator(".nav a:visible").count() == 14
    page.screenshot(path=str(SHOTS / "nav-1400.png"))
    assert errors == []
    context.close()
