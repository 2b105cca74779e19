"""Reseller self-care in Debian's Chromium (issue 16 §3): a reseller's user signs in to its
own home (its account with the operator), creates a class of its own and a customer in it,
and cannot see another reseller's customer — not in its list, not by search, not by URL.
The reseller's home is saved as ``reseller-home.png`` in the test's temporary directory."""

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
def data(live_server: Any) -> dict[str, Any]:
    """Two resellers with a user each; reseller B has a customer of its own."""
    from billcore.accounts.models import User
    from billcore.classes.models import CustomerClass
    from billcore.classes.services import create_class
    from billcore.installation.services import update_settings
    from billcore.ledger.customers import create_customer

    now = timezone.now()
    operator = User.objects.create_user(username="operator", password=PASSWORD)
    update_settings(
        actor=operator,
        now=now,
        changes={"legal_name": "Operator Plc", "notification_from_address": "bill@op.example"},
    )
    default = CustomerClass.objects.get(is_default=True).pk
    resellers = {}
    for key, name in (("a", "Northwind Telecom"), ("b", "Blue Fibre")):
        resellers[key] = create_customer(
            actor=operator,
            now=now,
            data={
                "name": name,
                "customer_type": "reseller",
                "currency": "USD",
                "balance_control": "postpaid",
                "customer_class": default,
            },
        )
    User.objects.create_user(username="nw-clerk", password=PASSWORD, reseller=resellers["a"])
    b_user = User.objects.create_user(
        username="bf-clerk", password=PASSWORD, reseller=resellers["b"]
    )
    b_class = create_class(actor=b_user, now=now, data={"name": "BF Home", "currency": "USD"})
    secret = create_customer(
        actor=b_user,
        now=now,
        data={
            "name": "Secret of Blue Fibre",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": b_class.pk,
        },
    )
    return {"secret": secret}


def test_a_resellers_user_runs_its_own_customers(
    live_server: Any, browser: Any, data: dict[str, Any], tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    base = live_server.url

    page.goto(f"{base}/login/")
    page.fill("#id_username", "nw-clerk")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    own = page.inner_text("#dash-own")  # the label is drawn in capitals
    assert own == "YOUR ACCOUNT WITH OPERATOR PLC\n0.00 USD\nBalance owed · My account"
    assert page.locator("#nav-my-account").is_visible()
    # Administrator-only sections are not offered at all.
    nav = page.locator(".nav a").all_inner_texts()
    for section in ("Settings", "Engine", "Audit log", "Business models", "Network"):
        assert section not in nav
    page.screenshot(path=str(tmp_path / "reseller-home.png"), full_page=True)

    # A class of its own (CC-07)…
    page.click("#dash-actions >> text=Add class")
    page.wait_for_url(f"{base}/classes/add/")
    page.fill("#id_name", "NW Business")
    page.select_option("#id_currency", "USD")
    page.click("button[name=_save]")
    page.wait_for_url(f"{base}/classes/")
    assert page.inner_text(".alert-success") == "Customer class “NW Business” saved."

    # …and a customer in it.
    page.click("nav.nav >> text=Customers")
    page.wait_for_url(f"{base}/customers/")
    page.goto(f"{base}/customers/add/")
    page.fill("#id_name", "Harbour Cafe")
    page.select_option("#id_currency", "USD")
    page.select_option("#id_customer_class", label="NW Business")
    page.click("button[name=_save]")
    page.wait_for_url(f"{base}/customers/")
    assert page.inner_text(".alert-success") == "Customer “Harbour Cafe” saved."
    names = page.locator("#customer-table tbody tr td:nth-child(2)").all_inner_texts()
    assert names == ["Harbour Cafe"]

    # Another reseller's customer: not by search, not by its URL.
    page.fill("#header-search", "Secret of Blue")
    page.press("#header-search", "Enter")
    page.wait_for_url(f"{base}/search/?q=Secret+of+Blue")
    assert "Secret of Blue Fibre" not in page.inner_text("main")
    response = page.goto(f"{base}/customers/{data['secret'].pk}/")
    assert response is not None and response.status == 404
    assert "Secret of Blue Fibre" not in page.content()
    assert errors == []
