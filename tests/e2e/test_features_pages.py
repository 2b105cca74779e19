"""The customer's Abbreviated Dialing and Service Configuration tabs (CU-13, issue 14), an
account's service configuration page (its override and extension) and a product's defaults:
what they show, what they save, a refusal shown beside its input with nothing saved, CSRF on
every form, another reseller's customer a 404."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client

from billcore.features import services as features
from billcore.features.models import AbbreviatedNumber, DialingPlan, FeatureSet
from billcore.ledger.customers import create_customer
from billcore.rating import services as rating
from billcore.subscribers.models import Account

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


@pytest.fixture
def pia(world: dict[str, Any]) -> dict[str, Any]:
    admin = world["admin"]
    customer = create_customer(
        actor=admin,
        now=NOW,
        data={
            "name": "Pia",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": world["classes"]["usd"].pk,
        },
    )
    account = features.create_account(
        actor=admin, now=NOW, customer_id=customer.pk, data={"identifier": "+12025550101"}
    )
    tariff = rating.create_tariff(
        actor=admin, now=NOW, data={"name": "T", "currency": "USD", "service": "voice"}
    )
    product = rating.create_product(actor=admin, now=NOW, data={"name": "Home", "currency": "USD"})
    rating.create_entry(
        actor=admin, now=NOW, product_id=product.pk, data={"service": "voice", "tariff": tariff.pk}
    )
    rating.set_account_products(
        actor=admin, now=NOW, account_id=account.pk, product=product.pk, addons=[]
    )
    return {**world, "customer": customer, "account": account, "product": product}


def _panel(html: str, panel: str) -> str:
    start = html.index(f'id="panel-{panel}"')
    ends = [html.find(mark, start + 1) for mark in ('role="tabpanel"', 'class="form-actions"')]
    return html[start : min(e for e in ends if e > 0)]


def test_the_tabs_show_and_save(client: Client, pia: dict[str, Any]) -> None:
    client.force_login(pia["admin"])
    cid = pia["customer"].pk
    html = client.get(f"/customers/{cid}/").content.decode()
    assert "Abbreviated Dialing arrives with a later release" not in html
    assert "Service Configuration arrives with a later release" not in html
    dialing = _panel(html, "dialing")
    assert 'id="dialing-needs-length"' in dialing
    for form_id in ("dialing-length", "dialing-add", "service-features"):
        assert re.search(
            rf'<form method="post" [^>]*id="{form_id}"[^>]*>'
            r'<input type="hidden" name="csrfmiddlewaretoken"',
            html,
        )
    # Save the maximum length, then an entry.
    response = client.post(f"/customers/{cid}/abbreviated-dialing/length/", {"max_length": "3"})
    assert response.status_code == 302 and response["Location"].endswith("#tab-dialing")
    response = client.post(
        f"/customers/{cid}/abbreviated-dialing/",
        {"abbreviated": "34", "number": "+12025550101", "description": "Desk"},
    )
    assert response.status_code == 302
    entry = AbbreviatedNumber.objects.get(customer_id=cid)
    assert (entry.abbreviated, entry.account_id) == ("34", pia["account"].pk)
    dialing = _panel(client.get(f"/customers/{cid}/").content.decode(), "dialing")
    assert '<td class="mono">34</td>' in dialing and "Desk" in dialing
    # A refusal is shown beside its input; nothing saved.
    response = client.post(
        f"/customers/{cid}/abbreviated-dialing/", {"abbreviated": "1234", "number": ""}
    )
    assert response.status_code == 400
    dialing = _panel(response.content.decode(), "dialing")
    assert (
        '<p class="field-error" id="dialing-add-abbreviated-error">1234 is longer than the '
        "maximum abbreviated length (3 digits)</p>" in dialing
    )
    response = client.post(f"/customers/{cid}/abbreviated-dialing/length/", {"max_length": "1"})
    assert response.status_code == 400
    assert "34); delete them first" in response.content.decode()
    assert DialingPlan.objects.get(customer_id=cid).max_length == 3
    assert AbbreviatedNumber.objects.filter(customer_id=cid).count() == 1
    # Delete it.
    response = client.post(f"/customers/{cid}/abbreviated-dialing/{entry.pk}/delete/")
    assert response.status_code == 302
    assert not AbbreviatedNumber.objects.filter(customer_id=cid).exists()
    # Service configuration: every feature posted; empty inherits.
    values = {name: "" for name in features.NAMES}
    response = client.post(
        f"/customers/{cid}/service-features/",
        {**values, "max_calls": "2", "music_on_hold": "true", "cli_presentation": "restricted"},
    )
    assert response.status_code == 302 and response["Location"].endswith("#tab-service-config")
    saved = FeatureSet.objects.get(customer_id=cid)
    assert (saved.max_calls, saved.music_on_hold, saved.cli_presentation, saved.call_parking) == (
        2,
        True,
        "restricted",
        None,
    )
    tab = _panel(client.get(f"/customers/{cid}/").content.decode(), "service-config")
    assert re.search(
        r'<tr data-feature="max_calls"><td>Maximum simultaneous calls</td><td>2</td>'
        r'<td class="muted">Customer</td></tr>',
        tab,
    )
    assert re.search(
        r'<tr data-feature="max_incoming_calls"><td>Maximum incoming calls</td><td>No limit</td>'
        r'<td class="muted">Not set</td></tr>',
        tab,
    )
    response = client.post(f"/customers/{cid}/service-features/", {**values, "max_calls": "-1"})
    assert response.status_code == 400
    assert 'id="feature-max_calls-error"' in response.content.decode()
    assert FeatureSet.objects.get(customer_id=cid).max_calls == 2


def test_account_and_product_pages(client: Client, pia: dict[str, Any]) -> None:
    client.force_login(pia["admin"])
    cid, aid, pid = pia["customer"].pk, pia["account"].pk, pia["product"].pk
    accounts = client.get(f"/customers/{cid}/accounts/").content.decode()
    assert f'href="/customers/{cid}/accounts/{aid}/service-features/"' in accounts
    values = {name: "" for name in features.NAMES}
    url = f"/rating/products/{pid}/service-features/"
    assert f'href="{url}"' in client.get(f"/rating/products/{pid}/").content.decode()
    assert client.post(url, {**values, "max_calls": "5", "call_parking": "true"}).status_code == 302
    page = f"/customers/{cid}/accounts/{aid}/service-features/"
    html = client.get(page).content.decode()
    assert re.search(
        r'<tr data-feature="max_calls"><td>Maximum simultaneous calls</td><td>5</td>'
        r"<td class=\"muted\">Main product “Home”</td></tr>",
        html,
    )
    assert client.post(page, {**values, "max_calls": "1"}).status_code == 302
    html = client.get(page).content.decode()
    assert re.search(
        r'<tr data-feature="max_calls"><td>[^<]+</td><td>1</td><td class="muted">Account</td>', html
    )
    response = client.post(page, {**values, "override_identity": "12ab"})
    assert response.status_code == 400
    assert 'id="feature-override_identity-error"' in response.content.decode()
    assert FeatureSet.objects.get(account_id=aid).max_calls == 1
    # The extension.
    assert client.post(page + "extension/", {"extension": "21"}).status_code == 302
    assert Account.objects.get(pk=aid).extension == "21"
    response = client.post(page + "extension/", {"extension": "2x"})
    assert response.status_code == 400
    assert 'id="ext-extension-error"' in response.content.decode()
    assert Account.objects.get(pk=aid).extension == "21"


def test_another_resellers_customer_is_not_found(client: Client, pia: dict[str, Any]) -> None:
    client.force_login(pia["ua"])
    cid, aid, pid = pia["customer"].pk, pia["account"].pk, pia["product"].pk
    values = {name: "" for name in features.NAMES}
    for response in (
        client.post(f"/customers/{cid}/abbreviated-dialing/length/", {"max_length": "3"}),
        client.post(f"/customers/{cid}/abbreviated-dialing/", {"abbreviated": "1"}),
        client.post(f"/customers/{cid}/service-features/", {**values, "max_calls": "1"}),
        client.get(f"/customers/{cid}/accounts/{aid}/service-features/"),
        client.post(
            f"/customers/{cid}/accounts/{aid}/service-features/extension/", {"extension": "1"}
        ),
        client.get(f"/rating/products/{pid}/service-features/"),
    ):
        assert response.status_code == 404
    assert not DialingPlan.objects.exists() and not FeatureSet.objects.exists()
    assert Account.objects.get(pk=aid).extension is None
