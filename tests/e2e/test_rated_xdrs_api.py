"""Rated usage over HTTP and from a CSV file (issue 12 §2): ``POST /api/v1/xdrs`` without an
amount, the batch, the xDR list with the rating columns, and ``billcore xdrs import`` with a
``cld`` column (a line that cannot be rated is rejected naming ``cld``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from billcore.charging.models import Xdr
from billcore.cli import main
from billcore.customers.models import Customer
from billcore.ledger.customers import create_customer
from billcore.rating import services as rating
from billcore.subscribers.services import create_account
from tests.e2e.test_api import Api, _error, _token
from tests.support import ledger_sum

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
EFFECTIVE = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
START = "2026-11-01T03:00:00Z"
pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client: Any, admin: Any) -> Api:
    return Api(client, _token(admin))


@pytest.fixture
def cat(admin: Any) -> dict[str, Any]:
    from billcore.classes.models import CustomerClass

    retail = rating.create_tariff(
        actor=admin,
        now=T0,
        data={"name": "Retail", "currency": "USD", "service": "voice", "connection_fee": "0.02"},
    )
    r12 = rating.create_rate(
        actor=admin,
        now=T0,
        tariff_id=retail.pk,
        data={
            "prefix": "12",
            "price_first": "0.02",
            "price_next": "0.02",
            "effective_from": EFFECTIVE,
        },
    )
    home = rating.create_product(actor=admin, now=T0, data={"name": "Home", "currency": "USD"})
    rating.create_entry(
        actor=admin, now=T0, product_id=home.pk, data={"service": "voice", "tariff": retail.pk}
    )
    pia = create_customer(
        actor=admin,
        now=T0,
        data={
            "name": "Pia",
            "currency": "USD",
            "balance_control": "prepaid",
            "available_funds": "10",
            "customer_class": CustomerClass.objects.get(is_default=True).pk,
        },
    )
    account = create_account(actor=admin, now=T0, customer_id=pia.pk, data={"identifier": "+100"})
    rating.set_account_products(
        actor=admin, now=T0, account_id=account.pk, product=home.pk, addons=[]
    )
    return {"retail": retail, "r12": r12, "pia": pia, "account": account}


def _call(cat: Any, **kw: Any) -> dict[str, Any]:
    body = {
        "account": cat["account"].pk,
        "service": "voice",
        "cld": "+1 2033 768900",
        "quantity": "61",
        "started_at": START,
    }
    body.update(kw)
    return {k: v for k, v in body.items() if v is not None}


RATED = {
    "amount": "0.04033",
    "cld": "+1 2033 768900",
    "rate_prefix": "12",
    "price_set": "peak",
    "base_quantity": 61,
    "charged_quantity": 61,
    "reseller_amount": None,
}


def test_post_xdr_without_an_amount_is_rated(api: Api, cat: Any) -> None:
    r = api.post("/xdrs", _call(cat, external_id="h-1"))
    assert r.status_code == 201, r.content
    body = r.json()
    assert {k: body[k] for k in RATED} == RATED
    assert (body["allowed"], body["tariff_id"], body["rate_id"]) == (
        True,
        cat["retail"].pk,
        cat["r12"].pk,
    )
    assert body["balance"] == "-9.95967"
    # The same record again: replayed; changed: 409 naming external_id.
    again = api.post("/xdrs", _call(cat, external_id="h-1"))
    assert (again.status_code, again.json()["xdr_id"]) == (200, body["xdr_id"])
    _error(api.post("/xdrs", _call(cat, external_id="h-1", quantity="62")), 409, "external_id")
    # Sent without started_at (the arrival time), a retry still replays: its later arrival is
    # not a different record.
    first = api.post("/xdrs", _call(cat, external_id="h-2", started_at=None))
    retry = api.post("/xdrs", _call(cat, external_id="h-2", started_at=None))
    assert (first.status_code, retry.status_code) == (201, 200)
    assert (retry.json()["xdr_id"], retry.json()["replayed"]) == (first.json()["xdr_id"], True)
    _error(
        api.post("/xdrs", _call(cat, external_id="h-2", started_at=None, quantity="9")),
        409,
        "external_id",
    )
    listed_before = api.get(f"/customers/{cat['pia'].pk}/xdrs").json()["items"]
    assert len(listed_before) == 2
    # The list shows what rating stored.
    listed = api.get(f"/customers/{cat['pia'].pk}/xdrs", params={"external_id": "h-1"})
    assert listed.status_code == 200
    [item] = [i for i in listed.json()["items"] if i["external_id"] == "h-1"]
    assert {k: item[k] for k in RATED} == RATED
    assert (item["tariff_id"], item["rate_id"], item["access_code"]) == (
        cat["retail"].pk,
        cat["r12"].pk,
        None,
    )


def test_an_unpriceable_call_is_kept_denied(api: Api, cat: Any) -> None:
    r = api.post("/xdrs", _call(cat, cld="999"))
    assert r.status_code == 201
    assert {k: r.json()[k] for k in ("allowed", "reason", "message", "amount")} == {
        "allowed": False,
        "reason": "no_rate",
        "message": "the tariff has no rate for the called number",
        "amount": "0.00000",
    }
    assert Xdr.objects.get().deny_reason == "no_rate"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"cld": None}, "cld"),
        ({"cld": "twelve"}, "cld"),
        ({"quantity": None}, "quantity"),
        ({"access_code": "SIDEWAYS"}, "access_code"),
        ({"unit": "fortnights"}, "unit"),
        ({"service": "telepathy"}, "service"),
        ({"account": None, "customer": 1}, "account"),
    ],
)
def test_bad_rating_input_is_a_400_naming_the_field(
    api: Api, cat: Any, change: dict[str, Any], field: str
) -> None:
    if "customer" in change:
        change = {**change, "customer": cat["pia"].pk}
    _error(api.post("/xdrs", _call(cat, **change)), 400, field)
    assert Xdr.objects.count() == 0


def test_the_batch_rates_its_records(api: Api, cat: Any) -> None:
    r = api.post(
        "/xdrs/batch",
        {
            "xdrs": [
                _call(cat, external_id="b-1"),
                _call(cat, cld=None, external_id="b-2"),
                _call(cat, amount="1.5", cld="+420 1", external_id="b-3"),
                _call(cat, cld="999", external_id="b-4"),
            ]
        },
    )
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["charged"], body["denied"], body["rejected"]) == (2, 1, 1)
    items = body["items"]
    assert {k: items[0]["result"][k] for k in RATED} == RATED
    assert items[1]["error"]["field"] == "cld"
    assert (items[2]["result"]["amount"], items[2]["result"]["cld"]) == ("1.50000", "+420 1")
    assert items[2]["result"]["charged_quantity"] is None
    assert items[3]["result"]["reason"] == "no_rate"
    pia = Customer.objects.get(pk=cat["pia"].pk)
    assert pia.balance == Decimal("-10") + Decimal("0.04033") + Decimal("1.5")
    assert ledger_sum(customer_id=pia.pk) == pia.balance


def test_a_csv_import_rates_lines_without_an_amount(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cat: Any, admin: Any
) -> None:
    path = tmp_path / "calls.csv"
    path.write_text(
        "account,service,amount,quantity,started_at,external_id,cld,access_code\n"
        f"+100,voice,,61,{START},c-1,+1 2033 768900,\n"
        f"+100,voice,1.5,90,{START},c-2,+420 1,\n"
        f"+100,voice,,61,{START},c-3,,\n"
        f"+100,voice,,61,{START},c-4,999,OUTGOING\n"
        f"+100,voice,,61,{START},c-5,12,SIDEWAYS\n",
        encoding="utf-8",
    )
    capsys.readouterr()
    code = main(["xdrs", "import", str(path)])
    out, err = capsys.readouterr()
    assert code == 1 or code == 0
    assert "5 rows, 2 charged, 1 denied, 2 rejected, 0 already imported" in out
    assert f"{path}:4: cld: the called number is required to rate usage" in err
    rejects = (tmp_path / "calls.rejects.csv").read_text(encoding="utf-8").splitlines()
    assert rejects[0] == (
        "account,service,amount,quantity,started_at,external_id,cld,access_code,line,error"
    )
    assert rejects[1] == (
        f"+100,voice,,61,{START},c-3,,,4,cld: the called number is required to rate usage"
    )
    assert rejects[2] == (
        f'+100,voice,,61,{START},c-5,12,SIDEWAYS,6,"access_code must be empty (outgoing) or '
        "one of OUTGOING, INCOMING, FOLLOWME, TRANSFER (got 'SIDEWAYS')\""
    )
    rated = Xdr.objects.get(external_id="c-1")
    assert (rated.amount, rated.cld, rated.rate_id, rated.charged_quantity) == (
        Decimal("0.04033"),
        "+1 2033 768900",
        cat["r12"].pk,
        61,
    )
    assert rated.details == {"cld": "+1 2033 768900"}
    pre = Xdr.objects.get(external_id="c-2")
    assert (pre.amount, pre.cld, pre.rate_id) == (Decimal("1.50000"), "+420 1", None)
    denied = Xdr.objects.get(external_id="c-4")
    assert (denied.status, denied.deny_reason, denied.access_code) == (
        "denied",
        "no_rate",
        "OUTGOING",
    )
    # Importing the same file again charges nothing twice.
    main(["xdrs", "import", str(path)])
    out, _ = capsys.readouterr()
    assert "2 charged" not in out and "3 already imported (replayed)" in out
    assert Xdr.objects.count() == 3
