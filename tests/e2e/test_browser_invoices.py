"""The invoice list and the void in a real browser (issue 17): Playwright driving Debian's
Chromium against the live server. Opens /invoices/ from the navigation, filters by status,
opens an invoice, voids it (the confirmation accepted), and finds the credit note on the
invoice and the customer's page; screenshots at 1400 px and 390 px go to var/screenshots/."""

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
    """An operator; a customer with two out-of-turn invoices (10.00 paid, 20.00 partly paid
    by 5.00 of a 15.00 payment)."""
    from billcore.accounts.models import User
    from billcore.classes.services import create_class
    from billcore.invoicing.issuing import issue_out_of_turn_invoice
    from billcore.invoicing.settling import record_transaction
    from billcore.ledger.customers import create_customer
    from billcore.ledger.postings import post_locked

    operator = User.objects.create_user(
        username="operator", password=PASSWORD, is_staff=True, is_superuser=True
    )
    cls = create_class(
        actor=operator,
        now=T0,
        data={"name": "Retail", "currency": "USD", "allow_out_of_turn_invoices": True},
    )
    c = create_customer(
        actor=operator,
        now=T0,
        data={
            "name": "Acme Corp",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": cls.pk,
            "email": "billing@acme.example",
        },
    )
    for d, amount in ((11, "10"), (15, "20")):
        when = T0.replace(day=d)
        with transaction.atomic():
            post_locked(customer_id=c.pk, action="manual_charge", amount=D(amount), now=when)
        issue_out_of_turn_invoice(
            actor=operator, now=when + dt.timedelta(minutes=1), customer_id=c.pk
        )
    record_transaction(
        actor=operator,
        now=T0.replace(day=16),
        customer_id=c.pk,
        action="manual_payment",
        amount="15",
    )
    return operator


def test_list_filter_open_and_void(live_server: Any, browser: Any) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    confirms: list[str] = []

    def accept(dialog: Any) -> None:
        confirms.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    base = live_server.url
    page.goto(f"{base}/customers/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/customers/")

    # The list, from the navigation.
    page.click("nav.nav >> text=Invoices")
    page.wait_for_url(f"{base}/invoices/")
    numbers = page.locator("#invoice-list-table tbody tr td:first-child").all_inner_texts()
    assert numbers == ["INV-0000002", "INV-0000001"]
    page.screenshot(path=str(SHOTS / "invoice-list-1400.png"), full_page=True)

    # A bad filter names the field; a good one filters.
    page.fill("#id_customer", "abc")
    page.click("#invoice-filter")
    assert page.inner_text("#field-customer .field-error") == "Customer id must be a whole number"
    page.fill("#id_customer", "")
    page.select_option("#id_status", "partly_paid")
    page.click("#invoice-filter")
    page.wait_for_url(re.compile(r".*/invoices/\?.*status=partly_paid.*"))
    row = page.locator("#invoice-list-table tbody tr")
    assert row.count() == 1
    assert row.locator("td").all_inner_texts() == [
        "INV-0000002",
        "Acme Corp",
        "Out-of-turn",
        row.locator("td").nth(3).inner_text(),
        "2026-01-15",
        row.locator("td").nth(5).inner_text(),
        "20.00 USD",
        "15.00 USD",
        "Partly paid",
    ]

    # Open it and void it.
    row.locator("a.row-link").click()
    page.wait_for_url(re.compile(r".*/invoices/\d+/$"))
    assert "Partly paid" in page.inner_text("h1")
    assert "settles the oldest unpaid invoice first" in page.inner_text("#invoice-payment")
    page.screenshot(path=str(SHOTS / "invoice-page-1400.png"), full_page=True)
    page.fill("#void-reason", "Wrong rate")
    page.click("#invoice-void-button")
    page.wait_for_load_state()
    assert confirms == [
        "Void invoice INV-0000002? A credit note reverses its 20.00 USD. This cannot be undone."
    ]
    assert page.inner_text(".alert-success") == (
        "Invoice INV-0000002 voided by credit note CN-0000001 (20.00 USD credited)."
    )
    assert "Void" in page.inner_text("h1")
    notice = page.inner_text("#invoice-void-notice")
    assert "CN-0000001" in notice and "Wrong rate" in notice
    assert "The 5.00 USD paid against it stays on the balance as credit" in notice
    assert page.locator("#invoice-void-form").count() == 0
    page.screenshot(path=str(SHOTS / "invoice-void-1400.png"), full_page=True)
    pdf = page.request.get(base + (page.get_attribute("#credit-note-link", "href") or ""))
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"

    # The customer's page lists the credit note; the list filters void invoices.
    page.click("nav.breadcrumb >> text=Acme Corp")
    page.wait_for_load_state()
    note_row = page.locator("#credit-note-table tbody tr").first
    assert note_row.locator("td").nth(0).inner_text() == "CN-0000001"
    assert note_row.locator("td").nth(1).inner_text() == "INV-0000002"
    page.locator("#credit-notes").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "customer-credit-notes-1400.png"))
    page.goto(f"{base}/invoices/?status=void")
    assert page.locator("#invoice-list-table tbody tr td:first-child").all_inner_texts() == [
        "INV-0000002"
    ]

    # At 390 px the table scrolls inside its box; the page itself does not overflow.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/invoices/")
    page.screenshot(path=str(SHOTS / "invoice-list-390.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    page.locator("#invoice-list-table a.row-link").first.click()
    page.wait_for_url(re.compile(r".*/invoices/\d+/$"))
    page.screenshot(path=str(SHOTS / "invoice-void-390.png"), full_page=True)
    assert errors == []
