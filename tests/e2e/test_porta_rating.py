"""The ``Tariff``, ``Rate`` and ``Product`` services of ``/rest/`` (issue 12): round trips
under PortaBilling's field names, faults naming the field, nothing half-saved, another
reseller's objects a not-found fault; both request styles (JSON + Bearer, form fields) and
the path style, on SQLite and PostgreSQL."""

import datetime as dt
import json
from decimal import Decimal

import pytest

from billcore.audit.models import AuditEntry
from billcore.rating.models import Rate, Service, Tariff
from billcore.rating.services import create_entry, create_product
from tests.e2e.porta_support import T0, decode, fault

D = Decimal
pytestmark = pytest.mark.django_db


def add_tariff(porta, **info):
    info.setdefault("iso_4217", "USD")
    return porta.ok("Tariff", "add_tariff", {"tariff_info": info})["i_tariff"]


def add_rate(porta, i_tariff, **info):
    return porta.ok("Rate", "add_rate", {"rate_info": {"i_tariff": i_tariff, **info}})["i_rate"]


def voice_id():
    return Service.objects.get(code="voice").pk


# --- Tariff -------------------------------------------------------------------------------


def test_add_tariff_and_read_it_back(porta, world):
    tid = add_tariff(
        porta,
        name="Retail USD",
        connection_fee="0.1",
        free_seconds=5,
        grace_period=3,
        post_call_surcharge=D("2.5"),
        description="Public prices",
    )
    expected = {
        "i_tariff": tid,
        "name": "Retail USD",
        "iso_4217": "USD",
        "i_service": voice_id(),
        "service_code": "voice",
        "i_parent": None,
        "connection_fee": D("0.10000"),
        "free_seconds": 5,
        "grace_period": 3,
        "post_call_surcharge": D("2.50000"),
        "i_offpeak_period": None,
        "i_second_offpeak_period": None,
        "description": "Public prices",
        "creation_date": "2026-11-01 12:00:00",
    }
    assert porta.ok("Tariff", "get_tariff_info", {"i_tariff": tid}) == {"tariff_info": expected}
    by_name = porta.ok("Tariff", "get_tariff_info", {"name": "Retail USD"})
    assert by_name == {"tariff_info": expected}
    # Money in replies: exactly 5 decimals in the JSON text.
    r = porta.call("Tariff", "get_tariff_info", {"i_tariff": tid})
    assert '"connection_fee": 0.10000' in r.content.decode()


def test_add_tariff_warns_about_fields_billcore_does_not_model(porta, world):
    reply = porta.ok(
        "Tariff",
        "add_tariff",
        {"tariff_info": {"name": "T", "iso_4217": "USD", "i_dest_group_set": 3, "applied_to": 1}},
    )
    assert reply == {
        "i_tariff": reply["i_tariff"],
        "warnings": ["ignored fields billcore does not model: applied_to, i_dest_group_set"],
    }


def test_update_tariff_is_partial(porta, world):
    data = Service.objects.get(code="data").pk
    tid = add_tariff(porta, name="Old", connection_fee=1)
    assert porta.ok(
        "Tariff",
        "update_tariff",
        {"tariff_info": {"i_tariff": tid, "name": "New", "i_service": data}},
    ) == {"i_tariff": tid}
    t = Tariff.objects.get(pk=tid)
    assert (t.name, t.service.code, t.connection_fee) == ("New", "data", D("1.00000"))


