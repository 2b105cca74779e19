"""DIDs over HTTP (issue 14; CU-13 DIDs tab): ``/api/v1/dids`` (with the CSV upload),
``/api/v1/did-batches``, ``/api/v1/did-groups``, ``/api/v1/customers/{id}/dids``. Exact JSON
values; every 4xx names its field and saves nothing; another reseller's numbers are 404."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from billcore.classes.services import create_class
from billcore.dids.models import Did, DidAssignment
from billcore.ledger.customers import create_customer
from billcore.ledger.models import Transaction
from tests.e2e.test_api import Api, _error, _token

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client: Any, admin: Any) -> Api:
    return Api(client, _token(admin))


@pytest.fixture
def acme(admin: Any) -> Any:
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


def _batch(api: Api) -> int:
    r = api.post(
        "/did-batches",
        {
            "name": "Standard",
            "currency": "USD",
            "additional_activation_fee": "3",
            "additional_recurring_fee": "1",
            "recurring_markup_percent": "10",
        },
    )
    assert r.status_code == 201, r.content
    return int(r.json()["id"])


def _did(api: Api, batch: int, number: str = "12065551234") -> dict[str, Any]:
    r = api.post(
        "/dids",
        {
            "number": number,
            "vendor_batch": "Vendor A",
            "activation_cost": "2.00",
            "periodic_cost": "5.00",
            "currency": "USD",
            "country": "US",
            "area": "Seattle",
            "pricing_batch": batch,
        },
    )
    assert r.status_code == 201, r.content
    return dict(r.json())


def test_inventory_assignment_and_release(api: Api, acme: Any) -> None:
    batch = _batch(api)
    did = _did(api, batch)
    assert {k: did[k] for k in ("number", "status", "activation_cost", "periodic_cost")} == {
        "number": "12065551234",
        "status": "not_in_use",
        "activation_cost": "2.00000",
        "periodic_cost": "5.00000",
    }
    r = api.get("/dids?search=1206%25")
    assert r.status_code == 200
    body = r.json()
    assert (body["count"], body["counts"]) == (
        1,
        {"in_use": 0, "not_in_use": 1, "frozen": 0, "total": 1},
    )
    r = api.post(f"/customers/{acme.pk}/dids", {"did": did["id"]})
    assert r.status_code == 201, r.content
    a = r.json()
    assert (a["number"], a["activation_price"], a["recurring_price"]) == (
        "12065551234",
        "5.00000",
        "6.50000",
    )
    fees = Transaction.objects.filter(customer=acme, action="subscription")
    assert [t.amount for t in fees] == [Decimal("5.00000")]
    r = api.get(f"/customers/{acme.pk}/dids")
    assert [x["number"] for x in r.json()] == ["12065551234"]
    r = api.post(f"/dids/{did['id']}/release")
    assert r.status_code == 200
    assert (r.json()["status"], r.json()["customer"]) == ("not_in_use", None)


def test_bad_input_names_the_field_and_saves_nothing(api: Api, acme: Any) -> None:
    batch = _batch(api)
    did = _did(api, batch)
    _error(
        api.post("/dids", {"number": "12x", "vendor_batch": "V", "currency": "USD"}), 400, "number"
    )
    _error(api.post("/did-batches", {"name": "Paid"}), 400, "currency", "required")
    _error(api.patch(f"/dids/{did['id']}", {"frozen": True, "country": "QQ"}), 400, "country")
    assert Did.objects.get(pk=did["id"]).status == "not_in_use"
    _error(api.post(f"/customers/{acme.pk}/dids", {"did": 999999}), 400, "did", "not_found")
    _error(api.get("/dids?search=12%5B"), 400, "search")
    _error(api.post(f"/dids/{did['id']}/release"), 400, "did", "not_in_use")
    assert DidAssignment.objects.count() == 0
    assert not Transaction.objects.filter(customer=acme, action="subscription").exists()


def test_csv_upload(api: Api) -> None:
    csv = b"number,vendor_batch,periodic_cost\n15550001,V,1.5\nabc,V,1\n"
    r = api.post("/dids/import?currency=USD", raw=csv, CONTENT_TYPE="text/csv")
    assert r.status_code == 200, r.content
    assert r.json() == {
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "errors": [
            {
                "line": 3,
                "field": "number",
                "message": "number: 'abc' is not a number of 3 to 20 digits (E.164, '+' optional)",
            }
        ],
    }
    r = api.post("/dids/import?currency=USD", raw=csv, CONTENT_TYPE="text/csv")
    assert (r.json()["created"], r.json()["unchanged"]) == (0, 1)
    _error(api.post("/dids/import", raw=b"number\n1\n", CONTENT_TYPE="text/csv"), 400, "file")


def test_reseller_isolation(client: Any, world: dict[str, Any]) -> None:
    admin, ua, ub = world["admin"], world["ua"], world["ub"]
    api = Api(client, _token(admin))
    batch = _batch(api)
    did = _did(api, batch)
    ca = create_customer(
        actor=ua,
        now=T0,
        data={
            "name": "A's customer",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": world["classes"]["a"].pk,
        },
    )
    a = Api(client, _token(ua))
    b = Api(client, _token(ub))
    assert a.post(f"/customers/{ca.pk}/dids", {"did": did["id"]}).status_code == 201
    assert b.get(f"/dids/{did['id']}").status_code == 404
    assert b.get("/dids").json()["count"] == 0
    assert b.get(f"/customers/{ca.pk}/dids").status_code == 404
    assert b.post(f"/dids/{did['id']}/release").status_code == 400
    assert Did.objects.get(pk=did["id"]).customer_id == ca.pk
    assert a.get("/dids").json()["count"] == 1
    assert a.post("/did-batches", {"name": "Mine", "currency": "USD"}).status_code == 404
    assert a.patch(f"/dids/{did['id']}", {"area": "x"}).status_code == 404
