"""Issue 16 §1: the self-care parts of the plans and tabs issues — the customer's numbers
(DIDs, read-only) and its speed dial (abbreviated dialing: add and delete, errors naming the
field, read-only when provisionally terminated, CU-16), on the pages and ``/api/v1/me``."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
from django.test import Client

from billcore.customers.models import Customer, Status
from billcore.features.models import AbbreviatedNumber
from billcore.features.services import set_max_length
from tests.selfcare_support import PASSWORD_A, T0, make_world

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def w(admin):
    return make_world(admin, now=T0)


def signed_in(login: str, password: str) -> Client:
    client = Client()
    response = client.post("/my/login/", {"login": login, "password": password})
    assert response.status_code == 302
    return client


def _assign_did(admin, customer_id: int, account_id: int | None, number: str):
    from billcore.dids import services

    batch = services.create_pricing_batch(
        actor=admin,
        now=T0,
        data={
            "name": f"Batch {number}",
            "currency": "USD",
            "additional_activation_fee": "3.00",
            "additional_recurring_fee": "1.00",
            "recurring_markup_percent": "10",
        },
    )
    did = services.create_did(
        actor=admin,
        now=T0,
        data={
            "number": number,
            "vendor_batch": "Vendor A",
            "activation_cost": "2.00",
            "periodic_cost": "5.00",
            "currency": "USD",
            "country": "US",
            "pricing_batch": batch.pk,
        },
    )
    at = T0 + dt.timedelta(days=1)
    return services.assign(
        actor=admin, now=at, did_id=did.pk, customer_id=customer_id, account_id=account_id
    )


def test_numbers_page_and_api_show_own_dids_exact(w, admin):
    """Supplier 5.00 a month, +10% and +1.00: 6.50 per period (the DIDs reference)."""
    _assign_did(admin, w["a"].pk, w["a2"].pk, "12065551234")
    _assign_did(admin, w["b"].pk, None, "12065559999")
    a = signed_in("alice", PASSWORD_A)
    page = a.get("/my/numbers/").content.decode()
    rows = re.findall(r'<tr id="number-\d+">(.*?)</tr>', page, re.S)
    assert len(rows) == 1
    cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", rows[0])]
    assert cells == ["+12065551234", "+15550002", "6.50", "2026-11-03"]
    assert "12065559999" not in page
    token = a.post(
        "/api/v1/me/login",
        json.dumps({"login": "alice", "password": PASSWORD_A}),
        content_type="application/json",
    ).json()["token"]
    dids = Client().get("/api/v1/me/dids", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert dids == [
        {
            "number": "+12065551234",
            "account": "+15550002",
            "recurring_price": "6.50000",
            "assigned_at": "2026-11-03T09:00:00Z",
        }
    ]


def test_speed_dial_add_and_delete_on_the_page(w, admin):
    set_max_length(actor=admin, now=T0, customer_id=w["a"].pk, max_length=2)
    a = signed_in("alice", PASSWORD_A)
    # Errors name the field and save nothing.
    response = a.post("/my/speed-dial/", {"abbreviated": "123", "number": "+442071234567"})
    assert response.status_code == 400
    assert b"Abbreviated: 123 is longer than the maximum abbreviated length (2 digits)" in (
        response.content
    )
    response = a.post("/my/speed-dial/", {"abbreviated": "12", "number": "not a number"})
    assert response.status_code == 400
    assert b"Number must be an account of this customer" in response.content
    response = a.post("/my/speed-dial/", {"abbreviated": "12", "account": str(w["b1"].pk)})
    assert response.status_code == 404
    assert AbbreviatedNumber.objects.count() == 0
    # Added: one to an account, one to an E.164 number.
    response = a.post("/my/speed-dial/", {"abbreviated": "11", "account": str(w["a2"].pk)})
    assert response.status_code == 302
    response = a.post(
        "/my/speed-dial/",
        {"abbreviated": "12", "number": "+44 20 7123 4567", "description": "London"},
    )
    assert response.status_code == 302
    entries = list(
        AbbreviatedNumber.objects.order_by("abbreviated").values_list(
            "customer_id", "abbreviated", "number", "account_id", "description"
        )
    )
    assert entries == [
        (w["a"].pk, "11", "+15550002", w["a2"].pk, ""),
        (w["a"].pk, "12", "442071234567", None, "London"),
    ]
    page = a.get("/my/speed-dial/").content.decode()
    assert "London" in page and "at most 2 digits" in page
    # A duplicate names the field.
    response = a.post("/my/speed-dial/", {"abbreviated": "12", "number": "+15550001"})
    assert response.status_code == 400
    assert b"Abbreviated: 12 is already in the list" in response.content
    # Deleted.
    london = AbbreviatedNumber.objects.get(abbreviated="12")
    assert a.post(f"/my/speed-dial/{london.pk}/delete/").status_code == 302
    assert list(AbbreviatedNumber.objects.values_list("abbreviated", flat=True)) == ["11"]


def test_speed_dial_through_the_api(w, admin):
    set_max_length(actor=admin, now=T0, customer_id=w["a"].pk, max_length=3)
    client = Client()
    token = client.post(
        "/api/v1/me/login",
        json.dumps({"login": "alice", "password": PASSWORD_A}),
        content_type="application/json",
    ).json()["token"]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    url = "/api/v1/me/abbreviated-dialing"
    bad = client.post(url, json.dumps({"abbreviated": "12a"}), "application/json", **auth)
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "abbreviated"
    made = client.post(
        url, json.dumps({"abbreviated": "7", "account": w["a1"].pk}), "application/json", **auth
    )
    assert made.status_code == 201
    entry = made.json()
    assert entry["abbreviated"] == "7" and entry["number"] == "+15550001"
    assert entry["account"] == w["a1"].pk
    listed = client.get(url, **auth).json()
    assert listed == {"max_length": 3, "entries": [entry]}
    assert client.delete(f"{url}/{entry['id']}", **auth).status_code == 204
    assert client.get(url, **auth).json() == {"max_length": 3, "entries": []}
    assert client.delete(f"{url}/{entry['id']}", **auth).status_code == 404


def test_speed_dial_read_only_when_provisionally_terminated(w, admin):
    set_max_length(actor=admin, now=T0, customer_id=w["a"].pk, max_length=2)
    a = signed_in("alice", PASSWORD_A)
    added = a.post("/my/speed-dial/", {"abbreviated": "11", "number": "+15557777"})
    assert added.status_code == 302
    Customer.objects.filter(pk=w["a"].pk).update(status=Status.PROVISIONALLY_TERMINATED)
    page = a.get("/my/speed-dial/")
    assert page.status_code == 200
    assert b"Not while self-care is read-only" in page.content
    assert b'id="speed-dial-form"' not in page.content and b"Delete" not in page.content
    response = a.post("/my/speed-dial/", {"abbreviated": "12", "number": "+15557777"})
    assert response.status_code == 403
    entry = AbbreviatedNumber.objects.get()
    assert a.post(f"/my/speed-dial/{entry.pk}/delete/").status_code == 302
    assert AbbreviatedNumber.objects.count() == 1
