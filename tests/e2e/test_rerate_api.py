"""``POST /api/v1/rating/rerate`` (issue 12 §2): a rate correction re-rated over HTTP, for a
customer or a tariff; the summary counts and the money moved; exactly one of the two; another
reseller's customer or tariff is a 404."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.rating_support import customer, ok, product, tariff
from tests.e2e.test_api import Api, _error, _token

pytestmark = pytest.mark.django_db


def test_rerate_a_customer_then_a_tariff(client: Any, world: Any) -> None:
    api = Api(client, _token(world["admin"]))
    retail = tariff(api, "Retail", [{"prefix": "44", "price_first": "0.10", "price_next": "0.10"}])
    home = product(api, "Home", retail["id"])
    cid, aid = customer(api, "Pia", home["id"], "+100", available_funds="10")
    call = {"account": aid, "service": "voice", "cld": "4420", "quantity": "60"}
    assert api.post("/xdrs", call).json()["amount"] == "0.10000"
    denied = api.post("/xdrs", {**call, "cld": "3314"}).json()
    assert (denied["allowed"], denied["reason"]) == (False, "no_rate")
    rate = ok(api.get(f"/tariffs/{retail['id']}/rates"))["items"][0]
    ok(
        api.patch(
            f"/tariffs/{retail['id']}/rates/{rate['id']}",
            {"price_first": "0.05", "price_next": "0.05"},
        )
    )
    ok(
        api.post(
            f"/tariffs/{retail['id']}/rates",
            {"prefix": "33", "price_first": "1", "effective_from": "2020-01-01T00:00:00Z"},
        ),
        201,
    )
    out = ok(api.post("/rating/rerate", {"customer": cid}))
    assert out == {
        "examined": 2,
        "changed": 1,
        "charged": 1,
        "reversed": 0,
        "unchanged": 0,
        "still_denied": 0,
        "moved": [{"customer_id": cid, "amount": "0.95000"}],
    }
    funds = ok(api.get(f"/customers/{cid}"))["available_funds"]
    assert funds == "8.95000"  # 10 - 0.05 - 1.00
    again = ok(api.post("/rating/rerate", {"tariff": retail["id"]}))
    assert (again["examined"], again["unchanged"], again["moved"]) == (2, 2, [])


def test_rerate_input_and_isolation(client: Any, world: Any) -> None:
    api = Api(client, _token(world["admin"]))
    retail = tariff(api, "Retail", [{"prefix": "44", "price_first": "0.10"}])
    home = product(api, "Home", retail["id"])
    cid, _ = customer(api, "Pia", home["id"], "+100", available_funds="10")
    _error(api.post("/rating/rerate", {}), 400, "customer")
    _error(api.post("/rating/rerate", {"customer": cid, "tariff": retail["id"]}), 400, "customer")
    api_a = Api(client, _token(world["ua"]))
    assert api_a.post("/rating/rerate", {"customer": cid}).status_code == 404
    assert api_a.post("/rating/rerate", {"tariff": retail["id"]}).status_code == 404
    assert api.post("/rating/rerate", {"customer": 10**9}).status_code == 404


def test_rerate_from_the_tariff_page(client: Any, world: Any) -> None:
    """The tariff page's "Re-rate…" asks first, then re-rates and says what it did."""
    api = Api(client, _token(world["admin"]))
    retail = tariff(api, "Retail", [{"prefix": "44", "price_first": "0.10", "price_next": "0.10"}])
    home = product(api, "Home", retail["id"])
    _, aid = customer(api, "Pia", home["id"], "+100", available_funds="10")
    api.post("/xdrs", {"account": aid, "service": "voice", "cld": "4420", "quantity": "60"})
    rate = ok(api.get(f"/tariffs/{retail['id']}/rates"))["items"][0]
    ok(api.patch(f"/tariffs/{retail['id']}/rates/{rate['id']}", {"price_first": "0.20"}))
    client.force_login(world["admin"])
    page = client.get(f"/rating/tariffs/{retail['id']}/").content.decode()
    assert 'id="rerate-button"' in page
    url = f"/rating/tariffs/{retail['id']}/rerate/"
    asked = client.post(url).content.decode()
    assert "Price again the usage of the open period" in asked
    done = client.post(url, {"confirmed": "1"}, follow=True).content.decode()
    assert (
        "Re-rated 1 usage records: 1 changed, 0 charged now, 0 reversed, 0 unchanged; "
        "the balances of 1 customers moved"
    ) in done
    client.force_login(world["ua"])
    assert client.post(url, {"confirmed": "1"}).status_code == 404


def test_catalogue_lists_export_csv(client: Any, world: Any) -> None:
    """Every catalogue list answers ``?format=csv`` with its filtered rows (issue 17 item 4)."""
    api = Api(client, _token(world["admin"]))
    tariff(api, "Retail", [{"prefix": "44", "price_first": "0.10"}])
    tariff(api, "Wholesale", [])
    client.force_login(world["admin"])
    page = client.get("/rating/tariffs/").content.decode()
    assert 'href="?format=csv"' in page
    response = client.get("/rating/tariffs/?q=retail&format=csv")
    assert response["Content-Disposition"] == 'attachment; filename="tariffs.csv"'
    text = b"".join(response.streaming_content).decode()
    header, *rows = text.splitlines()
    assert header.startswith("Id,Name,")
    assert [r.split(",")[1] for r in rows] == ["Retail"]
    services = b"".join(client.get("/rating/services/?format=csv").streaming_content).decode()
    assert [r.split(",")[1] for r in services.splitlines()[1:]] == [
        "Data",
        "Messaging",
        "Other",
        "Voice calls",
    ]
