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
        ({"service": "voice"}, "cld"),  # no amount: rated, so the called number is needed
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


def test_xdr_list_csv_and_statistics(api, prepaid):
    for i, (service, amount, qty) in enumerate(
        [("voice", "1.5", "60"), ("voice", "0.25", "10"), ("data", "2", "1024"), ("data", "9", "1")]
    ):
        api.post(
            "/xdrs",
            {
                "customer": prepaid,
                "service": service,
                "amount": amount,
                "quantity": qty,
                "unit": "s" if service == "voice" else "MB",
                "started_at": f"2026-11-0{i + 1}T10:00:00Z",
                "details": {"cld": f"+1{i}"},
                "external_id": f"s{i}",
            },
        )
    page = api.get(f"/customers/{prepaid}/xdrs?service=voice").json()
    assert page["count"] == 2
    assert [(x["amount"], x["quantity"]) for x in page["items"]] == [
        ("0.25000", "10.00000"),
        ("1.50000", "60.00000"),
    ]
    window = api.get(
        f"/customers/{prepaid}/xdrs?from=2026-11-02T00:00:00Z&to=2026-11-04T00:00:00Z"
    ).json()
    assert [x["external_id"] for x in window["items"]] == ["s2", "s1"]
    assert api.get(f"/customers/{prepaid}/xdrs?status=denied").json()["count"] == 1
    csv_response = api.get(f"/customers/{prepaid}/xdrs.csv?service=data")
    assert csv_response.status_code == 200
    lines = b"".join(csv_response.streaming_content).decode().splitlines()
    assert lines[0] == (
        "id,started_at,account,service,quantity,unit,amount,status,deny_reason,external_id,details"
    )
    assert [line.split(",")[3:10] for line in lines[1:]] == [
        ["data", "1.00000", "MB", "9.00000", "denied", "insufficient_funds", "s3"],
        ["data", "1024.00000", "MB", "2.00000", "charged", "", "s2"],
    ]
    stats = api.get(f"/customers/{prepaid}/statistics").json()
    assert stats["services"] == [
        {
            "service": "data",
            "charged": 1,
            "denied": 1,
            "quantity": "1024.00000",
            "amount": "2.00000",
        },
        {
            "service": "voice",
            "charged": 2,
            "denied": 0,
            "quantity": "70.00000",
            "amount": "1.75000",
        },
    ]
    assert stats["total_amount"] == "3.75000"


def test_accounts_and_transfers_over_http(api):
    cls = api.post("/customer-classes", {"name": "Family", "s2s_transfers_allowed": True}).json()
    cust = api.post(
        "/customers",
        {
            "name": "Family One",
            "currency": "USD",
            "balance_control": "prepaid",
            "available_funds": "50",
            "customer_class": cls["id"],
        },
    ).json()
    a = api.post(
        f"/customers/{cust['id']}/accounts", {"identifier": "+15550001", "account_type": "debit"}
    )
    b = api.post(
        f"/customers/{cust['id']}/accounts", {"identifier": "+15550002", "account_type": "debit"}
    )
    assert (a.status_code, a.json()["available_funds"]) == (201, "0.00000")
    _error(
        api.post(f"/customers/{cust['id']}/accounts", {"identifier": "+15550001"}),
        400,
        "identifier",
        "duplicate",
    )
    r = api.post(
        f"/customers/{cust['id']}/transactions", {"action": "Manual payment", "amount": "10"}
    )
    assert r.status_code == 201
    top_up = api.post(
        f"/customers/{cust['id']}/transactions",
        {"action": "Manual payment", "amount": "10", "account": a.json()["id"]},
    )
    assert (top_up.status_code, top_up.json()["available_funds"]) == (201, "70.00000")
    headers = {"HTTP_IDEMPOTENCY_KEY": "t-1"}
    body = {"from_account": a.json()["id"], "to_account": b.json()["id"], "amount": "4"}
    t1 = api.post("/transfers", body, **headers)
    assert (t1.status_code, t1.json()["from_available_funds"], t1.json()["to_available_funds"]) == (
        201,
        "6.00000",
        "4.00000",
    )
    t2 = api.post("/transfers", body, **headers)
    assert (t2.status_code, t2.json()["from_transaction"]) == (200, t1.json()["from_transaction"])
    _error(api.post("/transfers", body | {"amount": "7"}), 400, "amount", "insufficient_funds")
    listing = api.get(f"/customers/{cust['id']}/accounts").json()
    assert [(x["identifier"], x["balance"]) for x in listing] == [
        ("+15550001", "-6.00000"),
        ("+15550002", "-4.00000"),
    ]
    p = api.patch(f"/accounts/{b.json()['id']}", {"blocked": True})
    assert (p.status_code, p.json()["blocked"]) == (200, True)


