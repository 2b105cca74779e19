"""The Measured Services pages (issue 14; CU-13 Measured Services tab, CC-22 Measured Service
tab): inherited rows and overrides, the samples' charts, bad input shown beside its input with
nothing saved, confirmation before dropping settings, reseller isolation."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from billcore.ledger.customers import create_customer
from billcore.measured.models import MeasuredSample, MeasuredService
from billcore.measured.services import set_class_service, set_customer_service
from billcore.web import base

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
TODAY = dt.datetime(2027, 1, 20, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _clock(monkeypatch: Any) -> None:
    monkeypatch.setattr(base, "now", lambda: TODAY)


@pytest.fixture
def trunk(world: dict[str, Any]) -> Any:
    cls = world["classes"]["a"]
    set_class_service(
        actor=world["ua"],
        now=T0,
        class_id=cls.pk,
        metric="concurrent_calls",
        data={"price": "5.00", "free_items": "10", "rate_code": "SIPT", "configured_limit": 12},
    )
    c = create_customer(
        actor=world["ua"],
        now=T0,
        data={
            "name": "Trunk",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": cls.pk,
        },
    )
    for day, value in ((10, 10), (11, 12), (13, 11)):  # the 12th was missed
        at = dt.datetime(2027, 1, day, tzinfo=dt.UTC)
        MeasuredSample.objects.create(
            customer=c, metric="concurrent_calls", taken_at=at, value=value, created_at=at
        )
    return c


def _row(html: str, row_id: str) -> str:
    match = re.search(rf'<tr id="{row_id}".*?</tr>', html, re.S)
    assert match, row_id
    return match.group(0)


def test_the_tab_shows_inherited_settings_samples_and_a_chart(
    client: Client, world: dict[str, Any], trunk: Any
) -> None:
    client.force_login(world["ua"])
    html = client.get(f"/customers/{trunk.pk}/").content.decode()
    assert 'id="tab-measured"' in html and 'id="panel-measured"' in html
    row = _row(html, "measured-concurrent_calls")
    assert 'data-source="class"' in row and "Inherited" in row
    assert 'value="5"' in row and 'value="10"' in row and 'value="SIPT"' in row
    assert 'value="12"' in row  # the limit
    assert '<td class="num" id="measured-concurrent_calls-samples">3</td>' in row
    assert 'data-source="none"' in _row(html, "measured-pbx_extensions")
    # The chart: the highest sample of each day, a point only on the days sampled.
    chart = re.search(r'<svg[^>]*id="measured-chart-concurrent_calls".*?</svg>', html, re.S)
    assert chart
    points = re.findall(r'data-label="([^"]+)" data-value="([^"]+)"', chart.group(0))
    assert points == [("Jan 10", "10"), ("Jan 11", "12"), ("Jan 13", "11")]
    assert "3 samples" in html
    # Every form of the tab carries the CSRF token.
    forms = re.findall(
        r'<form method="post" action="[^"]*measured-services[^"]*"[^>]*>(.*?)</form>', html
    )
    assert len(forms) == 3 and all("csrfmiddlewaretoken" in f for f in forms)


def test_setting_own_settings_and_going_back_to_the_class(
    client: Client, world: dict[str, Any], trunk: Any
) -> None:
    client.force_login(world["ua"])
    url = f"/customers/{trunk.pk}/measured-services/concurrent_calls/"
    post = {
        "apply_charge": "true",
        "charge_basis": "average",
        "price": "7.5",
        "free_items": "10",
        "rate_code": "SIPT",
        "service": "",
        "configured_limit": "12",
    }
    response = client.post(url, post)
    assert response.status_code == 302
    assert response["Location"] == f"/customers/{trunk.pk}/#tab-measured"
    own = MeasuredService.objects.get(customer=trunk)
    assert (own.charge_basis, own.price, own.free_items) == (
        "average",
        Decimal("7.50000"),
        Decimal("10.00000"),
    )
    html = client.get(f"/customers/{trunk.pk}/").content.decode()
    row = _row(html, "measured-concurrent_calls")
    assert 'data-source="customer"' in row and "Customer's own" in row
    # Dropping it asks first, then the class's settings apply again.
    inherit = f"/customers/{trunk.pk}/measured-services/concurrent_calls/inherit/"
    asked = client.post(inherit)
    assert asked.status_code == 200 and "use its class" in asked.content.decode()
    assert MeasuredService.objects.filter(customer=trunk).exists()
    done = client.post(inherit, {"confirmed": "1"})
    assert done.status_code == 302
    assert not MeasuredService.objects.filter(customer=trunk).exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("price", "-1", "Price per item must be at least 0"),
        ("price", "1.2.3", "Not a plain decimal number"),
        ("configured_limit", "lots", "Limit must be a whole number"),
        ("charge_basis", "median", "Charge based on must be one of"),
    ],
)
def test_bad_input_is_shown_beside_its_input_and_nothing_is_saved(
    client: Client, world: dict[str, Any], trunk: Any, field: str, value: str, message: str
) -> None:
    client.force_login(world["ua"])
    post = {"apply_charge": "true", "charge_basis": "maximum", "price": "5", field: value}
    response = client.post(f"/customers/{trunk.pk}/measured-services/concurrent_calls/", post)
    assert response.status_code == 400
    row = _row(response.content.decode(), "measured-concurrent_calls")
    error = re.search(rf'id="measured-customer-concurrent_calls-{field}-error">([^<]*)<', row)
    assert error and message in error.group(1), row
    assert not MeasuredService.objects.filter(customer=trunk).exists()


def test_the_class_tab_edits_the_defaults(
    client: Client, world: dict[str, Any], trunk: Any
) -> None:
    client.force_login(world["ua"])
    cls = world["classes"]["a"]
    html = client.get(f"/classes/{cls.pk}/").content.decode()
    assert 'id="measured-class-table"' in html
    assert 'data-defined="yes"' in _row(html, "measured-class-row-concurrent_calls")
    assert 'data-defined="no"' in _row(html, "measured-class-row-pbx_extensions")
    url = f"/classes/{cls.pk}/measured-services/pbx_extensions/"
    response = client.post(
        url, {"apply_charge": "false", "charge_basis": "maximum", "price": "0", "free_items": "0"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/classes/{cls.pk}/#tab-measured-service"
    defined = MeasuredService.objects.get(customer_class=cls, metric="pbx_extensions")
    assert defined.apply_charge is False
    bad = client.post(url, {"free_items": "-2"})
    assert bad.status_code == 400
    assert "Free items must be at least 0" in bad.content.decode()
    assert MeasuredService.objects.get(pk=defined.pk).free_items == Decimal(0)
    delete = f"/classes/{cls.pk}/measured-services/pbx_extensions/delete/"
    assert client.post(delete).status_code == 200  # asks first
    assert client.post(delete, {"confirmed": "1"}).status_code == 302
    assert not MeasuredService.objects.filter(customer_class=cls, metric="pbx_extensions").exists()


def test_another_reseller_gets_404_and_changes_nothing(
    client: Client, world: dict[str, Any], trunk: Any
) -> None:
    set_customer_service(
        actor=world["ua"], now=T0, customer_id=trunk.pk, metric="active_calls", data={}
    )
    before = list(MeasuredService.objects.order_by("id").values())
    client.force_login(world["ub"])
    cls = world["classes"]["a"]
    for url, data in (
        (f"/customers/{trunk.pk}/measured-services/active_calls/", {"price": "9"}),
        (f"/customers/{trunk.pk}/measured-services/active_calls/inherit/", {"confirmed": "1"}),
        (f"/classes/{cls.pk}/measured-services/concurrent_calls/", {"price": "9"}),
        (f"/classes/{cls.pk}/measured-services/concurrent_calls/delete/", {"confirmed": "1"}),
    ):
        assert client.post(url, data).status_code == 404, url
    assert client.get(f"/customers/{trunk.pk}/").status_code == 404
    assert list(MeasuredService.objects.order_by("id").values()) == before
    # An unknown metric is not a page either.
    client.force_login(world["ua"])
    assert client.post(f"/customers/{trunk.pk}/measured-services/sessions/", {}).status_code == 404
