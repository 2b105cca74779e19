"""Abbreviated dialing and service configuration over HTTP (issue 14; rating-and-tabs.md
§3.2, §3.3, §4.2 step 3): ``/api/v1/customers/{id}/abbreviated-dialing``,
``/api/v1/{customers,accounts,products}/{id}/service-features``, accounts' ``extension``,
``/authorize`` answering ``resolved_cld`` and refusing ``concurrent_calls_limit``; bad input
is a 400 naming the field with nothing saved; another reseller's objects are a 404."""

from __future__ import annotations

from typing import Any

import pytest

from billcore.features.models import AbbreviatedNumber, DialingPlan, FeatureSet
from billcore.subscribers.models import Account
from tests.e2e.rating_support import customer, ok, product, tariff
from tests.e2e.test_api import Api, _error, _token

pytestmark = pytest.mark.django_db

RATE_44 = {"prefix": "44", "interval_first": 60, "interval_next": 6, "price_first": "0.10"}


@pytest.fixture
def api(client: Any, world: Any) -> Api:
    return Api(client, _token(world["admin"]))


@pytest.fixture
def setup(api: Api) -> dict[str, Any]:
    made = tariff(
        api,
        "Retail",
        [
            {**RATE_44, "price_next": "0.10"},
            {"prefix": "1", "price_first": "0.02", "price_next": "0.02"},
        ],
        connection_fee="0.02",
    )
    prod = product(api, "Home", made["id"])
    cid, aid = customer(api, "Pia", prod["id"], "+12025550101", available_funds="10")
    return {"customer": cid, "account": aid, "product": prod["id"]}


def _put(api: Api, path: str, body: Any) -> Any:
    return api._send("put", path, body)


def test_abbreviated_dialing_end_to_end(api: Api, setup: dict[str, Any]) -> None:
    cid, aid = setup["customer"], setup["account"]
    base = f"/customers/{cid}/abbreviated-dialing"
    assert ok(api.get(base)) == {"max_length": None, "entries": []}
    _error(api.post(base, {"abbreviated": "1", "number": "+442071234567"}), 400, "max_length")
    assert ok(_put(api, base, {"max_length": 3})) == {"max_length": 3, "entries": []}
    one = ok(
        api.post(base, {"abbreviated": "1", "number": "+442071234567", "description": "HQ"}), 201
    )
    assert one == {
        "id": one["id"],
        "abbreviated": "1",
        "number": "442071234567",
        "account": None,
        "description": "HQ",
    }
    desk = ok(api.post(base, {"abbreviated": "34", "account": aid}), 201)
    assert (desk["number"], desk["account"]) == ("+12025550101", aid)
    ok(api.post(base, {"abbreviated": "112"}), 201)
    # Bad input: 400 naming the field, nothing saved.
    for body, field in (
        ({"abbreviated": "1x"}, "abbreviated"),
        ({"abbreviated": "1234"}, "abbreviated"),
        ({"abbreviated": "1"}, "abbreviated"),
        ({"abbreviated": "5", "number": "not a number"}, "number"),
        ({"abbreviated": "5", "account": 10**6}, "account"),
        ({"abbreviated": "5", "speed": 1}, "speed"),
    ):
        _error(api.post(base, body), 400, field)
    _error(_put(api, base, {"max_length": 1}), 400, "max_length", "entries_too_long")
    _error(_put(api, base, {"max_length": 0}), 400, "max_length")
    assert DialingPlan.objects.get(customer_id=cid).max_length == 3
    assert AbbreviatedNumber.objects.filter(customer_id=cid).count() == 3
    # An extension may not be an abbreviated number, and the reverse.
    _error(api.patch(f"/accounts/{aid}", {"extension": "34"}), 400, "extension")
    assert ok(api.patch(f"/accounts/{aid}", {"extension": "200"}))["extension"] == "200"
    _error(api.post(base, {"abbreviated": "200"}), 400, "abbreviated", "extension_clash")
    # /authorize with the short number rates the full one.
    short = ok(api.post("/authorize", {"account": aid, "cld": "1"}))
    full = ok(api.post("/authorize", {"account": aid, "cld": "+442071234567"}))
    assert (short["allowed"], short["resolved_cld"], short["max_duration"]) == (
        True,
        "442071234567",
        5988,
    )
    assert (full["resolved_cld"], full["max_duration"], full["amount"]) == (
        None,
        5988,
        short["amount"],
    )
    # So does rated usage.
    xdr = ok(
        api.post("/xdrs", {"account": aid, "service": "voice", "cld": "1", "quantity": "60"}), 201
    )
    assert (xdr["cld"], xdr["amount"], xdr["rate_prefix"]) == ("442071234567", "0.12000", "44")
    # Edit and delete.
    changed = ok(api.patch(f"{base}/{one['id']}", {"description": "London"}))
    assert (changed["description"], changed["number"]) == ("London", "442071234567")
    assert api.delete(f"{base}/{one['id']}").status_code == 204
    assert [e["abbreviated"] for e in ok(api.get(base))["entries"]] == ["112", "34"]
    assert ok(api.post("/authorize", {"account": aid, "cld": "1"}))["resolved_cld"] is None


