"""The invoice list and the invoice's actions over HTTP (issue 17): ``GET /api/v1/invoices``
with its filters, a reseller's user seeing only its customers' invoices, bad filters as 400s
naming the parameter, and the action endpoints; the page ``/invoices/`` with the same filters.
Exact JSON values."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from typing import Any

import pytest
from django.db import transaction

from billcore.classes.services import create_class
from billcore.invoicing.issuing import issue_out_of_turn_invoice
from billcore.invoicing.models import Invoice
from billcore.invoicing.settling import record_transaction
from billcore.ledger.customers import create_customer
from billcore.ledger.postings import post_locked
from tests.e2e.test_api import Api, _error, _token

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 1, 10, 9, 0, tzinfo=dt.UTC)


def day(d: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2026, 1, d, hour, tzinfo=dt.UTC)


def _customer(actor: Any, name: str, *, email: str = "") -> Any:
    cls = create_class(
        actor=actor,
        now=T0,
        data={"name": f"{name} class", "currency": "USD", "allow_out_of_turn_invoices": True},
    )
    return create_customer(
        actor=actor,
        now=T0,
        data={
            "name": name,
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": cls.pk,
            "email": email,
        },
    )


def _invoice(actor: Any, customer: Any, amount: str, when: dt.datetime) -> Invoice:
    with transaction.atomic():
        post_locked(customer_id=customer.pk, action="manual_charge", amount=D(amount), now=when)
    return issue_out_of_turn_invoice(
        actor=actor, now=when + dt.timedelta(minutes=1), customer_id=customer.pk
    )


@pytest.fixture
def books(world: Any) -> dict[str, Any]:
    """Three customers: the installation's (two invoices), reseller A's, reseller B's."""
    admin, ua, ub = world["admin"], world["ua"], world["ub"]
    own = _customer(admin, "Own", email="own@example.com")
    a = _customer(ua, "A Sub")
    b = _customer(ub, "B Sub")
    inv = {
        "own1": _invoice(admin, own, "10", day(11)),
        "own2": _invoice(admin, own, "20", day(15)),
        "a1": _invoice(ua, a, "30", day(12)),
        "b1": _invoice(ub, b, "40", day(13)),
    }
    record_transaction(
        actor=admin, now=day(16), customer_id=own.pk, action="manual_payment", amount="15"
    )
    return {**world, "own": own, "a": a, "b": b, "inv": inv}


def _numbers(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["number"] for item in response.json()["items"]]


def test_the_list_and_its_filters(client: Any, books: Any) -> None:
    api = Api(client, _token(books["admin"]))
    ra, rb = books["ra"].pk, books["rb"].pk
    everything = api.get("/invoices")
    assert _numbers(everything) == [
        "INV-0000002",
        f"R{rb}-0000001",
        f"R{ra}-0000001",
        "INV-0000001",
    ]
    first = everything.json()["items"][-1]
    assert {k: first[k] for k in ("number", "customer", "customer_name", "reseller", "status")} == {
        "number": "INV-0000001",
        "customer": books["own"].pk,
        "customer_name": "Own",
        "reseller": None,
        "status": "paid",
    }
    assert (first["total"], first["amount_paid"], first["amount_due"]) == (
        "10.00000",
        "10.00000",
        "0.00000",
    )
    assert everything.json()["count"] == 4
    assert _numbers(api.get("/invoices?status=partly_paid")) == ["INV-0000002"]
    assert _numbers(api.get("/invoices?status=paid")) == ["INV-0000001"]
    assert _numbers(api.get("/invoices?kind=regular")) == []
    assert len(_numbers(api.get("/invoices?kind=out_of_turn"))) == 4
    assert _numbers(api.get(f"/invoices?customer={books['own'].pk}")) == [
        "INV-0000002",
        "INV-0000001",
    ]
    assert _numbers(api.get(f"/invoices?reseller={ra}")) == [f"R{ra}-0000001"]
    assert _numbers(api.get("/invoices?reseller=0")) == ["INV-0000002", "INV-0000001"]
    assert _numbers(api.get("/invoices?issued_from=2026-01-12&issued_to=2026-01-13")) == [
        f"R{rb}-0000001",
        f"R{ra}-0000001",
    ]
    assert _numbers(api.get("/invoices?number=inv-0000002")) == ["INV-0000002"]
    assert _numbers(api.get("/invoices?limit=1&offset=1")) == [f"R{rb}-0000001"]
    # Bad values: a 400 naming the parameter.
    _error(api.get("/invoices?status=bogus"), 400, "status", "invalid_choice")
    _error(api.get("/invoices?kind=weekly"), 400, "kind", "invalid_choice")
    _error(api.get("/invoices?customer=abc"), 400, "customer")
    _error(api.get("/invoices?issued_from=2026-13-01"), 400, "issued_from")
    _error(api.get("/invoices?issued_from=2026-01-12&issued_to=2026-01-01"), 400, "issued_to")


def test_a_resellers_user_sees_only_its_customers_invoices(client: Any, books: Any) -> None:
    ra = books["ra"].pk
    api = Api(client, _token(books["ua"]))
    assert _numbers(api.get("/invoices")) == [f"R{ra}-0000001"]
    assert _numbers(api.get(f"/invoices?customer={books['own'].pk}")) == []
    assert _numbers(api.get("/invoices?number=INV")) == []
    own1 = books["inv"]["own1"].pk
    _error(api.get(f"/invoices/{own1}"), 404, "id")
    _error(api.post(f"/invoices/{own1}/void", {}), 404, "id")
    _error(api.post(f"/invoices/{books['inv']['b1'].pk}/resend"), 404, "id")