def test_tariff_faults_name_the_field_and_save_nothing(porta, world):
    tid = add_tariff(porta, name="Taken")
    before = (Tariff.objects.count(), AuditEntry.objects.count())
    m = "Client.Tariff.add_tariff."
    for info, reason, string in (
        ({"iso_4217": "USD"}, "required_name", "name is required"),
        (
            {"name": "taken", "iso_4217": "USD"},
            "duplicate_name",
            "name: a tariff named 'taken' already exists (names are unique regardless of "
            "letter case)",
        ),
        (
            {"name": "X", "iso_4217": "USD", "connection_fee": "-1"},
            "invalid_connection_fee",
            "connection_fee must be at least 0",
        ),
        (
            {"name": "X", "iso_4217": "USD", "i_service": 9999},
            "not_found_i_service",
            "i_service: service 9999 does not exist",
        ),
        (
            {"name": "X", "iso_4217": "USD", "free_seconds": 86401},
            "invalid_free_seconds",
            "free_seconds must be at most 86400",
        ),
    ):
        fault(porta.call("Tariff", "add_tariff", {"tariff_info": info}), m + reason, string)
    fault(
        porta.call("Tariff", "add_tariff", {}),
        m + "required_tariff_info",
        "tariff_info is required (an object)",
    )
    fault(
        porta.call("Tariff", "get_tariff_info", {"i_tariff": 99999}),
        "Client.Tariff.get_tariff_info.not_found_i_tariff",
        "i_tariff: tariff 99999 not found",
    )
    fault(
        porta.call("Tariff", "update_tariff", {"tariff_info": {"name": "Y"}}),
        "Client.Tariff.update_tariff.required_i_tariff",
        "i_tariff is required",
    )
    fault(
        porta.call("Tariff", "add_tariff", {"tariff_info": {"name": "X", "iso_4217": "XXX"}}),
        m + "unknown_currency",
    )
    fault(
        porta.call(
            "Tariff", "add_tariff", {"tariff_info": {"name": "X", "iso_4217": "USD", "i_parent": 9}}
        ),
        m + "not_found_i_parent",
        "i_parent: reseller 9 does not exist",
    )
    assert (Tariff.objects.count(), AuditEntry.objects.count()) == before
    assert Tariff.objects.get(pk=tid).name == "Taken"
    add_rate(porta, tid, destination="1", price_1="1")
    fault(
        porta.call(
            "Tariff", "update_tariff", {"tariff_info": {"i_tariff": tid, "iso_4217": "EUR"}}
        ),
        "Client.Tariff.update_tariff.in_use_iso_4217",
        "iso_4217 cannot change while the tariff has rates (prices are in its currency)",
    )
    assert Tariff.objects.get(pk=tid).currency_id == "USD"


def test_tariff_list_filters_and_pages(porta, world):
    ra = world["ra"].pk
    a = add_tariff(porta, name="Alpha")
    b = add_tariff(porta, name="Beta", i_parent=ra)
    c = add_tariff(porta, name="Gamma", iso_4217="EUR")

    def ids(**params):
        return [t["i_tariff"] for t in porta.ok("Tariff", "get_tariff_list", params)["tariff_list"]]

    assert ids() == [a, b, c]
    assert ids(iso_4217="EUR") == [c]
    assert ids(i_parent=ra) == [b]
    assert ids(i_parent=0) == [a, c]
    assert ids(name="%a") == [a, b, c]
    assert ids(name="B%") == [b]
    assert ids(offset=1, limit=1) == [b]
    reply = porta.ok("Tariff", "get_tariff_list", {"limit": 1, "get_total": 1})
    assert (len(reply["tariff_list"]), reply["total"]) == (1, 3)


def test_reseller_sees_and_changes_only_its_own_tariffs(porta, porta_a, world):
    admins = add_tariff(porta, name="Admin's")
    b_own = add_tariff(porta, name="B's", i_parent=world["rb"].pk)
    mine = add_tariff(porta_a, name="A's")
    assert Tariff.objects.get(pk=mine).managed_by_id == world["ra"].pk
    listed = porta_a.ok("Tariff", "get_tariff_list")["tariff_list"]
    assert [t["i_tariff"] for t in listed] == [mine]
    for other in (admins, b_own):
        fault(
            porta_a.call("Tariff", "get_tariff_info", {"i_tariff": other}),
            "Client.Tariff.get_tariff_info.not_found_i_tariff",
            f"i_tariff: tariff {other} not found",
        )
        fault(
            porta_a.call("Tariff", "update_tariff", {"tariff_info": {"i_tariff": other}}),
            "Client.Tariff.update_tariff.not_found_i_tariff",
            f"i_tariff: tariff {other} not found",
        )
    fault(
        porta_a.call(
            "Tariff",
            "add_tariff",
            {"tariff_info": {"name": "Z", "iso_4217": "USD", "i_parent": world["rb"].pk}},
        ),
        "Client.Tariff.add_tariff.not_found_i_parent",
        "i_parent: a reseller's user manages only its own reseller's objects",
    )


# --- Rate ---------------------------------------------------------------------------------


def test_add_rate_and_read_it_back(porta, world):
    tid = add_tariff(porta, name="Retail")
    rid = add_rate(
        porta,
        tid,
        destination="420601",
        interval_1=60,
        interval_n=6,
        price_1="0.02",
        price_n=D("0.015"),
        off_peak_price_1="0.01",
        off_peak_price_n="0.005",
        effective_from="2026-12-01 00:00:00",
        hidden="Y",
    )
    assert porta.ok("Rate", "get_rate_info", {"i_rate": rid}) == {
        "rate_info": {
            "i_rate": rid,
            "i_tariff": tid,
            "destination": "420601",
            "interval_1": 60,
            "interval_n": 6,
            "price_1": D("0.02000"),
            "price_n": D("0.01500"),
            "off_peak_interval_1": 60,
            "off_peak_interval_n": 6,
            "off_peak_price_1": D("0.01000"),
            "off_peak_price_n": D("0.00500"),
            "second_off_peak_interval_1": None,
            "second_off_peak_interval_n": None,
            "second_off_peak_price_1": None,
            "second_off_peak_price_n": None,
            "effective_from": "2026-12-01 00:00:00",
            "forbidden": "N",
            "discontinued": "N",
            "hidden": "Y",
        }
    }
    row = Rate.objects.get(pk=rid)
    assert (row.prefix, row.interval_first, row.price_next, row.effective_from) == (
        "420601",
        60,
        D("0.01500"),
        dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
    )


