"""Issue 17, items 7, 8 and 12 on the pages: risky actions ask first (a confirmation page that
works without JavaScript), the balance adjustment has no default action, statuses read in
words, forms show every error they can see at once, the country is a select, and no spec
code (CC-06, CU-14…) reaches a clerk."""

from __future__ import annotations

import re
from typing import Any

from billcore.classes.models import CustomerClass
from billcore.customers.models import Customer
from billcore.ledger.models import Transaction
from tests.e2e.test_pages import block, messages_of, submitted
from tests.e2e.test_status_pages import T0, customer, rows, signed_in

__all__ = ["customer", "signed_in"]  # fixtures

SPEC_CODE = re.compile(r"\b(?:CC|CU)-\d+\b")


def submitted_fields(html: str, form_id: str) -> dict[str, str]:
    """The form's values as a browser would post them (the last of a repeated name)."""
    values = submitted(html, form_id).items()
    return {k: v[-1] for k, v in values if v and k != "csrfmiddlewaretoken"}


def _status_url(c: Customer) -> str:
    return f"/customers/{c.pk}/status/"


# --------------------------------------------------------------------------- item 7


def test_block_asks_first_then_acts_on_yes(signed_in: Any, customer: Customer) -> None:
    r = signed_in.post(_status_url(customer), {"action": "block", "reason": "fraud check"})
    assert r.status_code == 200
    html = r.content.decode()
    assert "Block the customer “Acme”?" in html
    customer.refresh_from_db()
    assert customer.blocked is False  # nothing changed before the clerk said yes
    again = submitted_fields(html, "confirm-form")
    assert again == {"action": "block", "reason": "fraud check", "confirmed": "1"}
    assert f'href="/customers/{customer.pk}/status/"' in block(html, "confirm-no")
    r = signed_in.post(_status_url(customer), again)
    assert r.status_code == 302
    customer.refresh_from_db()
    assert customer.blocked is True


def test_permanent_termination_says_so_and_unblock_does_not_ask(
    signed_in: Any, customer: Customer
) -> None:
    r = signed_in.post(_status_url(customer), {"action": "terminate", "permanent": "1"})
    assert r.status_code == 200
    assert "permanently? Nothing is possible afterwards" in r.content.decode()
    customer.refresh_from_db()
    assert customer.status == "open"
    r = signed_in.post(_status_url(customer), {"action": "export"})
    assert (r.status_code, "as exported?" in r.content.decode()) == (200, True)
    signed_in.post(_status_url(customer), {"action": "block", "confirmed": "1"})
    r = signed_in.post(_status_url(customer), {"action": "unblock"})
    assert r.status_code == 302  # giving back needs no confirmation
    customer.refresh_from_db()
    assert customer.blocked is False


def test_the_risky_buttons_carry_a_dialog(signed_in: Any, customer: Customer) -> None:
    html = signed_in.get(_status_url(customer)).content.decode()
    for form in ("form-block", "form-terminate", "form-export"):
        assert "data-confirm=" in block(html, form)


def test_delete_customer_asks_first(signed_in: Any, customer: Customer) -> None:
    r = signed_in.post(f"/customers/{customer.pk}/delete/")
    assert r.status_code == 200
    assert "Delete the customer “Acme”?" in r.content.decode()
    assert Customer.objects.filter(pk=customer.pk).exists()
    r = signed_in.post(f"/customers/{customer.pk}/delete/", {"confirmed": "1"}, follow=True)
    assert messages_of(r) == ["Customer “Acme” deleted."]
    assert not Customer.objects.filter(pk=customer.pk).exists()


def test_delete_class_asks_first(signed_in: Any, admin: Any) -> None:
    from billcore.classes.services import create_class

    spare = create_class(actor=admin, now=T0, data={"name": "Spare"})
    r = signed_in.post(f"/classes/{spare.pk}/delete/")
    assert r.status_code == 200
    assert CustomerClass.objects.filter(pk=spare.pk).exists()


