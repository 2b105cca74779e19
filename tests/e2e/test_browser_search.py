"""The header's search box in a real browser (issue 17 §3): Playwright driving Debian's
Chromium against the live server. Types a part of a name into the header box, sees the
results grouped by kind, opens one; an exact invoice number opens the invoice directly.
Screenshots at 1400 px and 390 px go to var/screenshots/."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from tests.e2e.test_browser import PASSWORD, browser

__all__ = ["browser"]

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
T0 = dt.datetime(2026, 1, 10, 9, 0, tzinfo=dt.UTC)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def data(live_server: Any) -> Any:
    """An operator; "Müller Telecom" with an account and an invoice; "Acme Corp"."""
    from billcore.accounts.models import User
    from billcore.classes.services import create_class
    from billcore.invoicing.issuing import issue_out_of_turn_invoice
    from billcore.ledger.customers import create_customer
    from billcore.ledger.postings import post_locked
    from billcore.subscribers.services import create_account

    operator = User.objects.create_user(
        username="operator", password=PASSWORD, is_staff=True, is_superuser=True
    )
    cls = create_class(
        actor=operator,
        now=T0,
        data={"name": "Retail", "currency": "USD", "allow_out_of_turn_invoices": True},
    )
    made = {}
    for name in ("Müller Telecom", "Acme Corp"):
        made[name] = create_customer(
            actor=operator,
            now=T0,
            data={
                "name": name,
                "currency": "USD",
                "balance_control": "postpaid",
                "customer_class": cls.pk,
            },
        )
    m = made["Müller Telecom"]
    create_account(actor=operator, now=T0, customer_id=m.pk, data={"identifier": "MUE-1001"})
    with transaction.atomic():
        post_locked(customer_id=m.pk, action="manual_charge", amount=D("12"), now=T0)
    issue_out_of_turn_invoice(actor=operator, now=T0 + dt.timedelta(minutes=1), customer_id=m.pk)
    return operator


def test_type_in_the_header_see_results_open_one(live_server: Any, browser: Any, data: Any) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    base = live_server.url
    page.goto(f"{base}/customers/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/customers/")

    # Upper case, Unicode: MÜLLER finds Müller Telecom and its account MUE-1001 ("mü" ≠ "mue").
    page.fill("#header-search", "MÜLL")
    page.press("#header-search", "Enter")
    page.wait_for_url(re.compile(r".*/search/\?q=.*"))
    assert page.input_value("#header-search") == "MÜLL"
    assert page.locator("#search-customer .search-hits a").all_inner_texts() == ["Müller Telecom"]
    assert page.locator("#search-account .search-hits a").count() == 0
    page.screenshot(path=str(SHOTS / "search-1400.png"), full_page=True)
    page.click("#search-customer .search-hits a")
    page.wait_for_url(re.compile(r".*/customers/\d+/$"))
    assert "Müller Telecom" in page.inner_text("h1")

    # An account identifier in part: the accounts group; an exact invoice number jumps.
    page.fill("#header-search", "mue-10")
    page.press("#header-search", "Enter")
    page.wait_for_url(re.compile(r".*/search/\?q=.*"))
    assert page.locator("#search-account .search-hits a").all_inner_texts() == ["MUE-1001"]
    page.fill("#header-search", "inv-0000001")
    page.press("#header-search", "Enter")
    page.wait_for_url(re.compile(r".*/invoices/\d+/$"))
    assert "INV-0000001" in page.inner_text("h1")

    # At 390 px the box takes its own row and nothing overflows.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/search/?q=telecom")
    box = page.locator("#header-search").bounding_box()
    assert box is not None and box["width"] > 300
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(SHOTS / "search-390.png"), full_page=True)
    assert errors == []
