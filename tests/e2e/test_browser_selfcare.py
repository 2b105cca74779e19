"""Issue 16 §3 in a real browser (Playwright driving Debian's Chromium against the live
server): a customer signs in to its self-care, sees its usage, saves a card and pays an invoice
with the test gateway, transfers between its accounts; a blocked customer is refused.
Screenshots at 1280 px and 390 px go to var/screenshots/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_browser import browser
from tests.selfcare_support import PASSWORD_A, PASSWORD_B, make_world

__all__ = ["browser"]

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def data(live_server: Any, admin: Any, settings: Any) -> Any:
    """Customers A (alice) and B (bob, blocked) of ``tests/selfcare_support.py``; the test
    payment gateway."""
    from billcore.customers.models import Customer

    settings.BILLCORE_PAYMENT_GATEWAY = "test"
    world = make_world(admin)
    Customer.objects.filter(pk=world["b"].pk).update(blocked=True)
    return world


def test_customer_signs_in_sees_usage_pays_and_transfers(
    live_server: Any, browser: Any, data: Any
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # A blocked customer is refused, with the reason.
    page.goto(f"{base}/my/")
    page.wait_for_url(f"{base}/my/login/?next=/my/")
    page.fill("#id_login", "bob")
    page.fill("#id_password", PASSWORD_B)
    page.click("#sign-in")
    assert "blocked" in page.inner_text("#sign-in-error")
    page.screenshot(path=str(SHOTS / "selfcare-blocked-1280.png"))

    # Customer A signs in: the overview.
    page.fill("#id_login", "alice")
    page.fill("#id_password", PASSWORD_A)
    page.click("#sign-in")
    page.wait_for_url(f"{base}/my/")
    assert page.inner_text("#balance") == "4.15 USD"
    assert page.inner_text("#credit-limit") == "100.00 USD"
    assert page.inner_text("#unpaid").startswith("1 · 3.75 USD")
    assert page.locator("#balance-chart").count() == 1
    page.screenshot(path=str(SHOTS / "selfcare-overview-1280.png"), full_page=True)

    # Its usage, then filtered to voice.
    page.click("nav.nav >> text=Usage")
    page.wait_for_url(f"{base}/my/usage/")
    assert page.locator("#usage-table tbody tr").count() == 3
    assert page.inner_text("#usage-total") == "4.15 USD"
    page.select_option("#f-service", "voice")
    page.click("#usage-filters button[type=submit]")
    page.wait_for_url(f"{base}/my/usage/?*service=voice*")
    rows = page.locator("#usage-table tbody tr")
    assert rows.count() == 1
    assert "+15550002" in rows.inner_text() and "2.50" in rows.inner_text()
    page.screenshot(path=str(SHOTS / "selfcare-usage-1280.png"), full_page=True)

    # Save a card, then pay the invoice with the test gateway.
    page.click("nav.nav >> text=Payments")
    page.wait_for_url(f"{base}/my/payments/")
    page.fill("#id_card_number", "4242 4242 4242 4242")
    page.fill("#id_exp_month", "12")
    page.fill("#id_exp_year", "2031")
    page.fill("#id_holder_name", "Alice Alpha")
    page.click("#save-card")
    page.wait_for_url(f"{base}/my/payments/")
    assert page.inner_text("#saved-card").startswith("Visa •••• 4242")
    page.click("nav.nav >> text=Invoices")
    page.wait_for_url(f"{base}/my/invoices/")
    invoice = data["inv_a"].pk
    assert page.inner_text(f"#invoice-{invoice} .invoice-status") == "Issued"
    page.click(f"#pay-{invoice}")
    page.wait_for_url(f"{base}/my/invoices/")
    assert page.inner_text(f"#invoice-{invoice} .invoice-status") == "Paid"
    assert page.inner_text(f"#invoice-{invoice} .invoice-due") == "0.00"
    assert page.locator(f"#pay-{invoice}").count() == 0
    page.screenshot(path=str(SHOTS / "selfcare-invoices-1280.png"), full_page=True)

    # Transfer between its accounts (CC-21).
    page.click("nav.nav >> text=Accounts")
    page.wait_for_url(f"{base}/my/accounts/")
    page.select_option("#id_from_account", str(data["a2"].pk))
    page.select_option("#id_to_account", str(data["a1"].pk))
    page.fill("#id_amount", "1.50")
    page.click("#transfer")
    page.wait_for_url(f"{base}/my/accounts/")
    assert page.inner_text(".alert-success") == "The funds were transferred."
    assert page.inner_text(f"#account-{data['a1'].pk} .account-available") == "1.50"
    assert page.inner_text(f"#account-{data['a2'].pk} .account-available") == "1.00"
    page.screenshot(path=str(SHOTS / "selfcare-accounts-1280.png"), full_page=True)

    # The overview after it all: 4.15 - 3.75 paid = 0.40.
    page.click("nav.nav >> text=Overview")
    assert page.inner_text("#balance") == "0.40 USD"
    mobile = browser.new_page(viewport={"width": 390, "height": 844})
    mobile.context.add_cookies(page.context.cookies())
    mobile.goto(f"{base}/my/")
    mobile.screenshot(path=str(SHOTS / "selfcare-overview-390.png"), full_page=True)

    page.click("#selfcare-sign-out")
    page.wait_for_url(f"{base}/my/login/")
    assert errors == []
