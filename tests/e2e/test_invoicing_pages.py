"""The billing pages (issue 4): periods waiting for approval (CC-18), the customer page's
Invoices & Taxation (CU-13, CC-15, CC-16) and Payment Method (CU-13) tabs, the invoice page
and its PDF. Django's test client signed in; exact figures throughout."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from html import unescape
from typing import Any

import pytest

from billcore.customers.models import Customer
from billcore.engine import run
from billcore.installation.services import get_settings
from billcore.invoicing.models import ClosedPeriod, Invoice, PaymentMethod
from billcore.invoicing.settling import record_transaction
from tests.e2e.test_invoicing_api import (
    FEB1,
    T0,
    _class,
    _customer,
    _reseller_a_books,
    _use,
)
from tests.e2e.test_pages import assert_error_beside, block, messages_of

PERIOD_JAN = "2026-01-10 \u2013 2026-01-31"


def text_of(html: str) -> str:
    """The visible text of an HTML fragment, whitespace collapsed."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def rows(html: str | bytes, table_id: str) -> list[str]:
    """The text of each body row of table ``table_id``."""
    body = block(html, table_id).split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [text_of(r) for r in re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S)]


@pytest.fixture
def signed_in(client: Any, admin: Any) -> Any:
    client.force_login(admin)
    return client


@pytest.fixture
def january(admin: Any) -> Customer:
    """VAT 20%, out-of-turn allowed; January closed at FEB1: INV-0000001 of 21.02 USD."""
    cls = _class(admin, taxation_method="fixed_vat", vat_rate="20", allow_out_of_turn_invoices=True)
    c = _customer(admin, cls)
    _use(admin, c, "10.00123", T0 + dt.timedelta(days=1))
    _use(admin, c, "5.5", T0 + dt.timedelta(days=2), service="data")
    record_transaction(
        actor=admin,
        now=T0 + dt.timedelta(days=3),
        customer_id=c.pk,
        action="manual_charge",
        amount="2.00",
    )
    assert run(now=FEB1, steps=["close"]).invoices == 1
    return Customer.objects.get(pk=c.pk)


@pytest.fixture
def waiting(admin: Any) -> Customer:
    """CC-18: approval within 5 days; January waits with 12.84567 USD of charges."""
    cls = _class(admin, name="On approval", period_close="approval", approval_max_days=5)
    c = _customer(admin, cls, name="Waits Ltd")
    _use(admin, c, "12.34567", T0 + dt.timedelta(days=1))
    _use(admin, c, "0.5", T0 + dt.timedelta(days=4), service="data")
    assert run(now=FEB1, steps=["close"]).periods_awaiting_approval == 1
    return c


# --------------------------------------------------------------------------- CC-18


def test_periods_page_lists_waiting_periods(signed_in: Any, admin: Any, waiting: Customer) -> None:
    page = signed_in.get("/periods/")
    assert page.status_code == 200
    html = page.content.decode()
    assert (
        '<a href="/periods/" class="active" aria-current="page" '
        'title="Periods awaiting approval">Approvals</a>' in html
    )
    assert rows(html, "periods-table") == [
        f"Waits Ltd {PERIOD_JAN} 2026-02-06 00:00 UTC 12.84567 USD Approve"
    ]
    period = ClosedPeriod.objects.get(customer=waiting)
    assert f'action="/periods/{period.pk}/approve/"' in block(html, "periods-table")


def test_approve_action_and_second_approve(signed_in: Any, admin: Any, waiting: Customer) -> None:
    period = ClosedPeriod.objects.get(customer=waiting)
    done = signed_in.post(f"/periods/{period.pk}/approve/", follow=True)
    assert done.redirect_chain == [("/periods/", 302)]
    assert messages_of(done) == [
        f"Period of Waits Ltd, {PERIOD_JAN} approved and closed. "
        "Invoice INV-0000001 (12.85 USD) issued."
    ]
    assert rows(done.content, "periods-table") == ["No billing period is waiting for approval."]
    inv = Invoice.objects.get(customer=waiting)
    assert (inv.total, inv.period_id, inv.created_by_id) == (
        Decimal("12.85000"),
        period.pk,
        admin.pk,
    )

    again = signed_in.post(f"/periods/{period.pk}/approve/", follow=True)
    assert again.status_code == 200
    assert again.redirect_chain == [("/periods/", 302)]
    assert messages_of(again) == [
        f"Period of Waits Ltd, {PERIOD_JAN} not approved: period {period.pk} is already closed."
    ]
    assert Invoice.objects.filter(customer=waiting).count() == 1
    assert signed_in.get(f"/periods/{period.pk}/approve/").status_code == 405
    assert signed_in.post("/periods/999999/approve/").status_code == 404