def test_idempotency_key_header_for_xdrs_and_reservations(api, prepaid):
    body = {"customer": prepaid, "service": "voice", "amount": "1"}
    first = api.post("/xdrs", body, HTTP_IDEMPOTENCY_KEY="h-1")
    again = api.post("/xdrs", body, HTTP_IDEMPOTENCY_KEY="h-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["xdr_id"] == first.json()["xdr_id"]
    assert Xdr.objects.get(pk=first.json()["xdr_id"]).external_id == "h-1"
    _error(
        api.post("/xdrs", body | {"external_id": "other"}, HTTP_IDEMPOTENCY_KEY="h-1"),
        400,
        "external_id",
        "idempotency_key_mismatch",
    )
    res = {"customer": prepaid, "service": "voice", "amount": "2"}
    r1 = api.post("/reservations", res, HTTP_IDEMPOTENCY_KEY="r-1")
    r2 = api.post("/reservations", res, HTTP_IDEMPOTENCY_KEY="r-1")
    assert (r1.status_code, r2.status_code, r2.json()["reservation_id"]) == (
        201,
        200,
        r1.json()["reservation_id"],
    )
    assert Customer.objects.get(pk=prepaid).reserved == Decimal("2.00000")


def test_batch_repeats_replay_and_its_ids_are_the_records(api, prepaid):
    first = {"customer": prepaid, "service": "data", "amount": "1", "external_id": "r1"}
    r = api.post("/xdrs/batch", {"xdrs": [first, first, first | {"amount": "2"}]})
    assert r.status_code == 200, r.content
    items = r.json()["items"]
    assert [(i.get("result") or {}).get("replayed") for i in items] == [False, True, None]
    assert items[0]["result"]["xdr_id"] == items[1]["result"]["xdr_id"]
    assert items[0]["result"]["xdr_id"] == Xdr.objects.get(external_id="r1").pk
    assert items[2]["error"]["code"] == "idempotency_key_reused"
    again = api.post("/xdrs", first)  # a later single post of the same record: replayed
    assert (again.status_code, again.json()["xdr_id"]) == (200, items[0]["result"]["xdr_id"])
    assert Customer.objects.get(pk=prepaid).balance == Decimal("-4.00000")


def test_a_batch_the_database_refuses_is_charged_one_by_one(api, prepaid, monkeypatch):
    from django.db import IntegrityError

    from billcore.charging import services

    def refuse(*args, **kwargs):
        raise IntegrityError("duplicate key value (simulated race)")

    monkeypatch.setattr(services, "_write_batch", refuse)
    r = api.post(
        "/xdrs/batch",
        {
            "xdrs": [
                {"customer": prepaid, "service": "data", "amount": "2", "external_id": "f1"},
                {"customer": prepaid, "service": "data", "amount": "4", "external_id": "f2"},
            ]
        },
    )
    assert r.status_code == 200, r.content
    assert (r.json()["charged"], r.json()["denied"]) == (1, 1)
    assert Customer.objects.get(pk=prepaid).balance == Decimal("-3.00000")


def test_a_revoked_or_expired_token_is_refused_at_once(client, admin):
    """Valid tokens are remembered for a few seconds per process; revoking one forgets it
    at once, and a remembered token's expiry still applies."""
    import datetime as dt

    from django.utils import timezone

    from billcore.accounts.models import ApiToken
    from billcore.accounts.services import revoke_api_token
    from billcore.accounts.tokens import create_token, digest, user_for_token
    from tests.e2e.test_api import Api

    def revoke_token(token: str) -> bool:
        """Revoke through the service (the pages' and API's path); whether a token went."""
        row = ApiToken.objects.filter(digest=digest(token)).first()
        if row is not None:
            revoke_api_token(actor=admin, now=timezone.now(), token_id=row.pk)
        return row is not None and not ApiToken.objects.filter(pk=row.pk).exists()

    token = create_token(user=admin, now=timezone.now())
    api = Api(client, token)
    assert api.get("/customers").status_code == 200
    assert api.get("/customers").status_code == 200  # remembered
    assert revoke_token(token)
    assert api.get("/customers").status_code == 401
    at = timezone.now()
    soon = create_token(user=admin, now=at, expires_at=at + dt.timedelta(minutes=1))
    assert user_for_token(soon, now=at) == admin
    assert user_for_token(soon, now=at + dt.timedelta(seconds=59)) == admin  # remembered
    assert user_for_token(soon, now=at + dt.timedelta(minutes=1)) is None
