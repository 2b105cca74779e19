"""Issue 17, item 7 in a real browser (Debian's Chromium): Block asks before it acts. A
dismissed dialog changes nothing; an accepted one blocks, without a second question from the
server's confirmation page (the step for a browser without JavaScript)."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from tests.e2e.test_browser import PASSWORD, browser

__all__ = ["browser"]  # fixture

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def data(live_server: Any) -> Any:
    """An administrator and one customer, committed for the live server."""
    from billcore.accounts.models import User
    from billcore.classes.models import CustomerClass
    from billcore.ledger.customers import create_customer

    operator = User.objects.create_user(
        username="operator", password=PASSWORD, is_staff=True, is_superuser=True
    )
    data = {
        "name": "Acme",
        "currency": "USD",
        "balance_control": "postpaid",
        "customer_class": CustomerClass.objects.get(is_default=True).pk,
    }
    return create_customer(actor=operator, now=timezone.now(), data=data).pk


def test_block_asks_before_it_acts(live_server: Any, browser: Any, data: Any) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    base = live_server.url
    page.goto(f"{base}/customers/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/customers/")
    url = f"{base}/customers/{data}/status/"

    asked: list[str] = []

    def dismiss(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.goto(url)
    page.click("#form-block button[type=submit]")
    assert asked and asked[0].startswith("Block the customer “Acme”?")
    page.goto(url)
    assert page.inner_text("#display-status") == "Open"  # dismissed: nothing happened
    page.remove_listener("dialog", dismiss)

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#form-block button[type=submit]")
    page.wait_for_selector(".alert-success")
    assert page.inner_text(".alert-success") == "Customer blocked."
    assert page.inner_text("#display-status") == "Blocked"
    assert errors == []
