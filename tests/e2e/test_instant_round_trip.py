"""Issue 10 §4: a date-time read from either API is accepted back as the same instant.

Instants are stored to the microsecond. ``/api/v1`` prints them to the microsecond (it used to
print milliseconds, so a value read and sent back was an earlier instant: a subscription
``start_at`` equal to the customer's ``billed_to`` was refused as "before the customer was
created"). ``/rest/`` prints whole seconds in the original's format (``YYYY-MM-DD HH:MM:SS``):
a value read there stands for the instant it was printed from, so the rules compare it at that
precision (a subscription may start in the second the customer was created, meaning at its
creation; ``credit_limit_until`` sent back unchanged keeps its stored instant). SQLite and
PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from billcore.customers.models import Customer
from billcore.subscriptions.models import Subscription
from tests.e2e.porta_support import ADMIN, Porta
from tests.e2e.test_api import Api, _error, _token
from tests.e2e.test_porta import add, info_of

pytestmark = pytest.mark.django_db

# An instant with microseconds that milliseconds and whole seconds both cut.
T = dt.datetime(2026, 11, 1, 12, 0, 0, 654321, tzinfo=dt.UTC)
T_API = "2026-11-01T12:00:00.654321Z"
UNTIL = dt.datetime(2026, 12, 1, 8, 30, 15, 250001, tzinfo=dt.UTC)


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timezone, "now", lambda: T)


@pytest.fixture
def api(client: Any, admin: Any, frozen: None) -> Api:
    return Api(client, _token(admin))


def _plan(api: Api) -> int:
    r = api.post("/subscription-plans", {"name": "Gold", "currency": "USD", "fee": "10"})
    assert r.status_code == 201, r.content
    return int(r.json()["id"])


def _customer(api: Api) -> dict[str, Any]:
    r = api.post("/customers", {"name": "Acme", "currency": "USD", "balance_control": "postpaid"})
    assert r.status_code == 201, r.content
    return dict(r.json())


def test_api_v1_prints_microseconds_and_takes_its_values_back(api: Api) -> None:
    customer = _customer(api)
    assert (customer["created_at"], customer["billed_to"]) == (T_API, T_API)
    assert Customer.objects.get(pk=customer["id"]).created_at == T
    # the subscription starts exactly at billed_to, as read
    r = api.post(
        f"/customers/{customer['id']}/subscriptions",
        {"plan": _plan(api), "start_at": customer["billed_to"]},
    )
    assert r.status_code == 201, r.content
    assert r.json()["start_at"] == T_API
    assert Subscription.objects.get().start_at == T
    # an instant 1 µs past it, read back and ended there: end_at after start_at by 1 µs
    end = api.patch(f"/subscriptions/{r.json()['id']}", {"end_at": "2026-11-01T12:00:00.654322Z"})
    assert end.status_code == 200, end.content
    assert end.json()["end_at"] == "2026-11-01T12:00:00.654322Z"
    # a value with microseconds sent, read, and sent back whole: nothing changes
    path = f"/customers/{customer['id']}"
    r = api.patch(path, {"temp_credit_limit": "50", "credit_limit_until": UNTIL.isoformat()})
    assert r.status_code == 200, r.content
    assert r.json()["credit_limit_until"] == "2026-12-01T08:30:15.250001Z"
    again = api.patch(path, {"credit_limit_until": r.json()["credit_limit_until"]})
    assert again.status_code == 200, again.content
    assert again.json()["credit_limit_until"] == "2026-12-01T08:30:15.250001Z"
    assert Customer.objects.get(pk=customer["id"]).credit_limit_until == UNTIL


def test_a_start_before_the_creation_second_is_still_refused(api: Api) -> None:
    customer = _customer(api)
    err = _error(
        api.post(
            f"/customers/{customer['id']}/subscriptions",
            {"plan": _plan(api), "start_at": "2026-11-01T11:59:59.999999Z"},
        ),
        400,
        "start_at",
    )
    assert err["message"] == (
        "start_at must not be before the customer was created (2026-11-01T12:00:00.654321+00:00)"
    )
    assert Subscription.objects.count() == 0


@pytest.mark.parametrize(
    "printed",
    [
        "2026-11-01T12:00:00Z",  # /rest/'s whole second, in ISO form
        "2026-11-01T12:00:00.654Z",  # what /api/v1 printed before (milliseconds)
        "2026-11-01T13:00:00+01:00",  # the same second with an offset
    ],
)
def test_a_start_in_the_creation_second_means_the_creation(api: Api, printed: str) -> None:
    customer = _customer(api)
    r = api.post(
        f"/customers/{customer['id']}/subscriptions",
        {"plan": _plan(api), "start_at": printed},
    )
    assert r.status_code == 201, r.content
    assert r.json()["start_at"] == T_API
    assert Subscription.objects.get().start_at == T


@pytest.mark.parametrize("style", ["json", "form"])
def test_rest_values_are_taken_back_as_the_same_instant(
    client: Any, world: dict[str, Any], frozen: None, style: str
) -> None:
    porta = Porta(client, style)
    porta.login(*ADMIN)
    cid = add(porta, name="Rest Co")
    assert Customer.objects.get(pk=cid).created_at == T
    info = info_of(porta, cid)
    assert info["creation_date"] == "2026-11-01 12:00:00"
    # /rest/'s creation date as a subscription start on /api/v1: the creation itself
    api = Api(client, _token(world["admin"]))
    start = info["creation_date"].replace(" ", "T") + "Z"
    r = api.post(f"/customers/{cid}/subscriptions", {"plan": _plan(api), "start_at": start})
    assert r.status_code == 201, r.content
    assert Subscription.objects.get().start_at == T
    # a temporary limit until an instant with microseconds (set on /api/v1), read on /rest/
    # (whole seconds) and the record sent back whole: accepted, the instant unchanged
    patched = api.patch(
        f"/customers/{cid}", {"temp_credit_limit": "50", "credit_limit_until": UNTIL.isoformat()}
    )
    assert patched.status_code == 200, patched.content
    info = info_of(porta, cid)
    assert info["credit_limit_until"] == "2026-12-01 08:30:15"
    porta.ok("Customer", "update_customer", {"customer_info": info})
    assert Customer.objects.get(pk=cid).credit_limit_until == UNTIL
    # a different second is a change
    info["credit_limit_until"] = "2026-12-02 08:30:15"
    porta.ok("Customer", "update_customer", {"customer_info": info})
    assert Customer.objects.get(pk=cid).credit_limit_until == dt.datetime(
        2026, 12, 2, 8, 30, 15, tzinfo=dt.UTC
    )