def test_periods_page_empty_and_linked_for_resellers(client: Any, world: dict[str, Any]) -> None:
    client.force_login(world["ub"])
    response = client.get("/customers/")
    assert (
        '<a href="/periods/" title="Periods awaiting approval">Approvals</a>'
        in response.content.decode()
    )
    page = client.get("/periods/")
    assert rows(page.content, "periods-table") == ["No billing period is waiting for approval."]


# --------------------------------------------------------------------------- CU-13 tab


def test_invoices_tab_shows_open_period_invoices_and_closed_periods(
    signed_in: Any, january: Customer
) -> None:
    html = signed_in.get(f"/customers/{january.pk}/").content.decode()
    tabs = re.findall(r'<button type="button" role="tab"[^>]*>([^<]+)</button>', html)
    assert tabs[4:7] == ["Fraud Protection", "Invoices &amp; Taxation", "Payment Method"]
    assert tabs.count("Payment Method") == 1 and tabs.count("Invoices &amp; Taxation") == 1
    panel = block(html, "panel-invoices")
    assert text_of(block(panel, "open-period")) == (
        "2026-02-01 \u2013 2026-02-28 (closes 2026-03-01 00:00, UTC)"
    )
    inv = Invoice.objects.get(customer=january)
    assert rows(panel, "invoice-table") == [
        f"INV-0000001 Regular {PERIOD_JAN} 2026-02-01 2026-02-11 21.02 0.00 Issued"
    ]
    assert f'href="/invoices/{inv.pk}/"' in block(panel, "invoice-table")
    assert "Issue out-of-turn invoice" in panel
    assert rows(panel, "period-table") == [f"{PERIOD_JAN} Closed 2026-02-01 00:00 21.02 —"]
    assert 'id="out-of-turn-form"' in html and 'id="invoice-template-form"' in html
    selected = re.search(r'<option value="([^"]*)" selected>', block(panel, "id_invoice_template"))
    assert selected is not None and selected.group(1) == ""
    assert "Class default (Standard)" in panel


def test_statement_pdf_link_when_one_exists(signed_in: Any, january: Customer) -> None:
    """CC-16: the closing statement beside the period, once rendered."""
    period = ClosedPeriod.objects.get(customer=january)
    ClosedPeriod.objects.filter(pk=period.pk).update(statement_pdf=b"%PDF-1.7 statement")
    panel = block(signed_in.get(f"/customers/{january.pk}/").content, "panel-invoices")
    assert rows(panel, "period-table") == [
        f"{PERIOD_JAN} Closed 2026-02-01 00:00 21.02 Statement PDF"
    ]
    assert f'href="/periods/{period.pk}/statement.pdf"' in panel
    pdf = signed_in.get(f"/periods/{period.pk}/statement.pdf")
    assert (pdf.status_code, pdf["Content-Type"], pdf.content) == (
        200,
        "application/pdf",
        b"%PDF-1.7 statement",
    )
    ClosedPeriod.objects.filter(pk=period.pk).update(statement_pdf=None)
    assert signed_in.get(f"/periods/{period.pk}/statement.pdf").status_code == 404


def test_no_out_of_turn_button_when_the_class_does_not_allow_it(signed_in: Any, admin: Any) -> None:
    """CC-15: the button is offered only when the class allows it."""
    c = _customer(admin, _class(admin))
    panel = block(signed_in.get(f"/customers/{c.pk}/").content, "panel-invoices")
    assert "Issue out-of-turn invoice" not in panel
    assert rows(panel, "invoice-table") == ["No invoices yet."]
    assert rows(panel, "period-table") == ["No billing period has ended yet."]


