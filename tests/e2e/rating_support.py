"""Helpers of the quote, authorize and ``billcore rate`` tests (issue 12): a tariff with
rates, a product using it, and a customer with an account that has the product, all made
through the API as an operator would."""

from __future__ import annotations

from typing import Any

from tests.e2e.test_api import Api

EFFECTIVE = "2020-01-01T00:00:00Z"


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.content
    return response.json() if response.content else None


def tariff(api: Api, name: str, rates: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    made = dict(ok(api.post("/tariffs", {"name": name, "currency": "USD", **extra}), 201))
    for rate in rates:
        ok(api.post(f"/tariffs/{made['id']}/rates", {"effective_from": EFFECTIVE, **rate}), 201)
    return made


def product(api: Api, name: str, tariff_id: int, **entry: Any) -> dict[str, Any]:
    made = dict(ok(api.post("/products", {"name": name, "currency": "USD"}), 201))
    ok(
        api.post(
            f"/products/{made['id']}/entries",
            {"service": "voice", "tariff": tariff_id, **entry},
        ),
        201,
    )
    return made


def customer(
    api: Api, name: str, product_id: int | None, identifier: str, **data: Any
) -> tuple[int, int]:
    """(customer id, account id): a customer (prepaid with ``available_funds`` by default)
    with one account that has ``product_id``."""
    body = {"name": name, "currency": "USD", "balance_control": "prepaid", **data}
    cid = ok(api.post("/customers", body), 201)["id"]
    aid = ok(api.post(f"/customers/{cid}/accounts", {"identifier": identifier}), 201)["id"]
    if product_id is not None:
        ok(api._send("put", f"/accounts/{aid}/products", {"product": product_id, "addons": []}))
    return cid, aid
