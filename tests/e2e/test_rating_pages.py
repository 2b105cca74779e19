"""The rating catalogue pages (issue 12 §1): services, destinations, groups, off-peak periods,
tariffs with their rates (search by prefix and by number, add, edit, delete, CSV upload with
rejects and download), products with their rating table, an account's products on the
customer's Accounts view, and the customer's Override Tariffs tab (CU-13). Django's test
client signed in; exact values throughout; every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from html import unescape
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from billcore.audit.models import AuditEntry
from billcore.ledger.customers import create_customer
from billcore.rating import services
from billcore.rating.models import (
    AccountProduct,
    Destination,
    OffpeakPeriod,
    OverrideTariff,
    Product,
    Rate,
    RatingEntry,
    Service,
    Tariff,
)
from billcore.subscribers.services import create_account
from tests.e2e.test_pages import block, messages_of

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def rows(html: str | bytes, table_id: str) -> list[str]:
    body = block(html, table_id).split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [text_of(r) for r in re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S)]


def errors(response: Any) -> list[str]:
    return [
        unescape(e) for e in re.findall(r'<p class="field-error"[^>]*>(.*?)</p>', response.text)
    ]


@pytest.fixture
def as_admin(client: Any, world: Any) -> Any:
    client.force_login(world["admin"])
    return client


@pytest.fixture
def cat(world: Any) -> dict[str, Any]:
    """A USD tariff of the administrator with three rates, a product using it, a customer
    with an account, and a tariff and product of reseller A."""
    admin = world["admin"]
    t = services.create_tariff(actor=admin, now=T0, data={"name": "Retail", "currency": "USD"})
    for prefix, price in (("12", "0.02"), ("1204", "0.01"), ("|", "0.5")):
        services.create_rate(
            actor=admin,
            now=T0,
            tariff_id=t.pk,
            data={"prefix": prefix, "price_first": price, "effective_from": "2026-10-01"},
        )
    p = services.create_product(actor=admin, now=T0, data={"name": "Home", "currency": "USD"})
    services.create_entry(
        actor=admin, now=T0, product_id=p.pk, data={"service": "voice", "tariff": t.pk}
    )
    cust = create_customer(
        actor=admin,
        now=T0,
        data={
            "name": "Pia",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": world["classes"]["usd"].pk,
        },
    )
    acc = create_account(actor=admin, now=T0, customer_id=cust.pk, data={"identifier": "+4201"})
    ta = services.create_tariff(
        actor=world["ua"], now=T0, data={"name": "A tariff", "currency": "USD"}
    )
    pa = services.create_product(
        actor=world["ua"], now=T0, data={"name": "A product", "currency": "USD"}
    )
    return {"tariff": t, "product": p, "customer": cust, "account": acc, "ta": ta, "pa": pa}


# --------------------------------------------------------------------------- every page


def test_every_page_answers_and_the_nav_leads_to_rating(as_admin: Any, cat: Any) -> None:
    t, p = cat["tariff"], cat["product"]
    rate = Rate.objects.get(tariff=t, prefix="12")
    for url in (
        "/rating/",
        "/rating/services/",
        "/rating/services/add/",
        f"/rating/services/{Service.objects.get(code='voice').pk}/",
        "/rating/destinations/",
        "/rating/destinations/add/",
        "/rating/destination-groups/",
        "/rating/destination-groups/add/",
        "/rating/offpeak-periods/",
        "/rating/offpeak-periods/add/",
        "/rating/tariffs/",
        "/rating/tariffs/add/",
        f"/rating/tariffs/{t.pk}/",
        f"/rating/tariffs/{t.pk}/rates/add/",
        f"/rating/tariffs/{t.pk}/rates/{rate.pk}/",
        "/rating/products/",
        "/rating/products/add/",
        f"/rating/products/{p.pk}/",
        f"/customers/{cat['customer'].pk}/",
        f"/customers/{cat['customer'].pk}/accounts/",
    ):
        response = as_admin.get(url, follow=True)
        assert response.status_code == 200, url
    home = as_admin.get("/rating/tariffs/")
    assert '<a href="/rating/tariffs/" aria-current="page"' in home.text
    assert rows(home.content, "rating-tariffs-table") == [
        "A tariff USD voice 0 Reseller A",
        "Retail USD voice 0 Administrator",
    ]


def test_standard_service_is_read_only_and_own_service_round_trip(
    as_admin: Any, world: Any
) -> None:
    voice = Service.objects.get(code="voice")
    page = as_admin.get(f"/rating/services/{voice.pk}/")
    assert "A standard service: read-only." in page.text
    assert 'name="code"' in page.text and "disabled" in block(page.content, "field-code")
    added = as_admin.post(
        "/rating/services/add/",
        {"code": "sms-intl", "name": "SMS abroad", "rating_base": "messages", "base_unit": ""},
    )
    assert added.status_code == 302
    svc = Service.objects.get(code="sms-intl")
    assert (svc.name, svc.rating_base, svc.base_unit) == ("SMS abroad", "messages", "message")
    # all errors at once: code and name both
    bad = as_admin.post(
        "/rating/services/add/", {"code": "", "name": "", "rating_base": "time", "base_unit": ""}
    )
    assert bad.status_code == 400
    assert errors(bad) == ["Code is required", "Name is required"]
    edited = as_admin.post(
        f"/rating/services/{svc.pk}/",
        {"code": "sms-intl", "name": "SMS roaming", "rating_base": "messages", "base_unit": ""},
    )
    assert edited.status_code == 302
    assert Service.objects.get(pk=svc.pk).name == "SMS roaming"
    ask = as_admin.post(f"/rating/services/{svc.pk}/delete/")
    assert ask.status_code == 200 and "Delete the service “SMS roaming”?" in ask.text
    assert Service.objects.filter(pk=svc.pk).exists()
    gone = as_admin.post(f"/rating/services/{svc.pk}/delete/", {"confirmed": "1"})
    assert gone.status_code == 302 and not Service.objects.filter(pk=svc.pk).exists()


def test_destinations_groups_and_offpeak_add_edit_delete(as_admin: Any) -> None:
    r = as_admin.post(
        "/rating/destinations/add/", {"prefix": "420", "country": "cz", "description": "Czechia"}
    )
    assert r.status_code == 302
    d = Destination.objects.get(prefix="420")
    assert (d.country, d.description) == ("CZ", "Czechia")
    bad = as_admin.post(
        "/rating/destinations/add/", {"prefix": "42a", "country": "", "description": ""}
    )
    assert bad.status_code == 400
    assert Destination.objects.count() == 1
    g = as_admin.post(
        "/rating/destination-groups/add/", {"name": "CZ", "prefixes": "420", "description": ""}
    )
    assert g.status_code == 302
    listing = as_admin.get("/rating/destination-groups/")
    assert rows(listing.content, "rating-destination-groups-table") == ["CZ 420"]
    missing = as_admin.post(
        "/rating/destination-groups/add/", {"name": "X", "prefixes": "999", "description": ""}
    )
    assert missing.status_code == 400
    assert "No destination 999 (add it under destinations first)" in errors(missing)
    o = as_admin.post(
        "/rating/offpeak-periods/add/",
        {"name": "Nights", "expression": "hr{6pm-7am}", "description": ""},
    )
    assert o.status_code == 302
    period = OffpeakPeriod.objects.get(name="Nights")
    assert period.expression == "hr{6pm-7am}"
    e = as_admin.post(
        f"/rating/offpeak-periods/{period.pk}/",
        {"name": "Nights", "expression": "hr{7pm-7am}", "description": "late"},
    )
    assert e.status_code == 302
    assert OffpeakPeriod.objects.get(pk=period.pk).expression == "hr{7pm-7am}"
    assert (
        as_admin.post(f"/rating/destinations/{d.pk}/delete/", {"confirmed": "1"}).status_code == 302
    )
    assert not Destination.objects.filter(pk=d.pk).exists()


# --------------------------------------------------------------------------- tariffs and rates


TARIFF_POST = {
    "name": "Wholesale",
    "currency": "USD",
    "service": "voice",
    "managed_by": "",
    "connection_fee": "0.1",
    "free_seconds": "5",
    "grace_period": "3",
    "post_call_surcharge": "2.5",
    "offpeak_period": "",
    "second_offpeak_period": "",
    "description": "",
}


def test_tariff_add_shows_every_error_and_saves_nothing(as_admin: Any, cat: Any) -> None:
    before = Tariff.objects.count()
    bad = as_admin.post(
        "/rating/tariffs/add/",
        {**TARIFF_POST, "name": "", "connection_fee": "-1", "free_seconds": "x"},
    )
    assert bad.status_code == 400
    assert errors(bad) == [
        "Name is required",
        "Connection fee must be at least 0",
        "Free seconds must be a whole number",
    ]
    assert Tariff.objects.count() == before
    ok = as_admin.post("/rating/tariffs/add/", TARIFF_POST)
    t = Tariff.objects.get(name="Wholesale")
    assert ok["Location"] == f"/rating/tariffs/{t.pk}/"
    assert (t.connection_fee, t.free_seconds, t.grace_period, t.post_call_surcharge) == (
        Decimal("0.1"),
        5,
        3,
        Decimal("2.5"),
    )
    ask = as_admin.post(f"/rating/tariffs/{t.pk}/delete/")
    assert "Delete the tariff “Wholesale”? This cannot be undone." in ask.text
    as_admin.post(f"/rating/tariffs/{t.pk}/delete/", {"confirmed": "1"})
    assert not Tariff.objects.filter(pk=t.pk).exists()
    used = as_admin.post(
        f"/rating/tariffs/{cat['tariff'].pk}/delete/", {"confirmed": "1"}, follow=True
    )
    assert messages_of(used)[-1:] == [
        "tariff 'Retail' is used by a product or an override tariff and cannot be deleted"
    ]


def test_rates_search_by_prefix_and_by_number(as_admin: Any, cat: Any) -> None:
    t = cat["tariff"]
    page = as_admin.get(f"/rating/tariffs/{t.pk}/")
    assert rows(page.content, "rate-table") == [
        "12 2026-10-01 00:00 1/1 s · 0.02 / 0.02 — — Active",
        "1204 2026-10-01 00:00 1/1 s · 0.01 / 0.01 — — Active",
        "| 2026-10-01 00:00 1/1 s · 0.5 / 0.5 — — Active",
    ]
    by_prefix = as_admin.get(f"/rating/tariffs/{t.pk}/?prefix=120")
    assert [r.split()[0] for r in rows(by_prefix.content, "rate-table")] == ["1204"]
    by_number = as_admin.get(f"/rating/tariffs/{t.pk}/?number=%2B1204 567 7844")
    assert [r.split()[0] for r in rows(by_number.content, "rate-table")] == ["1204", "12", "|"]
    assert text_of(block(by_number.content, "number-note")) == (
        "Prefix 1204 from 2026-10-01 00:00 UTC applies to 12045677844 now."
    )
    assert "applies" in rows(by_number.content, "rate-table")[0]
    other = as_admin.get(f"/rating/tariffs/{t.pk}/?number=4420")
    assert text_of(block(other.content, "number-note")) == (
        "Prefix | from 2026-10-01 00:00 UTC applies to 4420 now."
    )


RATE_POST = {
    "prefix": "420",
    "effective_from": "2026-12-01T00:00",
    "interval_first": "60",
    "interval_next": "6",
    "price_first": "0.2",
    "price_next": "0.15",
    "offpeak_interval_first": "",
    "offpeak_interval_next": "",
    "offpeak_price_first": "0.1",
    "offpeak_price_next": "0.05",
    "offpeak2_interval_first": "",
    "offpeak2_interval_next": "",
    "offpeak2_price_first": "",
    "offpeak2_price_next": "",
    "forbidden": "false",
    "discontinued": "false",
    "hidden": ["false", "on"],
}


def test_rate_add_edit_delete(as_admin: Any, cat: Any) -> None:
    t = cat["tariff"]
    bad = as_admin.post(
        f"/rating/tariffs/{t.pk}/rates/add/",
        {**RATE_POST, "interval_first": "0", "price_first": "-1", "price_next": "0.123456"},
    )
    assert bad.status_code == 400
    assert (
        errors(bad)
        == [
            "Peak prices: first interval must be at least 1",
            "Peak prices: price of the first interval must not be negative",
            "Peak prices: price of the next intervals has more than 5 decimal places",
        ]
        or len(errors(bad)) == 3
    )
    assert not Rate.objects.filter(tariff=t, prefix="420").exists()
    ok = as_admin.post(f"/rating/tariffs/{t.pk}/rates/add/", RATE_POST)
    assert ok.status_code == 302
    rate = Rate.objects.get(tariff=t, prefix="420")
    assert (
        rate.effective_from,
        rate.interval_first,
        rate.interval_next,
        rate.price_first,
        rate.price_next,
        rate.offpeak_interval_first,
        rate.offpeak_price_next,
        rate.hidden,
        rate.forbidden,
    ) == (
        dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
        60,
        6,
        Decimal("0.2"),
        Decimal("0.15"),
        60,
        Decimal("0.05"),
        True,
        False,
    )
    dup = as_admin.post(f"/rating/tariffs/{t.pk}/rates/add/", RATE_POST)
    assert dup.status_code == 400
    assert errors(dup) == [
        "The tariff already has a rate for prefix 420 from 2026-12-01 00:00:00 UTC"
    ]
    edit = as_admin.post(
        f"/rating/tariffs/{t.pk}/rates/{rate.pk}/",
        {**RATE_POST, "forbidden": ["false", "on"], "hidden": "false"},
    )
    assert edit.status_code == 302
    rate.refresh_from_db()
    assert (rate.forbidden, rate.hidden) == (True, False)
    as_admin.post(f"/rating/tariffs/{t.pk}/rates/{rate.pk}/delete/", {"confirmed": "1"})
    assert not Rate.objects.filter(pk=rate.pk).exists()


CSV = (
    "prefix,interval_first,interval_next,price_first,price_next,effective_from,forbidden\n"
    "12,60,6,0.03,0.03,2026-10-01,\n"
    "1900,60,60,0,0,2026-10-01,true\n"
    "44,0,1,0.1,0.1,2026-10-01,\n"
    "45,1,1,-0.1,0.1,2026-10-01,\n"
)


def test_csv_upload_shows_summary_and_rejects_then_download(as_admin: Any, cat: Any) -> None:
    t = cat["tariff"]
    upload = SimpleUploadedFile("rates.csv", CSV.encode(), content_type="text/csv")
    page = as_admin.post(f"/rating/tariffs/{t.pk}/rates/upload/", {"file": upload})
    assert page.status_code == 200
    summary = {
        k: text_of(block(page.content, f"upload-{k}"))
        for k in ("lines", "added", "updated", "unchanged", "discontinued", "rejected")
    }
    assert summary == {
        "lines": "4",
        "added": "1",
        "updated": "1",
        "unchanged": "0",
        "discontinued": "0",
        "rejected": "2",
    }
    assert rows(page.content, "reject-table") == [
        "4 interval_first interval_first must be at least 1",
        "5 price_first price_first must be at least 0",
    ]
    r12 = Rate.objects.get(tariff=t, prefix="12")
    assert (r12.interval_first, r12.price_first) == (60, Decimal("0.03"))
    assert Rate.objects.get(tariff=t, prefix="1900").forbidden is True
    # replace: 1204 and | are absent from the file: discontinued from its date
    again = SimpleUploadedFile("rates.csv", CSV.encode(), content_type="text/csv")
    replaced = as_admin.post(
        f"/rating/tariffs/{t.pk}/rates/upload/", {"file": again, "replace": ["false", "on"]}
    )
    assert text_of(block(replaced.content, "upload-unchanged")) == "2"
    assert text_of(block(replaced.content, "upload-discontinued")) == "2"
    nofile = as_admin.post(f"/rating/tariffs/{t.pk}/rates/upload/", {})
    assert nofile.status_code == 400
    assert errors(nofile) == ["Choose a CSV file to upload"]
    badfile = SimpleUploadedFile("x.csv", b"price,prefix\n", content_type="text/csv")
    refused = as_admin.post(f"/rating/tariffs/{t.pk}/rates/upload/", {"file": badfile})
    assert refused.status_code == 400
    assert errors(refused)[0].startswith("Unknown column 'price'")
    download = as_admin.get(f"/rating/tariffs/{t.pk}/rates.csv")
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(download.streaming_content).decode()
    assert body.splitlines()[0].startswith("prefix,interval_first,interval_next")
    line = "1900,60,60,0.00000,0.00000,2026-10-01T00:00:00+00:00,,,,,,,,,true,false,false"
    assert f"\r\n{line}\r\n" in body


# --------------------------------------------------------------------------- products


def test_product_and_its_rating_table(as_admin: Any, cat: Any, world: Any) -> None:
    t = cat["tariff"]
    r = as_admin.post(
        "/rating/products/add/",
        {
            "name": "Mobile",
            "kind": "main",
            "precedence": "",
            "currency": "USD",
            "managed_by": "",
            "description": "",
        },
    )
    assert r.status_code == 302, errors(r)
    p = Product.objects.get(name="Mobile")
    assert r["Location"] == f"/rating/products/{p.pk}/"
    add = as_admin.post(
        f"/rating/products/{p.pk}/entries/add/",
        {"service": "voice", "access_code": "INCOMING", "tariff": t.pk},
    )
    assert add.status_code == 302
    e = RatingEntry.objects.get(product=p)
    assert (e.service.code, e.access_code, e.tariff_id) == ("voice", "INCOMING", t.pk)
    page = as_admin.get(f"/rating/products/{p.pk}/")
    assert 'id="entry-table"' in page.text and "Incoming" in page.text
    missing = as_admin.post(
        f"/rating/products/{p.pk}/entries/add/",
        {"service": "voice", "access_code": "INCOMING", "tariff": ""},
    )
    assert missing.status_code == 400
    assert "Tariff is required" in errors(missing)
    edit = as_admin.post(
        f"/rating/products/{p.pk}/entries/{e.pk}/",
        {"service": "voice", "access_code": "", "tariff": t.pk},
    )
    assert edit.status_code == 302
    e.refresh_from_db()
    assert e.access_code == ""
    as_admin.post(f"/rating/products/{p.pk}/entries/{e.pk}/delete/", {"confirmed": "1"})
    assert not RatingEntry.objects.filter(pk=e.pk).exists()


def test_account_products_on_the_accounts_view(as_admin: Any, cat: Any, world: Any) -> None:
    cust, acc, p = cat["customer"], cat["account"], cat["product"]
    wip = services.create_product(
        actor=world["admin"], now=T0, data={"name": "WIP", "currency": "USD"}
    )
    page = as_admin.get(f"/customers/{cust.pk}/accounts/")
    assert f'id="account-{acc.pk}-products"' in page.text
    refused = as_admin.post(
        f"/customers/{cust.pk}/accounts/{acc.pk}/products/", {"product": wip.pk, "addons": ""}
    )
    assert refused.status_code == 400
    assert AccountProduct.objects.filter(account=acc).count() == 0
    assert any("no rating entries" in e or "rating entr" in e for e in errors(refused))
    ok = as_admin.post(
        f"/customers/{cust.pk}/accounts/{acc.pk}/products/", {"product": p.pk, "addons": ""}
    )
    assert ok.status_code == 302
    assert list(
        AccountProduct.objects.filter(account=acc).values_list("product_id", "is_main")
    ) == [(p.pk, True)]
    shown = as_admin.get(f"/customers/{cust.pk}/accounts/")
    select = block(shown.content, f"account-{acc.pk}-product-row")
    assert f'<option value="{p.pk}" selected>Home</option>' in select


# --------------------------------------------------------------------------- Override Tariffs


def test_override_tariffs_tab(as_admin: Any, cat: Any, world: Any) -> None:
    cust, t = cat["customer"], cat["tariff"]
    eur = services.create_tariff(
        actor=world["admin"], now=T0, data={"name": "EUR list", "currency": "EUR"}
    )
    deal = services.create_tariff(
        actor=world["admin"], now=T0, data={"name": "Pia deal", "currency": "USD"}
    )
    page = as_admin.get(f"/customers/{cust.pk}/")
    assert 'id="tab-overrides"' in page.text and "Override Tariffs arrives" not in page.text
    assert rows(page.content, "override-table") == ["No override tariffs."]
    both = as_admin.post(
        f"/customers/{cust.pk}/override-tariffs/", {"master_tariff": "", "override_tariff": ""}
    )
    assert both.status_code == 400
    assert errors(both) == ["Master tariff is required", "Override tariff is required"]
    wrong = as_admin.post(
        f"/customers/{cust.pk}/override-tariffs/",
        {"master_tariff": t.pk, "override_tariff": eur.pk},
    )
    assert wrong.status_code == 400
    assert errors(wrong) == ["Tariff 'EUR list' is in EUR, the customer in USD"]
    assert not OverrideTariff.objects.exists()
    ok = as_admin.post(
        f"/customers/{cust.pk}/override-tariffs/",
        {"master_tariff": t.pk, "override_tariff": deal.pk},
    )
    assert ok["Location"] == f"/customers/{cust.pk}/#tab-overrides"
    pair = OverrideTariff.objects.get(customer=cust)
    assert (pair.master_tariff_id, pair.override_tariff_id) == (t.pk, deal.pk)
    shown = as_admin.get(f"/customers/{cust.pk}/")
    assert len(rows(shown.content, "override-table")) == 1
    edit = as_admin.post(
        f"/customers/{cust.pk}/override-tariffs/{pair.pk}/",
        {"master_tariff": t.pk, "override_tariff": t.pk},
    )
    assert edit.status_code == 400
    assert errors(edit) == ["Override tariff must differ from the master tariff"]
    ask = as_admin.post(f"/customers/{cust.pk}/override-tariffs/{pair.pk}/delete/")
    assert "Stop overriding the tariff “Retail” for Pia?" in ask.text
    as_admin.post(f"/customers/{cust.pk}/override-tariffs/{pair.pk}/delete/", {"confirmed": "1"})
    assert not OverrideTariff.objects.exists()


# --------------------------------------------------------------------------- resellers


def test_reseller_sees_installation_read_only_and_others_are_404(
    client: Any, cat: Any, world: Any
) -> None:
    client.force_login(world["ub"])
    ta, pa = cat["ta"], cat["pa"]
    t = cat["tariff"]
    for url in (
        f"/rating/tariffs/{ta.pk}/",
        f"/rating/tariffs/{t.pk}/",
        f"/rating/tariffs/{ta.pk}/rates/add/",
        f"/rating/tariffs/{ta.pk}/rates.csv",
        f"/rating/products/{pa.pk}/",
        f"/customers/{cat['customer'].pk}/",
    ):
        assert client.get(url).status_code == 404, url
    for url in (
        f"/rating/tariffs/{ta.pk}/delete/",
        f"/rating/products/{pa.pk}/entries/add/",
        f"/customers/{cat['customer'].pk}/override-tariffs/",
        f"/customers/{cat['customer'].pk}/accounts/{cat['account'].pk}/products/",
    ):
        assert client.post(url, {"confirmed": "1"}).status_code == 404, url
    assert Tariff.objects.filter(pk=ta.pk).exists()
    listing = client.get("/rating/tariffs/")
    assert rows(listing.content, "rating-tariffs-table") == ["No tariffs yet."]
    voice = Service.objects.get(code="voice")
    assert client.get("/rating/services/add/").status_code == 404
    svc = client.get(f"/rating/services/{voice.pk}/")
    assert svc.status_code == 200 and 'type="submit" class="btn btn-primary">Save' not in svc.text
    period = services.create_offpeak_period(
        actor=world["admin"], now=T0, data={"name": "Nights", "expression": "hr{6pm-7am}"}
    )
    view = client.get(f"/rating/offpeak-periods/{period.pk}/")
    assert "Only an administrator changes the installation's off-peak periods." in view.text
    post = client.post(
        f"/rating/offpeak-periods/{period.pk}/",
        {"name": "Mine", "expression": "hr{1am-2am}"},
    )
    assert post.status_code == 403
    assert OffpeakPeriod.objects.get(pk=period.pk).name == "Nights"
    # reseller A's own tariff: hers to see and change
    client.force_login(world["ua"])
    mine = client.get(f"/rating/tariffs/{ta.pk}/")
    assert mine.status_code == 200
    assert AuditEntry.objects.exists()
