"""The rating catalogue over HTTP (issue 12 §1): round trips of every resource, the rate
CSV upload (a ``text/csv`` body or a multipart form) and download, every 4xx naming its
field, another reseller's tariffs and products a 404."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from billcore.ledger.customers import create_customer
from billcore.rating.models import Rate
from billcore.subscribers.services import create_account
from tests.e2e.test_api import Api, _error, _token

pytestmark = pytest.mark.django_db

HEADER = "prefix,interval_first,interval_next,price_first,price_next,effective_from\n"


@pytest.fixture
def api(client: Any, world: Any) -> Api:
    return Api(client, _token(world["admin"]))


@pytest.fixture
def api_a(client: Any, world: Any) -> Api:
    return Api(client, _token(world["ua"]))


@pytest.fixture
def api_b(client: Any, world: Any) -> Api:
    return Api(client, _token(world["ub"]))


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.content
    return response.json() if response.content else None


def _tariff(api: Api, name: str = "Retail", **extra: Any) -> dict[str, Any]:
    return dict(_ok(api.post("/tariffs", {"name": name, "currency": "USD", **extra}), 201))


def test_services_round_trip(api: Api, api_a: Api) -> None:
    page = _ok(api.get("/services"))
    assert [s["code"] for s in page["items"]] == ["data", "messaging", "other", "voice"]
    assert page["count"] == 4
    voice = next(s for s in page["items"] if s["code"] == "voice")
    assert (voice["rating_base"], voice["base_unit"], voice["standard"]) == ("time", "second", True)
    _error(api.patch(f"/services/{voice['id']}", {"name": "Calls"}), 403, "id", "read_only")
    wifi = _ok(api.post("/services", {"code": "wifi", "name": "Wi-Fi", "rating_base": "data"}), 201)
    assert wifi["base_unit"] == "mb"
    wifi = _ok(api.patch(f"/services/{wifi['id']}", {"base_unit": "gib"}))
    assert wifi["base_unit"] == "gib"
    _error(
        api.post("/services", {"code": "Bad Code", "name": "B", "rating_base": "data"}), 400, "code"
    )
    _error(
        api_a.post("/services", {"code": "mine", "name": "M", "rating_base": "data"}),
        403,
        "id",
        "admin_only",
    )
    assert _ok(api_a.get("/services"))["count"] == 5
    _ok(api.delete(f"/services/{wifi['id']}"), 204)


def test_destinations_groups_offpeak_round_trip(api: Api) -> None:
    d = _ok(api.post("/destinations", {"prefix": "420601", "country": "CZ"}), 201)
    assert d == {"id": d["id"], "prefix": "420601", "country": "CZ", "description": ""}
    _error(api.post("/destinations", {"prefix": "420601"}), 400, "prefix", "duplicate")
    _error(api.post("/destinations", {"prefix": "+420"}), 400, "prefix")
    assert _ok(api.get("/destinations?prefix=420"))["count"] == 1
    g = _ok(api.post("/destination-groups", {"name": "CZ-Mobile", "prefixes": ["420601"]}), 201)
    assert g["prefixes"] == ["420601"]
    _error(api.patch(f"/destination-groups/{g['id']}", {"prefixes": ["999"]}), 400, "prefixes")
    assert _ok(api.get(f"/destination-groups/{g['id']}"))["prefixes"] == ["420601"]
    p = _ok(api.post("/offpeak-periods", {"name": "Nights", "expression": "hr{6pm-5am}"}), 201)
    assert _ok(api.patch(f"/offpeak-periods/{p['id']}", {"description": "18-6"}))["description"]
    _error(api.post("/offpeak-periods", {"name": "nights", "expression": "x"}), 400, "name")
    _ok(api.delete(f"/destination-groups/{g['id']}"), 204)
    _ok(api.delete(f"/destinations/{d['id']}"), 204)
    _ok(api.delete(f"/offpeak-periods/{p['id']}"), 204)


def test_tariffs_and_rates_round_trip(api: Api) -> None:
    t = _tariff(api, connection_fee="0.02", free_seconds=5, post_call_surcharge="5")
    assert {k: t[k] for k in ("currency", "service", "connection_fee", "post_call_surcharge")} == {
        "currency": "USD",
        "service": "voice",
        "connection_fee": "0.02000",
        "post_call_surcharge": "5.00000",
    }
    _error(
        api.post("/tariffs", {"name": "Neg", "currency": "USD", "connection_fee": "-1"}),
        400,
        "connection_fee",
    )
    tid = t["id"]
    r = _ok(
        api.post(
            f"/tariffs/{tid}/rates",
            {
                "prefix": "12",
                "interval_first": 60,
                "interval_next": 6,
                "price_first": "0.1",
                "price_next": "0.05",
                "effective_from": "2026-11-01T00:00:00Z",
            },
        ),
        201,
    )
    assert (r["price_first"], r["price_next"], r["offpeak_price_first"]) == (
        "0.10000",
        "0.05000",
        None,
    )
    assert r["effective_from"].startswith("2026-11-01T00:00:00")
    _error(
        api.post(
            f"/tariffs/{tid}/rates", {"prefix": "13", "interval_first": 0, "price_first": "1"}
        ),
        400,
        "interval_first",
    )
    _error(
        api.post(f"/tariffs/{tid}/rates", {"prefix": "13", "price_first": "-1"}), 400, "price_first"
    )
    _error(
        api.post(
            f"/tariffs/{tid}/rates",
            {"prefix": "12", "price_first": "1", "effective_from": "2026-11-01T00:00:00Z"},
        ),
        400,
        "effective_from",
        "duplicate",
    )
    r2 = _ok(api.patch(f"/tariffs/{tid}/rates/{r['id']}", {"forbidden": True}))
    assert r2["forbidden"] is True
    assert _ok(api.get(f"/tariffs/{tid}/rates?number=1205550100"))["items"][0]["id"] == r["id"]
    other = _tariff(api, "Other")
    _error(api.get(f"/tariffs/{other['id']}/rates/{r['id']}"), 404, "id")
    _ok(api.delete(f"/tariffs/{tid}/rates/{r['id']}"), 204)
    assert _ok(api.get(f"/tariffs/{tid}/rates"))["count"] == 0


def test_rate_upload_as_csv_body_and_as_form_then_download(api: Api, client: Any) -> None:
    tid = _tariff(api)["id"]
    text = HEADER + (
        "12,60,6,0.02,0.02,2026-11-01\n420,60,60,0.2,0.2,2026-11-01\n13,0,1,1,1,2026-11-01\n"
    )
    reply = _ok(
        api.client.post(
            f"/api/v1/tariffs/{tid}/rates/import",
            data=text,
            content_type="text/csv",
            **api.headers,
        )
    )
    assert {k: reply[k] for k in ("lines", "added", "updated", "unchanged", "rejected")} == {
        "lines": 3,
        "added": 2,
        "updated": 0,
        "unchanged": 0,
        "rejected": 1,
    }
    assert reply["rejects"] == [
        {"line": 4, "field": "interval_first", "reason": "interval_first must be at least 1"}
    ]
    csv_file = SimpleUploadedFile("rates.csv", (HEADER + "12,60,6,0.03,0.03,2026-12-01\n").encode())
    reply = _ok(
        api.client.post(
            f"/api/v1/tariffs/{tid}/rates/import?replace=true",
            data={"file": csv_file},
            **api.headers,
        )
    )
    assert (reply["added"], reply["discontinued"]) == (1, 1)
    download = api.get(f"/tariffs/{tid}/rates.csv")
    assert download.status_code == 200
    assert download["Content-Type"].startswith("text/csv")
    body = b"".join(download.streaming_content).decode()
    assert body.splitlines()[0] == HEADER.strip() + (
        ",offpeak_interval_first,offpeak_interval_next,offpeak_price_first,offpeak_price_next,"
        "offpeak2_interval_first,offpeak2_interval_next,offpeak2_price_first,offpeak2_price_next,"
        "forbidden,discontinued,hidden"
    )
    assert len(body.splitlines()) == 1 + 4  # 12 twice, 420, 420 discontinued
    again = _ok(
        api.client.post(
            f"/api/v1/tariffs/{tid}/rates/import",
            data=body,
            content_type="text/csv",
            **api.headers,
        )
    )
    assert (again["unchanged"], again["added"], again["updated"]) == (4, 0, 0)
    # A file that cannot be read: 400 naming the file, nothing saved.
    count = Rate.objects.count()
    _error(
        api.client.post(
            f"/api/v1/tariffs/{tid}/rates/import",
            data="prefix\n1\n",
            content_type="text/csv",
            **api.headers,
        ),
        400,
        "file",
        "missing_column",
    )
    _error(
        api.client.post(
            f"/api/v1/tariffs/{tid}/rates/import",
            data=HEADER.encode() + b"\xff\xfe,1\n",
            content_type="text/csv",
            **api.headers,
        ),
        400,
        "file",
    )
    _error(
        api.client.post(f"/api/v1/tariffs/{tid}/rates/import", data={"other": "x"}, **api.headers),
        400,
        "file",
    )
    assert Rate.objects.count() == count


def test_products_accounts_and_overrides_round_trip(api: Api, world: Any) -> None:
    admin = world["admin"]
    usd = _tariff(api, "USD retail")
    eur = dict(_ok(api.post("/tariffs", {"name": "EUR retail", "currency": "EUR"}), 201))
    p = _ok(api.post("/products", {"name": "Home", "currency": "USD"}), 201)
    assert (p["kind"], p["entries"]) == ("main", [])
    _error(
        api.post(f"/products/{p['id']}/entries", {"service": "voice", "tariff": eur["id"]}),
        400,
        "tariff",
        "currency_mismatch",
    )
    e = _ok(
        api.post(f"/products/{p['id']}/entries", {"service": "voice", "tariff": usd["id"]}), 201
    )
    assert e == {
        "id": e["id"],
        "service": "voice",
        "access_code": "",
        "tariff": usd["id"],
        "reseller_tariff": None,
    }
    assert _ok(api.get(f"/products/{p['id']}"))["entries"] == [e]
    assert len(_ok(api.get(f"/products/{p['id']}/entries"))) == 1
    cust = create_customer(
        actor=admin,
        now=world["ra"].created_at,
        data={
            "name": "Pia",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": world["classes"]["usd"].pk,
        },
    )
    acc = create_account(
        actor=admin, now=cust.created_at, customer_id=cust.pk, data={"identifier": "+4201"}
    )
    assert _ok(api.get(f"/accounts/{acc.pk}/products")) == {
        "account": acc.pk,
        "product": None,
        "addons": [],
    }
    wip = _ok(api.post("/products", {"name": "WIP", "currency": "USD"}), 201)
    _error(
        api._send("put", f"/accounts/{acc.pk}/products", {"product": wip["id"], "addons": []}),
        400,
        "product",
        "no_rating_entries",
    )
    set_ = _ok(api._send("put", f"/accounts/{acc.pk}/products", {"product": p["id"], "addons": []}))
    assert set_ == {"account": acc.pk, "product": p["id"], "addons": []}
    deal = _tariff(api, "Pia deal")
    _error(
        api.post(
            f"/customers/{cust.pk}/override-tariffs",
            {"master_tariff": usd["id"], "override_tariff": eur["id"]},
        ),
        400,
        "override_tariff",
        "currency_mismatch",
    )
    o = _ok(
        api.post(
            f"/customers/{cust.pk}/override-tariffs",
            {"master_tariff": usd["id"], "override_tariff": deal["id"]},
        ),
        201,
    )
    assert (o["master_tariff"], o["override_tariff"]) == (usd["id"], deal["id"])
    page = _ok(api.get(f"/customers/{cust.pk}/override-tariffs"))
    assert (page["count"], page["items"][0]["id"]) == (1, o["id"])
    _ok(api.delete(f"/customers/{cust.pk}/override-tariffs/{o['id']}"), 204)
    _error(api.delete(f"/products/{p['id']}"), 400, "id", "in_use")


def test_reseller_isolation(api: Api, api_a: Api, api_b: Api) -> None:
    mine = _tariff(api_a, "A tariff")
    assert mine["managed_by"] is not None
    prod = _ok(api_a.post("/products", {"name": "A product", "currency": "USD"}), 201)
    admins = _tariff(api, "Admin tariff")
    for path in (
        f"/tariffs/{mine['id']}",
        f"/tariffs/{mine['id']}/rates",
        f"/tariffs/{mine['id']}/rates.csv",
        f"/products/{prod['id']}",
        f"/tariffs/{admins['id']}",
    ):
        _error(api_b.get(path), 404, "id")
    _error(api_b.patch(f"/tariffs/{mine['id']}", {"name": "Taken"}), 404, "id")
    _error(api_b.delete(f"/products/{prod['id']}"), 404, "id")
    _error(
        api_b.client.post(
            f"/api/v1/tariffs/{mine['id']}/rates/import",
            data=HEADER,
            content_type="text/csv",
            **api_b.headers,
        ),
        404,
        "id",
    )
    assert [t["name"] for t in _ok(api_a.get("/tariffs"))["items"]] == ["A tariff"]
    assert _ok(api_b.get("/tariffs"))["count"] == 0
    assert _ok(api.get("/tariffs"))["count"] == 2