def test_add_rate_defaults(porta, world):
    tid = add_tariff(porta, name="Retail")
    rid = add_rate(porta, tid, destination="|", price_1="0.5")
    info = porta.ok("Rate", "get_rate_info", {"i_rate": rid})["rate_info"]
    assert (
        info["interval_1"],
        info["interval_n"],
        info["price_n"],
        info["effective_from"],
    ) == (1, 1, D("0.50000"), "2026-11-01 12:00:00")


def test_update_rate_is_partial_and_stays_in_its_tariff(porta, world):
    tid = add_tariff(porta, name="Retail")
    other = add_tariff(porta, name="Other")
    rid = add_rate(porta, tid, destination="44", price_1="0.1", effective_from="2026-11-01")
    assert porta.ok(
        "Rate", "update_rate", {"rate_info": {"i_rate": rid, "price_n": "0.05", "forbidden": "Y"}}
    ) == {"i_rate": rid}
    r = Rate.objects.get(pk=rid)
    assert (r.price_first, r.price_next, r.forbidden, r.prefix) == (
        D("0.10000"),
        D("0.05000"),
        True,
        "44",
    )
    fault(
        porta.call("Rate", "update_rate", {"rate_info": {"i_rate": rid, "i_tariff": other}}),
        "Client.Rate.update_rate.immutable_i_tariff",
        f"i_tariff: rate {rid} belongs to tariff {tid}; a rate cannot move to another tariff",
    )


def test_rate_faults_name_the_field_and_save_nothing(porta, world):
    tid = add_tariff(porta, name="Retail")
    rid = add_rate(porta, tid, destination="44", price_1="0.1", effective_from="2026-11-01")
    before = (Rate.objects.count(), AuditEntry.objects.count())
    m = "Client.Rate.add_rate."
    for info, reason, string in (
        ({"price_1": "1"}, "required_i_tariff", "i_tariff is required"),
        (
            {"i_tariff": 99999, "destination": "1", "price_1": "1"},
            "not_found_i_tariff",
            "i_tariff: tariff 99999 not found",
        ),
        ({"i_tariff": tid, "price_1": "1"}, "invalid_destination", None),
        (
            {"i_tariff": tid, "destination": "+44", "price_1": "1"},
            "invalid_destination",
            "destination must be 1 to 32 digits, or | (any number); got '+44'",
        ),
        (
            {"i_tariff": tid, "destination": "1", "price_1": "1", "interval_1": 0},
            "invalid_interval_1",
            "interval_1 must be at least 1",
        ),
        (
            {"i_tariff": tid, "destination": "1", "price_1": "-0.1"},
            "invalid_price_1",
            "price_1 must be at least 0",
        ),
        (
            {"i_tariff": tid, "destination": "1", "price_1": "0.000001"},
            "invalid_price_1",
            None,
        ),
        (
            {"i_tariff": tid, "destination": "1", "price_1": "1", "off_peak_price_1": "0.5"},
            "required_off_peak_price_n",
            "off_peak_price_n is required when the offpeak price set is given",
        ),
        (
            {"i_tariff": tid, "destination": "1", "price_1": "1", "effective_from": "tomorrow"},
            "invalid_effective_from",
            "effective_from must be a UTC date-time 'YYYY-MM-DD HH:MM:SS' (got 'tomorrow')",
        ),
        (
            {"i_tariff": tid, "destination": "1", "price_1": "1", "forbidden": "maybe"},
            "invalid_forbidden",
            "forbidden must be 'Y' or 'N' (got 'maybe')",
        ),
        (
            {"i_tariff": tid, "destination": "44", "price_1": "1", "effective_from": "2026-11-01"},
            "duplicate_effective_from",
            "effective_from: the tariff already has a rate for prefix 44 from "
            "2026-11-01 00:00:00 UTC",
        ),
    ):
        fault(porta.call("Rate", "add_rate", {"rate_info": info}), m + reason, string)
    fault(
        porta.call("Rate", "get_rate_info", {"i_rate": 99999}),
        "Client.Rate.get_rate_info.not_found_i_rate",
        "i_rate: rate 99999 not found",
    )
    fault(
        porta.call("Rate", "update_rate", {"rate_info": {"i_rate": rid, "interval_n": "x"}}),
        "Client.Rate.update_rate.invalid_interval_n",
        "interval_n must be a whole number",
    )
    fault(
        porta.call("Rate", "get_rate_list", {}),
        "Client.Rate.get_rate_list.required_i_tariff",
        "i_tariff is required",
    )
    assert (Rate.objects.count(), AuditEntry.objects.count()) == before
    assert Rate.objects.get(pk=rid).interval_next == 1


