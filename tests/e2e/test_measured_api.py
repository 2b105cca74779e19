"""Measured services over HTTP (issue 14): ``/customer-classes/{id}/measured-services`` and
``/customers/{id}/measured-services`` (+ ``/samples``, ``/charges``). Exact JSON values; every
4xx names its field; another reseller's objects are 404 and stay unchanged."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from billcore.classes.services import create_class
from billcore.engine import EngineReport, close_step
from billcore.ledger.customers import create_customer
from billcore.measured.models import MeasuredSample, MeasuredService
from tests.e2e.test_api import Api, _error, _token

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
FEB1 = dt.datetime(2027, 2, 1, tzinfo=dt.UTC)


@pytest.fixture
def api(client: Any, admin: Any) -> Api:
    return Api(client, _token(admin))


def put(api: Api, path: str, body: Any) -> Any:
    return api._send("put", path, body)


@pytest.fixture
def sip(admin: Any) -> Any:
    return create_class(actor=admin, now=T0, data={"name": "SIP", "currency": "USD"})


@pytest.fixture
def trunk(admin: Any, sip: Any) -> Any:
    return create_customer(
        actor=admin,
        now=T0,
        data={
            "name": "Trunk",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": sip.pk,
        },
    )


def test_class_defaults_customer_overrides_samples_and_the_charge(
    api: Api, sip: Any, trunk: Any
) -> None:
    r = put(
        api,
        f"/customer-classes/{sip.pk}/measured-services/concurrent_calls",
        {
            "price": "5.00",
            "free_items": "10",
            "charge_basis": "maximum",
            "rate_code": "SIPT",
            "service": "voice",
            "configured_limit": 12,
        },
    )
    assert r.status_code == 200, r.content
    body = r.json()
    body.pop("updated_at")
    assert body == {
        "metric": "concurrent_calls",
        "label": "Concurrent calls",
        "apply_charge": True,
        "charge_basis": "maximum",
        "price": "5.00000",
        "free_items": "10.00000",
        "rate_code": "SIPT",
        "service": "voice",
        "configured_limit": 12,
    }
    listed = api.get(f"/customer-classes/{sip.pk}/measured-services").json()
    assert [(m["metric"], m["definition"] is not None) for m in listed] == [
        ("active_calls", False),
        ("concurrent_calls", True),
        ("pbx_extensions", False),
    ]
    rows = api.get(f"/customers/{trunk.pk}/measured-services").json()
    assert [(m["metric"], m["source"], m["samples"]) for m in rows] == [
        ("active_calls", "none", 0),
        ("concurrent_calls", "class", 0),
        ("pbx_extensions", "none", 0),
    ]
    # An override of the limit only: the rest comes from the class.
    r = put(
        api,
        f"/customers/{trunk.pk}/measured-services/concurrent_calls",
        {"configured_limit": 11},
    )
    assert r.status_code == 200, r.content
    assert (r.json()["price"], r.json()["configured_limit"]) == ("5.00000", 11)
    for day, value in ((3, 11), (4, 12), (6, 10)):
        at = dt.datetime(2027, 1, day, tzinfo=dt.UTC)
        MeasuredSample.objects.create(
            customer=trunk, metric="concurrent_calls", taken_at=at, value=value, created_at=at
        )
    page = api.get(
        f"/customers/{trunk.pk}/measured-services/samples"
        "?metric=concurrent_calls&since=2027-01-04T00:00:00Z"
    ).json()
    assert page["count"] == 2
    assert [(s["taken_at"], s["value"]) for s in page["items"]] == [
        ("2027-01-04T00:00:00Z", 12),
        ("2027-01-06T00:00:00Z", 10),
    ]
    report = EngineReport(now=FEB1)
    close_step(now=FEB1, report=report, customer_ids=[trunk.pk])
    charges = api.get(f"/customers/{trunk.pk}/measured-services/charges").json()
    assert charges["count"] == 1
    charge = charges["items"][0]
    assert charge["invoice"] is not None
    charge.pop("transaction")
    charge.pop("invoice")
    assert charge == {
        "metric": "concurrent_calls",
        "period_start": "2027-01-01T00:00:00Z",
        "period_end": "2027-02-01T00:00:00Z",
        "charge_basis": "maximum",
        "samples": 3,
        "statistic": "12.00000",
        "free_items": "10.00000",
        "quantity": "2.00000",
        "price": "5.00000",
        "amount": "10.00000",
        "rate_code": "SIPT",
        "service": "voice",
    }
    r = api.delete(f"/customers/{trunk.pk}/measured-services/concurrent_calls")
    assert r.status_code == 204
    rows = api.get(f"/customers/{trunk.pk}/measured-services").json()
    assert rows[1]["source"] == "class"


@pytest.mark.parametrize(
    ("metric", "body", "field"),
    [
        ("calls", {}, "metric"),
        ("concurrent_calls", {"price": "-1"}, "price"),
        ("concurrent_calls", {"price": 5}, "price"),
        ("concurrent_calls", {"free_items": "x"}, "free_items"),
        ("concurrent_calls", {"charge_basis": "median"}, "charge_basis"),
        ("concurrent_calls", {"service": "nope"}, "service"),
        ("active_calls", {"configured_limit": 3}, "configured_limit"),
        ("concurrent_calls", {"colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    api: Api, sip: Any, trunk: Any, metric: str, body: dict[str, Any], field: str
) -> None:
    for path in (
        f"/customer-classes/{sip.pk}/measured-services/{metric}",
        f"/customers/{trunk.pk}/measured-services/{metric}",
    ):
        _error(put(api, path, body), 400, field)
    assert not MeasuredService.objects.exists()


def test_bad_sample_filters_name_the_field(api: Api, trunk: Any) -> None:
    base = f"/customers/{trunk.pk}/measured-services/samples"
    _error(api.get(base + "?metric=calls"), 400, "metric")
    _error(api.get(base + "?since=2027-01-05T00:00:00Z&until=2027-01-04T00:00:00Z"), 400, "until")


def test_another_resellers_objects_are_404(client: Any, world: dict[str, Any]) -> None:
    ua, ub = world["ua"], world["ub"]
    cls = world["classes"]["a"]
    mine = create_customer(
        actor=ua,
        now=T0,
        data={
            "name": "A's",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": cls.pk,
        },
    )
    a = Api(client, _token(ua))
    assert (
        put(a, f"/customer-classes/{cls.pk}/measured-services/pbx_extensions", {}).status_code
        == 200
    )
    before = list(MeasuredService.objects.values())
    b = Api(client, _token(ub))
    for response in (
        b.get(f"/customer-classes/{cls.pk}/measured-services"),
        put(b, f"/customer-classes/{cls.pk}/measured-services/pbx_extensions", {"price": "1"}),
        b.delete(f"/customer-classes/{cls.pk}/measured-services/pbx_extensions"),
        b.get(f"/customers/{mine.pk}/measured-services"),
        b.get(f"/customers/{mine.pk}/measured-services/samples"),
        b.get(f"/customers/{mine.pk}/measured-services/charges"),
        put(b, f"/customers/{mine.pk}/measured-services/active_calls", {}),
    ):
        assert response.status_code == 404, response.content
    assert list(MeasuredService.objects.values()) == before