def test_the_actions_over_http(client: Any, books: Any) -> None:
    api = Api(client, _token(books["admin"]))
    own1, own2 = books["inv"]["own1"], books["inv"]["own2"]
    # A paid invoice is not voided: 409 naming status.
    _error(api.post(f"/invoices/{own1.pk}/void", {}), 409, "status", "not_voidable")
    voided = api.post(f"/invoices/{own2.pk}/void", {"reason": "Wrong rate"})
    assert voided.status_code == 201, voided.content
    note = voided.json()
    assert {k: note[k] for k in note if k not in ("id", "issued_at", "customer")} == {
        "number": "CN-0000001",
        "invoice": own2.pk,
        "invoice_number": "INV-0000002",
        "currency": "USD",
        "reason": "Wrong rate",
        "charges": "20.00000",
        "taxes": "0.00000",
        "rounding": "0.00000",
        "total": "20.00000",
        "paid_before": "5.00000",
        "status_before": "partly_paid",
        "balance_after": "-5.00000",
    }
    detail = api.get(f"/invoices/{own2.pk}").json()
    assert (detail["status"], detail["credit_note"]["number"]) == ("void", "CN-0000001")
    got = api.get(f"/credit-notes/{note['id']}/pdf")
    assert got.status_code == 200 and got["Content-Type"] == "application/pdf"
    assert _numbers(api.get("/invoices?status=void")) == ["INV-0000002"]
    # The own customer has an e-mail address; a's has none.
    resent = api.post(f"/invoices/{own1.pk}/resend")
    assert resent.status_code == 202, resent.content
    assert resent.json()["to_address"] == "own@example.com"
    _error(api.post(f"/invoices/{books['inv']['a1'].pk}/resend"), 400, "email", "no_email")
    rendered = api.post(f"/invoices/{own1.pk}/pdf/render")
    assert (rendered.status_code, rendered.json()) == (201, {"version": 1})
    rendered = api.post(f"/invoices/{own1.pk}/pdf/render")
    assert (rendered.status_code, rendered.json()) == (201, {"version": 2})
    assert [v["version"] for v in api.get(f"/invoices/{own1.pk}").json()["pdf_versions"]] == [
        2,
        1,
    ]
    a1 = books["inv"]["a1"]
    paid = api.post(f"/invoices/{a1.pk}/payments", {"amount": "30"})
    assert paid.status_code == 201, paid.content
    assert (paid.json()["amount"], paid.json()["invoice"]["status"]) == ("-30.00000", "paid")
    _error(api.post(f"/invoices/{a1.pk}/payments", {"amount": "-1"}), 400, "amount")


def test_the_page_filters_and_isolates(client: Any, books: Any) -> None:
    ra = books["ra"].pk
    client.force_login(books["admin"])
    page = client.get("/invoices/?status=partly_paid")
    assert page.status_code == 200
    html = page.content.decode()
    assert "INV-0000002" in html and "INV-0000001" not in html
    bad = client.get("/invoices/?issued_from=yesterday")
    assert bad.status_code == 400
    assert "Issued from must be a date" in bad.content.decode()
    client.force_login(books["ua"])
    html = client.get("/invoices/").content.decode()
    assert f"R{ra}-0000001" in html and "INV-0000001" not in html
    assert client.get(f"/invoices/{books['inv']['own1'].pk}/").status_code == 404
    assert client.post(f"/invoices/{books['inv']['own2'].pk}/void/").status_code == 404


def test_the_invoice_page_actions(client: Any, books: Any) -> None:
    client.force_login(books["admin"])
    own1, own2, a1 = (books["inv"][k] for k in ("own1", "own2", "a1"))
    page = client.get(f"/invoices/{own2.pk}/")
    html = page.content.decode()
    assert 'value="15.00"' in html  # the amount due, ready to pay
    assert "settles the oldest unpaid invoice first" in html
    # A bad amount: the form again, the error beside the amount, nothing posted.
    bad = client.post(f"/invoices/{own2.pk}/pay/", {"amount": "ten", "action": "manual_payment"})
    assert bad.status_code == 400
    assert 'id="id_amount-error"' in bad.content.decode()
    paid = client.post(f"/invoices/{own2.pk}/pay/", {"amount": "15", "action": "manual_payment"})
    assert paid.status_code == 302
    own2.refresh_from_db()
    assert own2.status == "paid"
    # Resend: refused without an e-mail address, with the reason.
    refused = client.post(f"/invoices/{a1.pk}/resend/", follow=True)
    assert "not sent" in refused.content.decode() and "has no e-mail address" in (
        refused.content.decode()
    )
    sent = client.post(f"/invoices/{own1.pk}/resend/", follow=True)
    assert "queued for own@example.com" in sent.content.decode()
    # Re-render twice: versions 1 and 2, both listed, the download serves the newest.
    client.post(f"/invoices/{own1.pk}/render/")
    again = client.post(f"/invoices/{own1.pk}/render/", follow=True).content.decode()
    assert "rendered again as version 2" in again
    assert f"/invoices/{own1.pk}/pdf/v1/" in again and f"/invoices/{own1.pk}/pdf/v2/" in again
    assert client.get(f"/invoices/{own1.pk}/pdf/v1/").status_code == 200
    assert client.get(f"/invoices/{own1.pk}/pdf/v3/").status_code == 404
    # A paid invoice is not voided: the reason names its status.
    # Voiding asks first (a page that works without JavaScript), then acts.
    asked = client.post(f"/invoices/{own1.pk}/void/").content.decode()
    assert "Void invoice INV-0000001? A credit note reverses its" in asked
    refused = client.post(
        f"/invoices/{own1.pk}/void/", {"confirmed": "1"}, follow=True
    ).content.decode()
    assert "Invoice INV-0000001 not voided: invoice INV-0000001 is paid" in refused
