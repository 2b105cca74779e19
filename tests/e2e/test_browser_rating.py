"""The rating pages in a real browser (Debian's Chromium, issue 12): upload a rate file and
read its summary and rejects, search the rates by number, add an override tariff pair on the
customer's Override Tariffs tab; screenshots at 1400 and 390 px into /tmp."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_browser import PASSWORD, browser

__all__ = ["browser"]  # fixture

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
CSV = (
    "prefix,interval_first,interval_next,price_first,price_next,effective_from\n"
    "12,60,6,0.02,0.02,2026-01-01\n"
    "1204,1,1,0.01,0.01,2026-01-01\n"
    "44,0,1,0.1,0.1,2026-01-01\n"
    "|,60,60,0.5,0.5,2026-01-01\n"
)


@pytest.fixture
def data(live_server: Any) -> dict[str, int]:
    from billcore.accounts.models import User
    from billcore.classes.models import CustomerClass
    from billcore.ledger.customers import create_customer
    from billcore.rating import services
    from billcore.subscribers.services import create_account

    operator = User.objects.create_user(
        username="operator", password=PASSWORD, is_staff=True, is_superuser=True
    )
    tariff = services.create_tariff(
        actor=operator, now=T0, data={"name": "Retail", "currency": "USD"}
    )
    deal = services.create_tariff(
        actor=operator, now=T0, data={"name": "Acme deal", "currency": "USD"}
    )
    customer = create_customer(
        actor=operator,
        now=T0,
        data={
            "name": "Acme",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": CustomerClass.objects.get(is_default=True).pk,
        },
    )
    product = services.create_product(
        actor=operator, now=T0, data={"name": "Home", "currency": "USD"}
    )
    services.create_entry(
        actor=operator,
        now=T0,
        product_id=product.pk,
        data={"service": "voice", "tariff": tariff.pk},
    )
    account = create_account(
        actor=operator, now=T0, customer_id=customer.pk, data={"identifier": "+4201"}
    )
    return {
        "tariff": tariff.pk,
        "deal": deal.pk,
        "customer": customer.pk,
        "product": product.pk,
        "account": account.pk,
    }


def test_upload_search_and_override(
    live_server: Any, browser: Any, data: dict[str, int], tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    base = live_server.url
    page.goto(f"{base}/rating/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/rating/tariffs/")
    page.click("text=Retail")
    page.wait_for_url(f"{base}/rating/tariffs/{data['tariff']}/")

    rates = tmp_path / "rates.csv"
    rates.write_text(CSV)
    page.set_input_files("#upload-file", str(rates))
    page.click("#rate-upload-form button[type=submit]")
    page.wait_for_selector("#upload-result")
    assert page.inner_text("#upload-added") == "3"
    assert page.inner_text("#upload-rejected") == "1"
    assert page.inner_text("#reject-table tbody tr").split("\t") == [
        "4",
        "interval_first",
        "interval_first must be at least 1",
    ]

    page.fill("#rate-search-number", "12045677844")
    page.click("#rate-search button[type=submit]")
    page.wait_for_selector("#number-note")
    assert page.inner_text("#number-note") == (
        "Prefix 1204 from 2026-01-01 00:00 UTC applies to 12045677844 now."
    )
    first = page.inner_text("#rate-table tbody tr:first-child td:first-child")
    assert first.split() == ["1204", "applies"]
    page.screenshot(path="/tmp/rating-tariff-1400.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path="/tmp/rating-tariff-390.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") == 390  # nothing sideways
    page.set_viewport_size({"width": 1400, "height": 900})

    page.goto(f"{base}/customers/{data['customer']}/#tab-overrides")
    page.click("#tab-overrides")
    page.select_option("#override-add-master_tariff", str(data["tariff"]))
    page.select_option("#override-add-override_tariff", str(data["deal"]))
    page.click("#override-add-section button[type=submit]")
    page.wait_for_selector(".alert-success")
    assert page.inner_text(".alert-success") == "Override tariff added."
    page.click("#tab-overrides")
    row = page.locator("#override-table tbody tr")
    assert row.count() == 1
    assert row.locator("select").first.input_value() == str(data["tariff"])
    assert row.locator("select").nth(1).input_value() == str(data["deal"])
    page.screenshot(path="/tmp/rating-overrides-1400.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path="/tmp/rating-overrides-390.png", full_page=True)

    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"{base}/customers/{data['customer']}/accounts/")
    page.select_option(f"#account-{data['account']}-products-product", str(data["product"]))
    page.click(f"#account-{data['account']}-product-row button[type=submit]")
    page.wait_for_selector(".alert-success")
    assert page.inner_text(".alert-success") == "Products of account “+4201” saved."
    page.screenshot(path="/tmp/rating-accounts-1400.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path="/tmp/rating-accounts-390.png", full_page=True)
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"{base}/rating/products/{data['product']}/")
    page.screenshot(path="/tmp/rating-product-1400.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path="/tmp/rating-product-390.png", full_page=True)
    assert errors == []