def test_rate_list_by_destination_prefix_number_and_instant(porta, world):
    tid = add_tariff(porta, name="Retail")
    r44 = add_rate(porta, tid, destination="44", price_1="0.1", effective_from="2026-11-01")
    r44b = add_rate(porta, tid, destination="44", price_1="0.2", effective_from="2027-01-01")
    r447 = add_rate(porta, tid, destination="447", price_1="0.3", effective_from="2026-11-01")
    r420 = add_rate(porta, tid, destination="420", price_1="0.4", effective_from="2026-11-01")
    any_ = add_rate(porta, tid, destination="|", price_1="0.9", effective_from="2026-11-01")

    def ids(**params):
        reply = porta.ok("Rate", "get_rate_list", {"i_tariff": tid, **params})
        return [r["i_rate"] for r in reply["rate_list"]]

    assert ids() == [r420, r44, r44b, r447, any_]
    assert ids(destination="44") == [r44, r44b]
    assert ids(destination="44%") == [r44, r44b, r447]
    assert ids(prefix="44") == [r44, r44b, r447]
    assert ids(number="+44 7700 900123") == [r447, r44b, r44, any_]
    assert ids(prefix="44", effective_at="2026-12-15 00:00:00") == [r44, r447]
    assert ids(prefix="44", effective_at="2027-01-01") == [r44b, r447]
    assert ids(offset=1, limit=2) == [r44, r44b]
    reply = porta.ok("Rate", "get_rate_list", {"i_tariff": tid, "limit": 1, "get_total": "Y"})
    assert reply["total"] == 5
    assert reply["rate_list"][0]["price_1"] == D("0.40000")


def test_reseller_cannot_see_or_touch_other_rates(porta, porta_a, world):
    admins = add_tariff(porta, name="Admin's")
    rid = add_rate(porta, admins, destination="1", price_1="1")
    mine = add_tariff(porta_a, name="A's")
    own_rate = add_rate(porta_a, mine, destination="1", price_1="2")
    assert porta_a.ok("Rate", "get_rate_list", {"i_tariff": mine})["rate_list"][0]["i_rate"] == (
        own_rate
    )
    fault(
        porta_a.call("Rate", "get_rate_list", {"i_tariff": admins}),
        "Client.Rate.get_rate_list.not_found_i_tariff",
        f"i_tariff: tariff {admins} not found",
    )
    fault(
        porta_a.call("Rate", "get_rate_info", {"i_rate": rid}),
        "Client.Rate.get_rate_info.not_found_i_rate",
        f"i_rate: rate {rid} not found",
    )
    fault(
        porta_a.call("Rate", "update_rate", {"rate_info": {"i_rate": rid, "price_1": "0"}}),
        "Client.Rate.update_rate.not_found_i_rate",
        f"i_rate: rate {rid} not found",
    )
    fault(
        porta_a.call("Rate", "add_rate", {"rate_info": {"i_tariff": admins, "destination": "2"}}),
        "Client.Rate.add_rate.not_found_i_tariff",
        f"i_tariff: tariff {admins} not found",
    )
    assert Rate.objects.get(pk=rid).price_first == D("1.00000")
    assert Rate.objects.filter(tariff_id=admins).count() == 1


# --- Product ------------------------------------------------------------------------------


def _product(world, *, name, owner=None, tariff=None, kind="main"):
    product = create_product(
        actor=world["admin"],
        now=T0,
        data={"name": name, "currency": "USD", "managed_by": owner, "kind": kind},
    )
    if tariff is not None:
        create_entry(
            actor=world["admin"],
            now=T0,
            product_id=product.pk,
            data={"service": "voice", "access_code": "", "tariff": tariff},
        )
    return product


