"""The Users and API tokens pages in Debian's Chromium (issue 10 §3): reached from the
navigation, a weak password refused beside its input, a reseller's user created, then
deactivated after the browser's confirmation; a token created with its secret shown once,
then revoked. The user list is saved as ``users.png`` in the test's temporary directory
(to look at; its sign-in times change with every run, so it is not kept in docs/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from tests.e2e.test_browser import PASSWORD

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def data(live_server: Any) -> Any:
    """An administrator and a reseller, committed for the live server."""
    from billcore.accounts.models import User
    from billcore.classes.models import CustomerClass
    from billcore.ledger.customers import create_customer

    operator = User.objects.create_user(username="operator", password=PASSWORD)
    create_customer(
        actor=operator,
        now=timezone.now(),
        data={
            "name": "Northwind Telecom",
            "customer_type": "reseller",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": CustomerClass.objects.get(is_default=True).pk,
        },
    )
    return operator


def test_users_and_tokens_in_the_browser(
    live_server: Any,
    browser: Any,
    tmp_path: Path,
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: dialog.accept())
    base = live_server.url

    page.goto(f"{base}/login/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/settings/#seller")  # no seller details yet (issue 17 §6)

    page.click("nav.nav >> text=Users")
    page.wait_for_url(f"{base}/users/")
    page.click("text=Add user")
    page.fill("#id_username", "carol")
    page.fill("#id_password", "short")
    page.select_option("#id_reseller", label="Northwind Telecom")
    page.click("#user-form button[type=submit]")
    assert page.inner_text("#field-password .field-error") == (
        "This password is too short. It must contain at least 8 characters."
    )
    page.fill("#id_password", "Carol-pass-8812")
    page.click("#user-form button[type=submit]")
    page.wait_for_url(f"{base}/users/*/")
    assert page.inner_text(".alert-success") == "User “carol” created."
    assert "User of Northwind Telecom" in page.inner_text(".page-header")

    page.click("text=Deactivate")
    page.wait_for_load_state()
    assert page.inner_text(".alert-success") == (
        "User “carol” deactivated: it can no longer sign in."
    )
    assert page.is_visible("button:has-text('Activate')")

    page.goto(f"{base}/users/?show=all")
    assert page.locator("#user-table tbody tr").count() == 2
    page.screenshot(path=str(tmp_path / "users.png"))
    page.goto(f"{base}/tokens/")
    page.fill("#id_name", "CRM sync")
    page.fill("#id_expires_in", "30d")
    page.click("#token-form button[type=submit]")
    secret = page.inner_text("#new-token-secret")
    assert secret.startswith("bc_")
    assert "Copy it now: it is not shown again." in page.inner_text("#new-token")
    row = page.locator("#token-table tbody tr").first
    assert row.locator("td").nth(1).inner_text() == "CRM sync"
    assert row.locator("td").nth(4).inner_text() == "never"
    row.locator("button:has-text('Revoke')").click()
    page.wait_for_load_state()
    assert page.inner_text(".alert-success").startswith(f"Token “{secret[:8]}…” of operator")
    assert page.inner_text("#token-table tbody") == "No API tokens."
    assert errors == []