def test_service_features_and_the_call_limit(api: Api, setup: dict[str, Any]) -> None:
    cid, aid, pid = setup["customer"], setup["account"], setup["product"]
    got = ok(
        _put(api, f"/products/{pid}/service-features", {"max_calls": 5, "music_on_hold": True})
    )
    assert (got["own"]["max_calls"], got["own"]["music_on_hold"]) == (5, True)
    got = ok(api.get(f"/accounts/{aid}/service-features"))
    assert got["effective"]["max_calls"] == {"value": 5, "source": "product", "source_name": "Home"}
    got = ok(
        _put(
            api,
            f"/customers/{cid}/service-features",
            {"max_calls": 2, "cli_presentation": "restricted", "display_name": "Pia Ltd"},
        )
    )
    assert got["effective"]["max_calls"] == {"value": 2, "source": "customer", "source_name": ""}
    assert got["effective"]["music_on_hold"] == {
        "value": None,
        "source": "default",
        "source_name": "",
    }
    acc = ok(api.get(f"/accounts/{aid}/service-features"))["effective"]
    assert (acc["max_calls"]["value"], acc["music_on_hold"]["source"]) == (2, "product")
    assert acc["display_name"] == {"value": "Pia Ltd", "source": "customer", "source_name": ""}
    # PATCH changes one; PUT replaces all.
    got = ok(api.patch(f"/customers/{cid}/service-features", {"display_name": None}))
    assert (got["own"]["max_calls"], got["own"]["display_name"]) == (2, None)
    # Two sessions fit; the third is refused.
    body = {"account": aid, "service": "voice", "amount": "0.50"}
    assert api.post("/reservations", body).status_code == 201
    assert api.post("/reservations", {**body, "direction": "incoming"}).status_code == 201
    third = api.post("/reservations", body)
    assert (third.status_code, third.json()["reason"]) == (200, "concurrent_calls_limit")
    refused = ok(api.post("/authorize", {"account": aid, "cld": "+442071234567"}))
    assert (refused["allowed"], refused["reason"]) == (False, "concurrent_calls_limit")
    _error(api.post("/reservations", {**body, "direction": "up"}), 400, "direction")
    # Bad features: 400 naming the field, nothing saved.
    before = list(FeatureSet.objects.values_list("max_calls", "display_name"))
    for values, field in (
        ({"max_calls": -2}, "max_calls"),
        ({"max_calls": "many"}, "max_calls"),
        ({"accept_caller_identity": "all"}, "accept_caller_identity"),
        ({"override_identity": "+12x"}, "override_identity"),
        ({"loudness": 3}, "loudness"),
    ):
        _error(api.patch(f"/customers/{cid}/service-features", values), 400, field)
        _error(_put(api, f"/accounts/{aid}/service-features", values), 400, field)
    assert list(FeatureSet.objects.values_list("max_calls", "display_name")) == before
    _error(api.patch(f"/accounts/{aid}", {"extension": "12345678901"}), 400, "extension")
    assert Account.objects.get(pk=aid).extension is None


def test_another_resellers_objects_are_not_found(
    client: Any, api: Api, world: Any, setup: dict[str, Any]
) -> None:
    cid, aid, pid = setup["customer"], setup["account"], setup["product"]
    ok(_put(api, f"/customers/{cid}/abbreviated-dialing", {"max_length": 2}))
    reseller = Api(client, _token(world["ua"]))
    for response in (
        reseller.get(f"/customers/{cid}/abbreviated-dialing"),
        _put(reseller, f"/customers/{cid}/abbreviated-dialing", {"max_length": 5}),
        reseller.post(f"/customers/{cid}/abbreviated-dialing", {"abbreviated": "1"}),
        reseller.get(f"/customers/{cid}/service-features"),
        reseller.patch(f"/customers/{cid}/service-features", {"max_calls": 1}),
        reseller.get(f"/accounts/{aid}/service-features"),
        _put(reseller, f"/accounts/{aid}/service-features", {"max_calls": 1}),
        _put(reseller, f"/products/{pid}/service-features", {"max_calls": 1}),
        reseller.patch(f"/accounts/{aid}", {"extension": "9"}),
    ):
        assert response.status_code == 404, response.content
    assert DialingPlan.objects.get(customer_id=cid).max_length == 2
    assert FeatureSet.objects.count() == 0
    assert Account.objects.get(pk=aid).extension is None
