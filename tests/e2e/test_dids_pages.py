"""The Numbers pages and the customer's DIDs tab (issue 14; CU-13): the inventory with its
quick filters, vanity search and CSV upload; pricing batches; the tab's assign, move and
release. Django's test client signed in; a refused input shows its error beside it and saves
nothing; resellers' users see only their own."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from html import unescape
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from billcore.classes.services import create_class
from billcore.customers.models import Customer
from billcore.dids import services
from billcore.dids.models import Did, DidAssignment, PricingBatch
from billcore.ledger.customers import create_customer
from billcore.ledger.models import Transaction
from billcore.subscribers.services import create_account
from tests.e2e.test_pages import assert_error_beside, block, messages_of
from tests.e2e.test_subscriptions_pages import rows

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def signed_in(client: Any, admin: Any) -> Any:
    client.force_login(admin)
    return client


@pytest.fixture
def acme(admin: Any) -> Customer:
    cls = create_class(actor=admin, now=T0, data={"name": "Direct USD", "currency": "USD"})
    return create_customer(
        actor=admin,
        now=T0,
        data={
            "name": "Acme",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": cls.pk,
        },
    )


@pytest.fixture
def batch(admin: Any) -> PricingBatch:
    return services.create_pricing_batch(
        actor=admin,
        now=T0,
        data={
            "name": "Standard",
            "currency": "USD",
            "additional_activation_fee": "3",
            "additional_recurring_fee": "1",
            "recurring_markup_percent": "10",
        },
    )


def _did(admin: Any, batch: PricingBatch, number: str, **data: Any) -> Did:
    return services.create_did(
        actor=admin,
        now=T0,
        data={
            "number": number,
            "vendor_batch": "Vendor A",
            "activation_cost": "2",
            "periodic_cost": "5",
            "currency": "USD",
            "country": "US",
            "area": "Seattle",
            "pricing_batch": batch.pk,
            **data,
        },
    )


def test_inventory_page_counts_search_and_upload(signed_in: Any, admin: Any, batch: Any) -> None:
    _did(admin, batch, "18005558647")
    _did(admin, batch, "12065551234", frozen=True)
    r = signed_in.get("/dids/")
    assert r.status_code == 200
    counts = block(r.content, "did-counts")
    assert ">2<" in counts and ">1<" in counts
    r = signed_in.get("/dids/?q=1800%25VOIP")
    assert [x.split(" ")[0] for x in rows(r.content, "did-table")] == ["18005558647"]
    r = signed_in.get("/dids/?q=18[")
    assert r.status_code == 400
    assert "neither a digit" in block(r.content, "did-search-error")
    csv = b"number,vendor_batch,periodic_cost\n15550001,V,1.5\nabc,V,1\n"
    r = signed_in.post(
        "/dids/",
        {"file": SimpleUploadedFile("n.csv", csv, "text/csv"), "currency": "USD"},
    )
    assert r.status_code == 200
    assert messages_of(r) == ["Uploaded: 1 created, 0 updated, 0 unchanged, 1 refused."]
    assert rows(r.content, "did-upload-errors") == [
        "3 number number: 'abc' is not a number of 3 to 20 digits (E.164, '+' optional)"
    ]
    assert Did.objects.filter(number="15550001").exists()
    r = signed_in.post("/dids/", {"file": SimpleUploadedFile("n.csv", b"area\nx\n", "text/csv")})
    assert r.status_code == 400
    assert "the header has no 'number' column" in unescape(block(r.content, "did-file-error"))


def test_pricing_batch_page_refuses_bad_input(signed_in: Any) -> None:
    r = signed_in.post("/dids/batches/", {"name": "Paid", "free_of_charge": "false"})
    assert r.status_code == 400
    assert_error_beside(r, "currency", "Currency is required for a fee-paying batch")
    assert not PricingBatch.objects.exists()
    r = signed_in.post(
        "/dids/batches/",
        {"name": "Paid", "currency": "USD", "recurring_markup_percent": "12.5"},
    )
    assert r.status_code == 302
    assert PricingBatch.objects.get().recurring_markup_percent == Decimal("12.50000")


def test_customer_tab_assign_move_release(
    signed_in: Any, admin: Any, acme: Customer, batch: Any
) -> None:
    did = _did(admin, batch, "12065551234")
    frozen = _did(admin, batch, "12065550000", frozen=True)
    acc = create_account(actor=admin, now=T0, customer_id=acme.pk, data={"identifier": "a1"})
    page = signed_in.get(f"/customers/{acme.pk}/").content.decode()
    assert 'id="tab-dids"' in page and 'id="did-assign-form"' in page
    assert "csrfmiddlewaretoken" in block(page, "did-assign-form")
    r = signed_in.post(f"/customers/{acme.pk}/dids/", {"did": frozen.number, "account": ""})
    assert r.status_code == 400
    assert_error_beside(r, "did", "12065550000 is frozen and cannot be assigned")
    assert not DidAssignment.objects.exists()
    r = signed_in.post(f"/customers/{acme.pk}/dids/", {"did": "+1 206 555 1234", "account": ""})
    assert r.status_code == 302
    a = DidAssignment.objects.get()
    assert (a.activation_price, a.recurring_price) == (Decimal("5.00000"), Decimal("6.50000"))
    fees = Transaction.objects.filter(customer=acme, action="subscription")
    assert [t.amount for t in fees] == [Decimal("5.00000")]
    page = signed_in.get(f"/customers/{acme.pk}/").content.decode()
    assert rows(page, "did-tab-table")[0].startswith("12065551234")
    r = signed_in.post(f"/dids/{did.pk}/account/", {"account": str(acc.pk)})
    assert r.status_code == 302
    assert Did.objects.get(pk=did.pk).account_id == acc.pk
    r = signed_in.post(f"/dids/{did.pk}/release/")
    assert r.status_code == 302
    assert Did.objects.get(pk=did.pk).status == "not_in_use"


def test_resellers_see_only_their_own(client: Any, world: dict[str, Any], batch: Any) -> None:
    admin = world["admin"]
    did = _did(admin, batch, "12065551234")
    cb = create_customer(
        actor=world["ub"],
        now=T0,
        data={
            "name": "B's customer",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": world["classes"]["b"].pk,
        },
    )
    services.assign(actor=world["ub"], now=T0, did_id=did.pk, customer_id=cb.pk)
    client.force_login(world["ua"])
    assert client.get("/dids/batches/").status_code == 404
    assert client.get(f"/dids/{did.pk}/").status_code == 404
    r = client.get("/dids/")
    assert rows(r.content, "did-table") == ["No numbers."]
    assert client.post(f"/dids/{did.pk}/release/").status_code == 404
    assert Did.objects.get(pk=did.pk).customer_id == cb.pk