def test_product_info_with_its_accessibility_list(porta, world):
    tid = add_tariff(porta, name="Retail")
    incoming = add_tariff(porta, name="Incoming")
    product = _product(world, name="Basic", tariff=tid)
    entry = product.entries.get()
    second = create_entry(
        actor=world["admin"],
        now=T0,
        product_id=product.pk,
        data={"service": "voice", "access_code": "INCOMING", "tariff": incoming},
    )
    expected = {
        "i_product": product.pk,
        "name": "Basic",
        "iso_4217": "USD",
        "i_parent": None,
        "kind": "main",
        "addon_priority": 0,
        "description": "",
        "creation_date": "2026-11-01 12:00:00",
        "accessibility_list": [
            {
                "i_accessibility": entry.pk,
                "i_product": product.pk,
                "i_service": voice_id(),
                "service_code": "voice",
                "access_code": "",
                "i_tariff": tid,
                "tariff_name": "Retail",
                "i_reseller_tariff": None,
            },
            {
                "i_accessibility": second.pk,
                "i_product": product.pk,
                "i_service": voice_id(),
                "service_code": "voice",
                "access_code": "INCOMING",
                "i_tariff": incoming,
                "tariff_name": "Incoming",
                "i_reseller_tariff": None,
            },
        ],
    }
    assert porta.ok("Product", "get_product_info", {"i_product": product.pk}) == {
        "product_info": expected
    }
    assert porta.ok("Product", "get_product_info", {"name": "Basic"}) == {"product_info": expected}
    fault(
        porta.call("Product", "get_product_info", {"i_product": 99999}),
        "Client.Product.get_product_info.not_found_i_product",
        "i_product: product 99999 not found",
    )
    fault(
        porta.call("Product", "get_product_info", {"name": "Nope"}),
        "Client.Product.get_product_info.not_found_name",
        "name: no product named 'Nope'",
    )
    fault(
        porta.call("Product", "get_product_info", {}),
        "Client.Product.get_product_info.required_i_product",
        "i_product is required",
    )


def test_product_list_filters_and_reseller_isolation(porta, porta_a, world):
    ra, rb = world["ra"].pk, world["rb"].pk
    basic = _product(world, name="Basic")
    extra = _product(world, name="Extra", kind="addon")
    a_own = _product(world, name="A Basic", owner=ra)
    b_own = _product(world, name="B Basic", owner=rb)

    def ids(p, **params):
        reply = p.ok("Product", "get_product_list", params)
        return [x["i_product"] for x in reply["product_list"]]

    assert ids(porta) == [a_own.pk, b_own.pk, basic.pk, extra.pk]
    assert ids(porta, kind="addon") == [extra.pk]
    assert ids(porta, i_parent=0) == [basic.pk, extra.pk]
    assert ids(porta, i_parent=rb) == [b_own.pk]
    assert ids(porta, name="%basic") == [a_own.pk, b_own.pk, basic.pk]
    reply = porta.ok("Product", "get_product_list", {"limit": 2, "get_total": 1})
    assert (len(reply["product_list"]), reply["total"]) == (2, 4)
    assert "accessibility_list" not in reply["product_list"][0]
    assert ids(porta_a) == [a_own.pk]
    fault(
        porta_a.call("Product", "get_product_info", {"i_product": b_own.pk}),
        "Client.Product.get_product_info.not_found_i_product",
        f"i_product: product {b_own.pk} not found",
    )
    fault(
        porta.call("Product", "get_product_list", {"kind": "other"}),
        "Client.Product.get_product_list.invalid_kind",
        "kind must be main or addon (got 'other')",
    )


# --- the service registry -------------------------------------------------------------------


def test_methods_billcore_does_not_offer_are_unknown(porta, world):
    fault(
        porta.call("Tariff", "delete_tariff", {"i_tariff": 1}),
        "Server.Tariff.unknown_method",
        "Tariff has no method 'delete_tariff'",
    )
    fault(
        porta.call("Product", "add_product", {}),
        "Server.Product.unknown_method",
        "Product has no method 'add_product'",
    )


def test_path_style_call(client, porta, world):
    tid = add_tariff(porta, name="Retail")
    add_rate(porta, tid, destination="44", price_1="0.1", effective_from="2026-11-01")
    auth = json.dumps({"session_id": porta.session_id}, separators=(",", ":"))
    params = json.dumps({"i_tariff": tid, "destination": "44"}, separators=(",", ":"))
    r = client.post(f"/rest/Rate/get_rate_list/{auth}/{params}")
    assert r.status_code == 200, r.content
    assert [x["price_1"] for x in decode(r)["rate_list"]] == [D("0.10000")]
    r = client.post("/rest/Tariff/get_tariff_info/{}/{}")
    fault(r, "Server.Session.check_auth.auth_failed")