def test_invoice_template_override(signed_in: Any, january: Customer) -> None:
    url = f"/customers/{january.pk}/invoice-template/"
    saved = signed_in.post(url, {"invoice_template": "compact"}, follow=True)
    assert saved.redirect_chain == [(f"/customers/{january.pk}/#tab-invoices", 302)]
    assert messages_of(saved) == ["Invoice template set to “Compact”."]
    assert Customer.objects.get(pk=january.pk).invoice_template == "compact"
    bad = signed_in.post(url, {"invoice_template": "fancy"})
    assert bad.status_code == 400
    assert_error_beside(
        bad,
        "invoice_template",
        "Invoice template must be one of: standard, detailed, compact (got 'fancy')",
    )
    assert Customer.objects.get(pk=january.pk).invoice_template == "compact"
    cleared = signed_in.post(url, {"invoice_template": ""}, follow=True)
    assert messages_of(cleared) == ["Invoice template follows the class (“Standard”)."]
    assert Customer.objects.get(pk=january.pk).invoice_template is None


def test_out_of_turn_from_the_page(signed_in: Any, admin: Any, january: Customer) -> None:
    _use(admin, january, "3.3", FEB1 + dt.timedelta(days=2))
    url = f"/customers/{january.pk}/out-of-turn-invoice/"
    issued = signed_in.post(url, follow=True)
    inv = Invoice.objects.get(customer=january, kind="out_of_turn")
    assert issued.redirect_chain == [(f"/invoices/{inv.pk}/", 302)]
    assert messages_of(issued) == ["Out-of-turn invoice INV-0000002 issued: 3.96 USD."]
    again = signed_in.post(url, follow=True)
    assert again.redirect_chain == [(f"/customers/{january.pk}/#tab-invoices", 302)]
    assert messages_of(again) == [
        "No out-of-turn invoice issued: there is nothing to invoice: every charge is already "
        "on an invoice."
    ]
    assert Invoice.objects.filter(customer=january).count() == 2


# --------------------------------------------------------------------------- invoice page


def test_invoice_page_figures_lines_and_pdf(signed_in: Any, admin: Any, january: Customer) -> None:
    record_transaction(
        actor=admin,
        now=FEB1 + dt.timedelta(days=1),
        customer_id=january.pk,
        action="manual_payment",
        amount="10",
    )
    inv = Invoice.objects.get(customer=january)
    response = signed_in.get(f"/invoices/{inv.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert text_of(block(html, "invoice-figures")) == (
        "Total 21.02 USD Paid 10.00 USD Amount due 11.02 USD"
    )
    assert "Invoice INV-0000001" in html and "Partly paid" in html
    facts = text_of(block(html, "invoice-facts"))
    assert facts == (
        f"Customer Acme Period {PERIOD_JAN} Issued 2026-02-01 00:00 UTC "
        "Due 2026-02-11 00:00 UTC Previous balance 0.00 USD Payments and refunds 0.00 USD "
        "Charges 17.51 USD Taxes 3.51 USD Invoice rounding 0.00877 USD "
        "Balance after this invoice 21.02 USD"
    )
    assert rows(html, "invoice-lines") == [
        "Data 60 1 5.50",
        "Voice calls 60 1 10.00123",
        "Other fees 1 2.00",
        "VAT 20% 17.51 3.51",
        "Invoice rounding 0.00877",
    ]
    assert f'<a class="btn btn-primary" href="/invoices/{inv.pk}/pdf/" id="invoice-pdf">' in html
    pdf = signed_in.get(f"/invoices/{inv.pk}/pdf/")
    assert (pdf.status_code, pdf["Content-Type"]) == (200, "application/pdf")
    assert pdf["Content-Disposition"] == 'inline; filename="INV-0000001.pdf"'
    assert pdf.content.startswith(b"%PDF-")


