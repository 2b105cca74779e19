"""Charging over HTTP (issue 3): xDRs one and in batches, authorise, reservations."""

from decimal import Decimal

import pytest

from billcore.charging.models import Xdr
from billcore.customers.models import Customer
from tests.e2e.test_api import Api, _error, _token


@pytest.fixture
def api(client, admin):
    return Api(client, _token(admin))


@pytest.fixture
def prepaid(api):
    r = api.post(
        "/customers",
        {"name": "Caller", "currency": "USD", "balance_control": "prepaid", "available_funds": "5"},
    )
    assert r.status_code == 201, r.content
    return r.json()["id"]


def test_post_xdr_allowed_denied_and_replayed(api, prepaid):
    body = {
        "customer": prepaid,
        "service": "voice",
        "amount": "4.5",
        "quantity": "90",
        "unit": "s",
        "started_at": "2026-11-01T10:00:00Z",
        "details": {"cli": "+1555", "cld": "+1666"},
        "external_id": "cdr-1",
    }
    r = api.post("/xdrs", body)
    assert r.status_code == 201, r.content
    assert {k: r.json()[k] for k in ("allowed", "reason", "balance", "available_funds")} == {
        "allowed": True,
        "reason": "",
        "balance": "-0.50000",
        "available_funds": "0.50000",
    }
    again = api.post("/xdrs", body)
    assert (again.status_code, again.json()["xdr_id"], again.json()["replayed"]) == (
        200,
        r.json()["xdr_id"],
        True,
    )
    denied = api.post("/xdrs", body | {"external_id": "cdr-2", "amount": "1"})
    assert denied.status_code == 201
    assert (denied.json()["allowed"], denied.json()["reason"], denied.json()["message"]) == (
        False,
        "insufficient_funds",
        "the customer's available funds do not cover the amount",
    )
    assert Xdr.objects.get(external_id="cdr-2").status == "denied"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"service": "fax", "amount": "1"}, "service"),
        ({"service": "voice", "amount": 1}, "amount"),
        ({"service": "voice", "amount": "1e1"}, "amount"),
        ({"service": "voice"}, "amount"),
        ({"service": "voice", "amount": "1", "started_at": "2026-11-01T10:00:00"}, "started_at"),
        ({"service": "voice", "amount": "1", "colour": "x"}, "colour"),
    ],
)
def test_bad_xdr(api, prepaid, body, field):
    _error(api.post("/xdrs", {"customer": prepaid} | body), 400, field)
    assert Xdr.objects.count() == 0


def test_batch_reports_each_record(api, prepaid):
    r = api.post(
        "/xdrs/batch",
        {
            "xdrs": [
                {"customer": prepaid, "service": "data", "amount": "2", "external_id": "b1"},
                {"customer": prepaid, "service": "data", "amount": "-2", "external_id": "b2"},
                {"customer": prepaid, "service": "data", "amount": "4", "external_id": "b3"},
                {"customer": 999999, "service": "data", "amount": "1"},
                {"customer": prepaid, "service": "data", "amount": "3", "external_id": "b4"},
            ]
        },
    )
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["charged"], body["denied"], body["rejected"]) == (2, 1, 2)
    assert [i.get("error") and i["error"]["field"] for i in body["items"]] == [
        None,
        "amount",
        None,
        "customer",
        None,
    ]
    assert body["items"][2]["result"]["reason"] == "insufficient_funds"
    assert Customer.objects.get(pk=prepaid).balance == Decimal("0.00000")


def test_authorize_and_reservations(api, prepaid):
    r = api.post("/authorize", {"customer": prepaid, "amount": "5"})
    assert (r.status_code, r.json()["allowed"]) == (200, True)
    res = api.post(
        "/reservations", {"customer": prepaid, "service": "voice", "amount": "4", "seconds": 120}
    )
    assert (res.status_code, res.json()["status"], res.json()["available_funds"]) == (
        201,
        "open",
        "1.00000",
    )
    assert api.post("/authorize", {"customer": prepaid, "amount": "2"}).json()["reason"] == (
        "insufficient_funds"
    )
    rid = res.json()["reservation_id"]
    c = api.post(f"/reservations/{rid}/commit", {"amount": "3.25", "external_id": "sess-1"})
    assert (c.status_code, c.json()["status"], c.json()["available_funds"]) == (
        200,
        "committed",
        "1.75000",
    )
    _error(api.post(f"/reservations/{rid}/release"), 400, "reservation", "reservation_committed")
    denied = api.post("/reservations", {"customer": prepaid, "service": "voice", "amount": "2"})
    assert (denied.status_code, denied.json()["allowed"], denied.json()["reservation_id"]) == (
        200,
        False,
        None,
    )
    assert api.post("/reservations/999999/release").status_code == 404
