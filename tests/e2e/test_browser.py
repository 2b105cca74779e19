"""The admin pages in a real browser: Playwright driving Debian's Chromium against
pytest-django's live server (never a downloaded browser).

* CC-03: "Save & Add a copy" opens a new form pre-filled from the saved class, name empty.
* CC-11: a field the rules make unavailable is hidden and disabled on the client.
* CU-06, CU-09: the customer form offers only classes of the chosen currency (or without
  one), and only the class's currency once such a class is chosen.
* CU-08, CU-12: prepaid available funds, and the balance-adjustment dialog.
* docs/screenshot-classes.png: the class list at 1280x800.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshot-classes.png"
PASSWORD = "operator-pass-1234"

pytestmark = [
    pytest.mark.browser,
    # The live server needs committed data; serialized_rollback brings back what the
    # migrations seed (the Default class, currencies) after other transactional tests.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def browser(data: Any) -> Iterator[Any]:
    """Chromium, started after ``data``: Playwright's sync API runs an event loop in this
    thread, where Django refuses ORM calls (and DJANGO_ALLOW_ASYNC_UNSAFE would give them a
    connection of their own that nothing closes), so the test body uses only the browser."""
    if not os.path.exists(CHROMIUM):
        message = (
            f"{CHROMIUM} is missing: install Debian's chromium (`make browser-deps`); "
            "this test never downloads a browser"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def data(live_server: Any) -> Any:
    """An administrator and a few classes, committed for the live server."""
    from billcore.accounts.models import User
    from billcore.classes.services import create_class

    operator = User.objects.create_user(username="operator", password=PASSWORD)
    now = timezone.now()
    for data in (
        {"name": "Dollar Retail", "currency": "USD", "description": "US retail subscribers"},
        {"name": "Euro Retail", "currency": "EUR", "description": "Eurozone retail subscribers"},
        {
            "name": "Wholesale GBP",
            "currency": "GBP",
            "description": "Carrier interconnect partners, full xDR statistics",
            "send_statistics": "full",
        },
        {
            "name": "Prepaid Mobile",
            "description": "Pay-as-you-go, any currency, no invoices",
            "generate_statistics": False,
            "taxation_method": "custom",
            "taxes": [{"name": "State tax", "rate": "6.25"}, {"name": "911 fee", "rate": "1.5"}],
        },
    ):
        create_class(actor=operator, now=now, data=data)
    return operator


def _enabled_options(page: Any, select: str) -> list[str]:
    script = "os => os.filter(o => !o.disabled && !o.hidden && o.value).map(o => o.textContent)"
    return sorted(page.eval_on_selector_all(f"{select} option", script))


def test_class_copy_and_customer_currency_filter(live_server: Any, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    base = live_server.url

    # Sign in.
    page.goto(f"{base}/customers/")
    assert page.url == f"{base}/login/?next=/customers/"
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/customers/")

    # CC-03: a class with "Save & Add a copy".
    page.goto(f"{base}/classes/add/")
    page.fill("#id_name", "Gold")
    page.fill("#id_description", "Premium business customers")
    page.select_option("#id_currency", "EUR")
    page.select_option("#id_send_statistics", "summary")
    # CC-11: statistics off hides and disables "send statistics"; on shows it again.
    page.click("label[for=id_generate_statistics]")
    assert page.is_hidden("#field-send_statistics")
    assert page.is_disabled("#id_send_statistics")
    page.click("label[for=id_generate_statistics]")
    assert page.is_visible("#field-send_statistics")
    # Fraud protection appears because a currency is chosen (CC-06).
    assert page.is_visible("#id_fraud_daily_limit")
    page.fill("#id_fraud_daily_limit", "75")
    page.click("#tab-regular-invoices")
    assert page.is_hidden("#panel-general")
    page.fill("#id_grace_period_days", "21")
    page.click("button[name=_addanother]")
    page.wait_for_url(re.compile(r".*/classes/add/\?copy_from=\d+$"))
    assert page.inner_text(".alert-success") == "Customer class “Gold” saved."
    assert page.input_value("#id_name") == ""
    assert page.input_value("#id_description") == "Premium business customers"
    assert page.input_value("#id_currency") == "EUR"
    assert page.input_value("#id_send_statistics") == "summary"
    assert page.input_value("#id_fraud_daily_limit") == "75"
    assert page.input_value("#id_grace_period_days") == "21"
    assert page.is_checked("#id_generate_statistics")

    # CU-09 / CU-06: the class select follows the currency and vice versa.
    page.goto(f"{base}/customers/add/")
    page.fill("#id_name", "Eurocorp")
    assert _enabled_options(page, "#id_customer_class") == [
        "Default",
        "Dollar Retail",
        "Euro Retail",
        "Gold",
        "Prepaid Mobile",
        "Wholesale GBP",
    ]
    page.select_option("#id_currency", "EUR")
    assert _enabled_options(page, "#id_customer_class") == [
        "Default",
        "Euro Retail",
        "Gold",
        "Prepaid Mobile",
    ]
    page.select_option("#id_customer_class", label="Euro Retail")
    assert _enabled_options(page, "#id_currency") == ["EUR — Euro"]
    # CU-07 / CU-08: credit limit for postpaid, available funds for prepaid.
    assert page.is_visible("#id_credit_limit") and page.is_hidden("#id_available_funds")
    page.select_option("#id_balance_control", "prepaid")
    assert page.is_hidden("#id_credit_limit") and page.is_visible("#id_available_funds")
    page.fill("#id_available_funds", "100")
    page.click("button[name=_save]")
    page.wait_for_url(f"{base}/customers/")
    assert page.inner_text(".alert-success") == "Customer “Eurocorp” saved."
    row = page.locator("#customer-table tr", has_text="Eurocorp")
    # The first cell is the bulk-selection checkbox (issue 17 item 4).
    assert row.locator("td").all_inner_texts() == [
        "",
        "Eurocorp",
        "Euro Retail",
        "EUR",
        "Prepaid",
        "100.00 available funds",
        "Open",
    ]

    # CU-12: the balance-adjustment dialog.
    row.locator("a").click()
    page.click("text=Balance adjustment")
    assert page.is_visible("#adjust-dialog")
    page.select_option("#adjust-dialog #id_action", "manual_payment")
    page.fill("#adjust-dialog #id_amount", "25")
    page.fill("#adjust-dialog #id_visible_comment", "Top-up")
    page.click("#adjust-dialog button[type=submit]")
    page.wait_for_url(re.compile(r".*/customers/\d+/#tab-balance$"))
    assert page.inner_text(".alert-success") == (
        "Manual payment of 25.00 EUR posted. Available funds: 125.00 EUR."
    )
    assert page.inner_text("#customer-funds") == "125.00 EUR"
    assert page.is_visible("#ledger-table")  # the Balance & Credits tab is the open one

    # The class list, for docs/.
    page.goto(f"{base}/classes/")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    assert errors == []