def test_status_history_in_words(signed_in: Any, customer: Customer) -> None:
    signed_in.post(
        _status_url(customer), {"action": "terminate", "permanent": "0", "confirmed": "1"}
    )
    html = signed_in.get(_status_url(customer)).content.decode()
    [row] = rows(html, "status-history-table")
    assert "Open Provisionally terminated" in row
    assert "provisionally_terminated" not in html


def test_adjustment_has_no_default_action(signed_in: Any, customer: Customer) -> None:
    html = signed_in.get(f"/customers/{customer.pk}/").content.decode()
    dialog = block(html, "adjust-dialog")
    assert re.search(r'<option value="" selected>', dialog)
    r = signed_in.post(
        f"/customers/{customer.pk}/adjust/",
        {"action": "", "amount": "", "visible_comment": "Top-up", "internal_comment": ""},
    )
    assert r.status_code == 400
    html = r.content.decode()
    assert "Action is required" in block(html, "field-action")
    assert "Amount is required" in block(html, "field-amount")  # both at once
    assert not Transaction.objects.filter(customer=customer).exists()


# --------------------------------------------------------------------------- item 8


def test_customer_form_shows_every_error_it_can_see(signed_in: Any, customer: Customer) -> None:
    r = signed_in.post(
        "/customers/add/",
        {
            "name": "x" * 101,
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": customer.customer_class_id,
            "city": "y" * 101,
            "zip_code": "z" * 21,
            "email": "not-an-address",
            "country": "Germany",
        },
    )
    assert r.status_code == 400
    html = r.content.decode()
    bad = [
        f
        for f in ("name", "city", "zip_code", "email", "country")
        if re.search(rf'<div class="field[^"]*has-error[^"]*" id="field-{f}"', html)
    ]
    assert bad == ["name", "city", "zip_code", "email", "country"]
    assert not Customer.objects.filter(city="y" * 101).exists()


def test_country_is_a_select(signed_in: Any, customer: Customer) -> None:
    html = signed_in.get(f"/customers/{customer.pk}/").content.decode()
    country = block(html, "field-country")
    assert "<select" in country and '<option value="DE">Germany</option>' in country
    assert 'maxlength="2"' not in country
    data = submitted_fields(html, "customer-form")
    data["country"] = "DE"
    r = signed_in.post(f"/customers/{customer.pk}/", data)
    assert r.status_code == 302
    customer.refresh_from_db()
    assert customer.country == "DE"


# --------------------------------------------------------------------------- item 12


def test_no_spec_code_on_the_pages(signed_in: Any, customer: Customer) -> None:
    cls = customer.customer_class_id
    pages = [
        "/customers/",
        "/customers/add/",
        f"/customers/{customer.pk}/",
        _status_url(customer),
        f"/customers/{customer.pk}/accounts/",
        "/classes/",
        "/classes/add/",
        f"/classes/{cls}/",
        "/business-models/",
        "/settings/",
        "/notifications/templates/",
        "/users/",
        "/subscription-plans/",
        "/periods/",
    ]
    for url in pages:
        r = signed_in.get(url)
        if r.status_code == 404:
            continue
        assert r.status_code == 200, url
        visible = re.sub(r"<script.*?</script>|<!--.*?-->", "", r.content.decode(), flags=re.S)
        assert SPEC_CODE.findall(visible) == [], url


def test_a_service_message_reaches_the_page_without_its_code(
    signed_in: Any, customer: Customer
) -> None:
    far = "2099-01-01"
    r = signed_in.post(
        _status_url(customer),
        {"action": "terminate", "permanent": "0", "terminate_on": far, "confirmed": "1"},
    )
    assert r.status_code == 400
    [message] = messages_of(r)
    assert message.startswith("Terminate_on can be at most 20 days")
    assert not SPEC_CODE.search(r.content.decode())


def test_template_list_shows_example_subjects(signed_in: Any, customer: Customer) -> None:
    html = signed_in.get("/notifications/templates/").content.decode()
    table = block(html, "templates-table")
    assert "{{" not in re.sub(r'title="[^"]*"', "", table)
