"""``POST /api/v1/rating/quote`` (issue 12 §2): the price of a hypothetical session without
charging it: tariff, rate, source, price set, quantities, amount; the reseller's price; a
refusal as ``allowed`` false with the reason; bad input a 400 naming the field; another
reseller's account a 404; nothing written."""

from __future__ import annotations

from typing import Any

import pytest

from billcore.charging.models import Reservation, Xdr
from billcore.customers.models import Customer
from billcore.ledger.models import Transaction as LedgerEntry
from tests.e2e.rating_support import customer, ok, product, tariff
from tests.e2e.test_api import Api, _error, _token

pytestmark = pytest.mark.django_db

AT = "2026-11-02T12:00:00Z"


@pytest.fixture
def api(client: Any, world: Any) -> Api:
    return Api(client, _token(world["admin"]))


@pytest.fixture
def api_a(client: Any, world: Any) -> Api:
    return Api(client, _token(world["ua"]))


@pytest.fixture
def api_b(client: Any, world: Any) -> Api:
    return Api(client, _token(world["ub"]))


@pytest.fixture
def setup(api: Api) -> dict[str, Any]:
    # §1.7 example 1: 60/6, $0.10 first, $0.05 next, $0.02 connection fee; 4201 forbidden.
    retail = tariff(
        api,
        "Retail",
        [
            {
                "prefix": "420",
                "interval_first": 60,
                "interval_next": 6,
                "price_first": "0.10",
                "price_next": "0.05",
            },
            {"prefix": "4201", "price_first": "0.10", "forbidden": True},
        ],
        connection_fee="0.02",
    )
    deal = tariff(api, "Deal", [{"prefix": "42060", "price_first": "0.06", "price_next": "0.06"}])
    home = product(api, "Home", retail["id"])
    cid, aid = customer(api, "Pia", home["id"], "+100", available_funds="10")
    ok(
        api.post(
            f"/customers/{cid}/override-tariffs",
            {"master_tariff": retail["id"], "override_tariff": deal["id"]},
        ),
        201,
    )
    _, bare = customer(api, "Bare", None, "+101", available_funds="10")
    return {"retail": retail, "deal": deal, "cid": cid, "aid": aid, "bare": bare}


def _quote(api: Api, **body: Any) -> Any:
    return api.post("/rating/quote", {"started_at": AT, **body})


def test_quote_by_id_and_by_identifier(api: Api, setup: dict[str, Any]) -> None:
    before = (Xdr.objects.count(), LedgerEntry.objects.count(), Reservation.objects.count())
    balance = Customer.objects.get(pk=setup["cid"]).balance
    body = ok(_quote(api, account=setup["aid"], cld="+420 777 123", duration=61))
    assert body == {
        "allowed": True,
        "reason": "",
        "message": "",
        "account_id": setup["aid"],
        "customer_id": setup["cid"],
        "service": "voice",
        "cld": "420777123",
        "started_at": "2026-11-02T12:00:00Z",
        "access_code": "",
        "base_quantity": 61,
        "price": {
            "allowed": True,
            "reason": "",
            "message": "",
            "tariff_id": setup["retail"]["id"],
            "tariff_name": "Retail",
            "rate_id": body["price"]["rate_id"],
            "prefix": "420",
            "source": "master",
            "price_set": "peak",
            "charged_quantity": 66,
            "amount": "0.12500",
            "currency": "USD",
        },
        "reseller_id": None,
        "reseller_price": None,
    }
    by_identifier = ok(_quote(api, account="+100", cld="420777123", quantity="61", unit="s"))
    assert by_identifier["price"] == body["price"]
    by_digits = ok(_quote(api, account=str(setup["aid"]), cld="420777123", quantity=61))
    assert by_digits["price"]["amount"] == "0.12500"
    # Nothing written: no xDR, no ledger row, no hold, the balance as it was.
    after = (Xdr.objects.count(), LedgerEntry.objects.count(), Reservation.objects.count())
    assert after == before
    assert Customer.objects.get(pk=setup["cid"]).balance == balance