def test_reseller_gets_404_for_another_resellers_invoice(
    client: Any, world: dict[str, Any]
) -> None:
    """DESIGN rule 4: B's user sees nothing of A's invoices, periods or card."""
    auto, waits = _reseller_a_books(world)
    period = ClosedPeriod.objects.get(customer=waits)
    inv = Invoice.objects.get(customer=auto)
    number = f"R{world['ra'].pk}-0000001"
    ClosedPeriod.objects.filter(pk=period.pk).update(statement_pdf=b"%PDF-1.7 statement")

    client.force_login(world["ua"])
    assert rows(client.get("/periods/").content, "periods-table") == [
        f"A waits {PERIOD_JAN} 2026-02-04 00:00 UTC 2.00 USD Approve"
    ]
    assert client.get(f"/invoices/{inv.pk}/").status_code == 200
    assert client.get(f"/periods/{period.pk}/statement.pdf").status_code == 200

    client.force_login(world["ub"])
    assert rows(client.get("/periods/").content, "periods-table") == [
        "No billing period is waiting for approval."
    ]
    assert client.post(f"/periods/{period.pk}/approve/").status_code == 404
    assert ClosedPeriod.objects.get(pk=period.pk).status == "awaiting_approval"
    for url in (
        f"/invoices/{inv.pk}/",
        f"/invoices/{inv.pk}/pdf/",
        f"/periods/{period.pk}/statement.pdf",
        f"/customers/{auto.pk}/",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert number not in response.content.decode()
    for url in (
        f"/customers/{auto.pk}/out-of-turn-invoice/",
        f"/customers/{auto.pk}/invoice-template/",
        f"/customers/{auto.pk}/payment-method/",
        f"/customers/{auto.pk}/payment-method/remove/",
    ):
        assert client.post(url, {"invoice_template": "compact"}).status_code == 404, url
    assert Customer.objects.get(pk=auto.pk).invoice_template is None
    assert Invoice.objects.count() == 1
    assert client.get("/invoices/999999/").status_code == 404


def test_reseller_approves_its_own_period_from_the_page(client: Any, world: dict[str, Any]) -> None:
    _auto, waits = _reseller_a_books(world)
    period = ClosedPeriod.objects.get(customer=waits)
    client.force_login(world["ua"])
    approved = client.post(f"/periods/{period.pk}/approve/", follow=True)
    assert messages_of(approved) == [
        f"Period of A waits, {PERIOD_JAN} approved and closed. "
        f"Invoice R{world['ra'].pk}-0000002 (2.00 USD) issued."
    ]


# --------------------------------------------------------------------------- payment method


CARD = {"card_number": "4242 4242 4242 4242", "exp_month": "12", "exp_year": "2030"}


def test_payment_method_tab_save_errors_and_remove(
    signed_in: Any, admin: Any, settings: Any
) -> None:
    settings.BILLCORE_PAYMENT_GATEWAY = "test"
    c = _customer(admin, _class(admin))
    page = f"/customers/{c.pk}/"
    url = f"/customers/{c.pk}/payment-method/"
    panel = block(signed_in.get(page).content, "panel-payment")
    assert text_of(block(panel, "payment-method-card")) == "None saved"
    assert "Save a card" in panel and 'id="no-gateway"' not in panel

    luhn = signed_in.post(url, CARD | {"card_number": "4242424242424241"})
    assert luhn.status_code == 400
    assert_error_beside(luhn, "card_number", "Card number fails the check digit (Luhn)")
    assert "4242424242424241" not in luhn.content.decode()
    expired = signed_in.post(url, CARD | {"exp_month": "1", "exp_year": "2020"})
    assert expired.status_code == 400
    assert_error_beside(expired, "exp_year", "the card expired at the end of 01/2020")
    month = signed_in.post(url, CARD | {"exp_month": "13"})
    assert_error_beside(month, "exp_month", "Expiry month must be 1 to 12")
    assert PaymentMethod.objects.count() == 0

    saved = signed_in.post(url, CARD | {"holder_name": "Ann Smith"}, follow=True)
    assert saved.redirect_chain == [(f"/customers/{c.pk}/#tab-payment", 302)]
    assert messages_of(saved) == ["Payment method saved: Visa •••• 4242, expires 12/2030."]
    panel = block(saved.content, "panel-payment")
    assert text_of(block(panel, "payment-method-card")) == (
        "Visa •••• 4242, expires 12/2030 · Ann Smith"
    )
    assert text_of(block(panel, "payment-method-gateway")) == (
        "Test gateway (simulated card processor, no money moves)"
    )
    assert "Replace the card" in panel
    assert "tok_test_" not in saved.content.decode()

    asked = signed_in.post(f"/customers/{c.pk}/payment-method/remove/").content.decode()
    assert "Remove the saved card of" in asked and PaymentMethod.objects.count() == 1
    removed = signed_in.post(
        f"/customers/{c.pk}/payment-method/remove/", {"confirmed": "1"}, follow=True
    )
    assert messages_of(removed) == ["Payment method removed."]
    assert PaymentMethod.objects.count() == 0
    twice = signed_in.post(
        f"/customers/{c.pk}/payment-method/remove/", {"confirmed": "1"}, follow=True
    )
    assert messages_of(twice) == ["The customer has no saved payment method; nothing removed."]


def test_payment_method_tab_without_a_gateway(signed_in: Any, admin: Any, settings: Any) -> None:
    settings.BILLCORE_PAYMENT_GATEWAY = ""
    c = _customer(admin, _class(admin))
    panel = block(signed_in.get(f"/customers/{c.pk}/").content, "panel-payment")
    assert text_of(block(panel, "no-gateway")).startswith(
        "No payment gateway is configured on this installation"
    )
    assert 'name="card_number"' not in panel
    response = signed_in.post(f"/customers/{c.pk}/payment-method/", CARD)
    assert response.status_code == 400
    assert text_of(block(response.content, "payment-method-error")).startswith(
        "no payment gateway is configured: set BILLCORE_PAYMENT_GATEWAY"
    )
    assert PaymentMethod.objects.count() == 0


# --------------------------------------------------------------------------- settings


def test_settings_test_mode_toggle(signed_in: Any) -> None:
    """Section 6: test mode (the engine's clock over the API) is switched on the settings."""
    html = signed_in.get("/settings/").content.decode()
    assert 'name="test_mode"' in block(html, "field-test_mode")
    assert get_settings().test_mode is False
    form = {
        "legal_name": "",
        "notification_from_name": "",
        "notification_from_address": "",
        "allow_external_billing": "false",
        "show_financial_documents_page": "false",
        "test_mode": ["false", "on"],
        "eztax_endpoint": "",
        "suretax_endpoint": "",
        "tax_rounding_half_up": "false",
    }
    response = signed_in.post("/settings/", form)
    assert response.status_code == 302, response.content
    assert get_settings().test_mode is True


def test_waiting_period_unbilled_includes_adjustments_made_while_it_waits(
    signed_in: Any, admin: Any, waiting: Customer
) -> None:
    """CC-18, issue 10 §5: adjustments made while the period waits land in it when it is
    approved, so its unbilled figure (page and API) includes them: 12.84567 of January usage
    + a manual charge of 7 on Feb 3 - a manual credit of 1 on Feb 4 = 18.84567; usage on
    Feb 5 belongs to February and is left out. The approval bills exactly that."""
    for day, action, amount in ((3, "manual_charge", "7"), (4, "manual_credit", "1")):
        record_transaction(
            actor=admin,
            now=FEB1 + dt.timedelta(days=day - 1),
            customer_id=waiting.pk,
            action=action,
            amount=amount,
        )
    _use(admin, waiting, "2", FEB1 + dt.timedelta(days=4))
    page = signed_in.get("/periods/")
    assert rows(page.content, "periods-table") == [
        f"Waits Ltd {PERIOD_JAN} 2026-02-06 00:00 UTC 18.84567 USD Approve"
    ]
    from tests.e2e.test_api import Api, _token

    listed = Api(signed_in, _token(admin)).get("/periods")
    assert listed.json()["items"][0]["unbilled"] == "18.84567"
    period = ClosedPeriod.objects.get(customer=waiting)
    signed_in.post(f"/periods/{period.pk}/approve/")
    inv = Invoice.objects.get(customer=waiting)
    charged = sum(
        (x.amount for x in inv.lines.all() if x.kind not in ("tax", "tax_included", "rounding")),
        Decimal(0),
    )
    assert charged == Decimal("18.84567")


def test_younger_waiting_period_leaves_adjustments_to_the_older_one(
    signed_in: Any, admin: Any, waiting: Customer
) -> None:
    """Two waiting periods: an adjustment made while both wait goes to the older one when it
    is approved, so only the older one's figure shows it."""
    _use(admin, waiting, "3", FEB1 + dt.timedelta(days=2))
    mar1 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    ClosedPeriod.objects.filter(customer=waiting).update(approve_by=None)
    assert run(now=mar1, steps=["close"]).periods_awaiting_approval == 1
    record_transaction(
        actor=admin,
        now=mar1 + dt.timedelta(days=1),
        customer_id=waiting.pk,
        action="manual_charge",
        amount="7",
    )
    table = rows(signed_in.get("/periods/").content, "periods-table")
    figures = [t.split(" USD")[0].rsplit(" ", 1)[1] for t in table]
    assert sorted(figures) == ["19.84567", "3.00"]
