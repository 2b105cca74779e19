"""Subscriptions over HTTP (issue 5 §3, CU-13 Subscriptions tab): ``/subscription-plans``,
``/customers/{id}/subscriptions`` and ``/subscriptions/{id}``. Exact JSON values; every 4xx
names its field; another reseller's objects are 404."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest

from billcore.classes.services import create_class
from billcore.ledger.customers import create_customer
from billcore.subscriptions.engine import charge_step
from tests.e2e.test_api import Api, _error, _token

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
JAN11 = "2026-01-11T00:00:00Z"

pytestmark = pytest.mark.django_db


@dataclass
class Report:
    fees_charged: int = 0
    status_changes: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


@pytest.fixture
def api(client: Any, admin: Any) -> Api:
    return Api(client, _token(admin))


def _customer(actor: Any, cls: Any, name: str = "Acme") -> Any:
    return create_customer(
        actor=actor,
        now=T0,
        data={
            "name": name,
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": cls.pk,
        },
    )


@pytest.fixture
def acme(admin: Any) -> Any:
    cls = create_class(actor=admin, now=T0, data={"name": "Direct USD", "currency": "USD"})
    return _customer(admin, cls)


def _gold(api: Api, **extra: Any) -> dict[str, Any]:
    r = api.post(
        "/subscription-plans",
        {"name": "Gold", "currency": "USD", "fee": "31.5", "in_advance": False, **extra},
    )
    assert r.status_code == 201, r.content
    return dict(r.json())


def test_plan_crud(api: Api) -> None:
    plan = _gold(api, description="Gold line")
    assert {k: v for k, v in plan.items() if k not in ("id", "created_at", "updated_at")} == {
        "name": "Gold",
        "description": "Gold line",
        "currency": "USD",
        "managed_by": None,
        "fee": "31.50000",
        "in_advance": False,
        "prorate": True,
        "charge_while_suspended": False,
        "charge_while_blocked": True,
    }
    pid = plan["id"]
    r = api.patch(f"/subscription-plans/{pid}", {"fee": "40.12345", "prorate": False})
    assert r.status_code == 200
    assert (r.json()["fee"], r.json()["prorate"]) == ("40.12345", False)
    r = api.get("/subscription-plans")
    assert (r.json()["count"], [p["name"] for p in r.json()["items"]]) == (1, ["Gold"])
    assert api.get(f"/subscription-plans/{pid}").json()["fee"] == "40.12345"
    assert api.delete(f"/subscription-plans/{pid}").status_code == 204
    _error(api.get(f"/subscription-plans/{pid}"), 404, "id", "not_found")


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"fee": "0"}, "fee", "invalid"),
        ({"fee": "1.123456"}, "fee", "invalid"),
        ({"fee": 12}, "fee", "invalid"),
        ({"currency": "JPY"}, "currency", None),
        ({"name": "GOLD"}, "name", "duplicate"),
        ({"colour": "red"}, "colour", "unknown"),
        ({"managed_by": 999999}, "managed_by", "not_found"),
    ],
)
def test_plan_errors_name_the_field(
    api: Api, body: dict[str, Any], field: str, code: str | None
) -> None:
    _gold(api)
    _error(
        api.post("/subscription-plans", {"name": "Silver", "currency": "USD", "fee": "5", **body}),
        400,
        field,
        code,
    )


def test_plan_missing_fields(api: Api) -> None:
    _error(
        api.post("/subscription-plans", {"name": "X", "currency": "USD"}), 400, "fee", "required"
    )


def test_subscribe_list_get_and_end(api: Api, acme: Any) -> None:
    plan = _gold(api)
    r = api.post(
        f"/customers/{acme.pk}/subscriptions",
        {"plan": plan["id"], "start_at": JAN11, "end_at": "2026-01-21T00:00:00+00:00"},
    )
    assert r.status_code == 201, r.content
    sub = r.json()
    assert {k: v for k, v in sub.items() if k not in ("id", "created_at", "updated_at")} == {
        "customer": acme.pk,
        "plan": plan["id"],
        "plan_name": "Gold",
        "fee": "31.50000",
        "currency": "USD",
        "start_at": "2026-01-11T00:00:00Z",
        "end_at": "2026-01-21T00:00:00Z",
        "status": "active",
        "charged_to": None,
    }
    # the engine charges it (in arrears, due at its end): 31.5 * 10/31 = 10.16129…
    report = Report()
    charge_step(now=dt.datetime(2026, 1, 21, tzinfo=dt.UTC), report=report)
    assert report.fees_charged == 1
    r = api.get(f"/subscriptions/{sub['id']}")
    assert (r.json()["status"], r.json()["charged_to"]) == ("ended", "2026-01-21T00:00:00Z")
    tx = api.get(f"/customers/{acme.pk}/transactions").json()["items"][0]
    assert (tx["action"], tx["amount"], tx["created_at"]) == (
        "subscription",
        "10.16129",
        "2026-01-20T23:59:59.999999Z",  # 1 µs before the end, to the microsecond
    )
    second = api.post(
        f"/customers/{acme.pk}/subscriptions", {"plan": plan["id"], "start_at": JAN11}
    ).json()
    r = api.get(f"/customers/{acme.pk}/subscriptions")
    assert [s["id"] for s in r.json()["items"]] == [second["id"], sub["id"]]
    r = api.get(f"/customers/{acme.pk}/subscriptions?status=ended")
    assert [s["id"] for s in r.json()["items"]] == [sub["id"]]
    r = api.patch(f"/subscriptions/{second['id']}", {"end_at": "2026-03-01T00:00:00Z"})
    assert (r.status_code, r.json()["end_at"], r.json()["status"]) == (
        200,
        "2026-03-01T00:00:00Z",
        "active",
    )
    _error(api.patch(f"/subscriptions/{sub['id']}", {"end_at": None}), 400, "end_at", "ended")
    _error(
        api.patch(f"/subscriptions/{second['id']}", {"end_at": "2026-01-01T00:00:00Z"}),
        400,
        "end_at",
    )
    _error(api.patch(f"/subscriptions/{second['id']}", {"end_at": "tomorrow"}), 400, "end_at")
    _error(api.patch(f"/subscriptions/{second['id']}", {}), 400, "end_at", "required")


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"start_at": JAN11}, "plan", "required"),
        ({"plan": 0, "start_at": JAN11}, "plan", None),
        ({"plan": "x", "start_at": JAN11}, "plan", None),
        ({}, "start_at", "required"),
        ({"start_at": "2026-01-11T00:00:00"}, "start_at", "naive"),
        ({"start_at": "2025-12-31T00:00:00Z"}, "start_at", None),
        ({"start_at": JAN11, "end_at": JAN11}, "end_at", None),
        ({"start_at": JAN11, "discount": "5"}, "discount", "unknown"),
    ],
)
def test_subscribe_errors_name_the_field(
    api: Api, acme: Any, body: dict[str, Any], field: str, code: str | None
) -> None:
    plan = _gold(api)
    body = {"plan": plan["id"], **body} if "plan" not in body and field != "plan" else body
    _error(api.post(f"/customers/{acme.pk}/subscriptions", body), 400, field, code)


def test_other_resellers_objects_are_404(client: Any, world: dict[str, Any]) -> None:
    ua, ub = Api(client, _token(world["ua"])), Api(client, _token(world["ub"]))
    r = ua.post("/subscription-plans", {"name": "A plan", "currency": "USD", "fee": "3"})
    assert (r.status_code, r.json()["managed_by"]) == (201, world["ra"].pk)
    pid = r.json()["id"]
    customer = _customer(world["ua"], world["classes"]["a"], name="A's retail")
    r = ua.post(f"/customers/{customer.pk}/subscriptions", {"plan": pid, "start_at": JAN11})
    assert r.status_code == 201, r.content
    sid = r.json()["id"]
    _error(ub.get(f"/subscription-plans/{pid}"), 404, "id")
    _error(ub.patch(f"/subscription-plans/{pid}", {"fee": "1"}), 404, "id")
    _error(ub.delete(f"/subscription-plans/{pid}"), 404, "id")
    _error(ub.get(f"/subscriptions/{sid}"), 404, "id")
    _error(ub.patch(f"/subscriptions/{sid}", {"end_at": None}), 404, "id")
    _error(ub.get(f"/customers/{customer.pk}/subscriptions"), 404, "id")
    _error(
        ub.post(f"/customers/{customer.pk}/subscriptions", {"plan": pid, "start_at": JAN11}),
        404,
        "id",
    )
    assert ub.get("/subscription-plans").json()["count"] == 0
    # B's own plan cannot be given to A's customer through the admin either: A's plans only
    admin = Api(client, _token(world["admin"]))
    b_plan = ub.post("/subscription-plans", {"name": "B plan", "currency": "USD", "fee": "3"})
    _error(
        admin.post(
            f"/customers/{customer.pk}/subscriptions",
            {"plan": b_plan.json()["id"], "start_at": JAN11},
        ),
        400,
        "plan",
        "not_found",
    )