def test_override_and_milliseconds(api: Api, setup: dict[str, Any]) -> None:
    body = ok(_quote(api, account=setup["aid"], cld="420601", quantity=61001, unit="ms"))
    assert (body["base_quantity"], body["price"]["source"], body["price"]["tariff_name"]) == (
        62,
        "override",
        "Deal",
    )
    # Per second at $0.06/min: 62 s -> 0.062.
    assert (body["price"]["prefix"], body["price"]["amount"]) == ("42060", "0.06200")


@pytest.mark.parametrize(
    ("cld", "account", "reason"),
    [
        ("4201555", "aid", "forbidden_destination"),
        ("1555", "aid", "no_rate"),
        ("420555", "bare", "no_product"),
    ],
)
def test_refusals_are_200_with_the_reason(
    api: Api, setup: dict[str, Any], cld: str, account: str, reason: str
) -> None:
    body = ok(_quote(api, account=setup[account], cld=cld, duration=30))
    assert (body["allowed"], body["reason"], body["price"]["allowed"]) == (False, reason, False)
    assert body["message"]
    assert (body["price"]["amount"], body["price"]["tariff_id"]) == (None, None)


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"cld": "42077"}, "quantity", 400),
        ({"cld": "42077", "duration": -1}, "duration", 400),
        ({"cld": "42077", "duration": 5, "quantity": 5}, "duration", 400),
        ({"cld": "42077", "quantity": "abc"}, "quantity", 400),
        ({"cld": "", "duration": 5}, "cld", 400),
        ({"cld": "42O77", "duration": 5}, "cld", 400),
        ({"cld": "42077", "duration": 5, "service": "fax"}, "service", 400),
        ({"cld": "42077", "quantity": 5, "unit": "furlongs"}, "unit", 400),
        ({"cld": "42077", "duration": 5, "access_code": "SIDEWAYS"}, "access_code", 400),
        ({"cld": "42077", "duration": 5, "started_at": "yesterday"}, "started_at", 400),
        ({"cld": "42077", "duration": 5, "colour": "red"}, "colour", 400),
        ({"cld": "42077", "duration": 5, "account": "+999"}, "account", 404),
        ({"cld": "42077", "duration": 5, "account": 999999}, "account", 404),
    ],
)
def test_bad_input_names_the_field(
    api: Api, setup: dict[str, Any], body: dict[str, Any], field: str, status: int
) -> None:
    _error(_quote(api, **({"account": setup["aid"]} | body)), status, field)


def test_a_resellers_customer_gets_both_prices_and_isolation(
    api: Api, api_a: Api, api_b: Api, world: Any
) -> None:
    wholesale = tariff(
        api, "Wholesale", [{"prefix": "1", "price_first": "0.06", "price_next": "0.06"}]
    )
    mine = tariff(api_a, "A retail", [{"prefix": "1", "price_first": "0.10", "price_next": "0.10"}])
    home = product(api_a, "A home", mine["id"])
    entry = ok(api.get(f"/products/{home['id']}/entries"))[0]
    ok(
        api.patch(
            f"/products/{home['id']}/entries/{entry['id']}", {"reseller_tariff": wholesale["id"]}
        )
    )
    _, aid = customer(
        api_a,
        "Sub",
        home["id"],
        "+200",
        customer_class=world["classes"]["a"].pk,
        available_funds="5",
    )
    body = ok(_quote(api_a, account=aid, cld="15551234", duration=120))
    assert (body["price"]["amount"], body["price"]["tariff_name"]) == ("0.20000", "A retail")
    assert body["reseller_id"] == world["ra"].pk
    assert body["reseller_price"]["amount"] == "0.12000"
    assert body["reseller_price"]["tariff_name"] == "Wholesale"
    # Another reseller's user: a 404, by id and by identifier.
    _error(_quote(api_b, account=aid, cld="15551234", duration=120), 404, "account")
    _error(_quote(api_b, account="+200", cld="15551234", duration=120), 404, "account")
    # The reseller's tariff has no rate for 44: the quote is refused with that reason.
    refused = ok(_quote(api_a, account=aid, cld="44123", duration=60))
    assert (refused["allowed"], refused["reason"]) == (False, "no_rate")
