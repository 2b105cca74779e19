"""The rating catalogue's services (issue 12 §1): the standard services, destinations,
tariffs, products and their rating entries, account products, override tariffs; every bad
input of §3 that belongs to the catalogue names its field and saves nothing; a reseller's
user sees and changes only its own tariffs and products (404 for another's)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from billcore.audit.models import AuditEntry
from billcore.errors import NotAllowed, NotFound, ValidationFailed
from billcore.ledger.customers import create_customer
from billcore.rating import selectors, services
from billcore.rating.models import (
    AccountProduct,
    OffpeakPeriod,
    OverrideTariff,
    Product,
    Rate,
    RatingEntry,
    Service,
    Tariff,
)
from billcore.subscribers.services import create_account

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
pytestmark = pytest.mark.django_db


def _customer(actor: Any, cls: Any, name: str, currency: str = "USD") -> Any:
    return create_customer(
        actor=actor,
        now=T0,
        data={
            "name": name,
            "currency": currency,
            "balance_control": "postpaid",
            "customer_class": cls.pk,
        },
    )


@pytest.fixture
def cat(world: dict[str, Any]) -> dict[str, Any]:
    """An administrator's USD tariff with rates, a product using it, a customer with an
    account; the same for reseller A."""
    admin, ua = world["admin"], world["ua"]
    usd = services.create_tariff(
        actor=admin, now=T0, data={"name": "Retail USD", "currency": "USD", "service": "voice"}
    )
    eur = services.create_tariff(
        actor=admin, now=T0, data={"name": "Retail EUR", "currency": "EUR"}
    )
    services.create_rate(
        actor=admin,
        now=T0,
        tariff_id=usd.pk,
        data={"prefix": "12", "price_first": "0.02", "effective_from": T0},
    )
    product = services.create_product(actor=admin, now=T0, data={"name": "Home", "currency": "USD"})
    services.create_entry(
        actor=admin, now=T0, product_id=product.pk, data={"service": "voice", "tariff": usd.pk}
    )
    pia = _customer(admin, world["classes"]["usd"], "Pia")
    account = create_account(actor=admin, now=T0, customer_id=pia.pk, data={"identifier": "+100"})
    a_tariff = services.create_tariff(
        actor=ua, now=T0, data={"name": "A tariff", "currency": "USD"}
    )
    a_product = services.create_product(
        actor=ua, now=T0, data={"name": "A product", "currency": "USD"}
    )
    return {
        "usd": usd,
        "eur": eur,
        "product": product,
        "pia": pia,
        "account": account,
        "a_tariff": a_tariff,
        "a_product": a_product,
    }


def _fails(field: str, fn: Any, *args: Any, code: str | None = None, **kwargs: Any) -> Any:
    with pytest.raises(ValidationFailed) as info:
        fn(*args, **kwargs)
    assert info.value.field == field, info.value.as_dict()
    if code:
        assert info.value.code == code, info.value.as_dict()
    return info.value


# --------------------------------------------------------------------------------------------
# Services


def test_the_four_standard_services_are_seeded_read_only(world: Any) -> None:
    rows = {s.code: (s.rating_base, s.base_unit, s.standard) for s in Service.objects.all()}
    assert rows == {
        "voice": ("time", "second", True),
        "data": ("data", "mb", True),
        "messaging": ("messages", "message", True),
        "other": ("other", "unit", True),
    }
    voice = Service.objects.get(code="voice")
    with pytest.raises(NotAllowed):
        services.update_service(
            actor=world["admin"], now=T0, service_id=voice.pk, changes={"name": "x"}
        )
    with pytest.raises(NotAllowed):
        services.delete_service(actor=world["admin"], now=T0, service_id=voice.pk)


def test_operator_service_units(world: Any) -> None:
    admin = world["admin"]
    wifi = services.create_service(
        actor=admin, now=T0, data={"code": "wifi", "name": "Extended Wi-Fi", "rating_base": "data"}
    )
    assert (wifi.base_unit, wifi.standard) == ("mb", False)
    _fails(
        "base_unit",
        services.create_service,
        actor=admin,
        now=T0,
        data={"code": "sms2", "name": "SMS 2", "rating_base": "messages", "base_unit": "second"},
    )
    _fails(
        "code",
        services.create_service,
        actor=admin,
        now=T0,
        data={"code": "wifi", "name": "Other name", "rating_base": "data"},
        code="duplicate",
    )
    _fails(
        "name",
        services.create_service,
        actor=admin,
        now=T0,
        data={"code": "wifi2", "name": "EXTENDED wi-fi", "rating_base": "data"},
        code="duplicate",
    )
    with pytest.raises(NotAllowed):
        services.create_service(
            actor=world["ua"], now=T0, data={"code": "x", "name": "X", "rating_base": "other"}
        )


# --------------------------------------------------------------------------------------------
# Destinations, groups, off-peak periods


def test_destinations_and_groups(world: Any) -> None:
    admin = world["admin"]
    services.create_destination(actor=admin, now=T0, data={"prefix": "420601", "country": "cz"})
    services.create_destination(actor=admin, now=T0, data={"prefix": "|"})
    _fails("prefix", services.create_destination, actor=admin, now=T0, data={"prefix": "42a"})
    _fails(
        "prefix",
        services.create_destination,
        actor=admin,
        now=T0,
        data={"prefix": "420601"},
        code="duplicate",
    )
    _fails(
        "country",
        services.create_destination,
        actor=admin,
        now=T0,
        data={"prefix": "1", "country": "XX"},
    )
    group = services.create_destination_group(
        actor=admin, now=T0, data={"name": "CZ-Mobile", "prefixes": ["420601"]}
    )
    assert [d.prefix for d in group.destinations.all()] == ["420601"]
    _fails(
        "prefixes",
        services.create_destination_group,
        actor=admin,
        now=T0,
        data={"name": "UK", "prefixes": ["44"]},
        code="not_found",
    )
    assert selectors.list_destinations(actor=world["ua"], country="CZ").count() == 1
    with pytest.raises(NotAllowed):
        services.create_destination(actor=world["ua"], now=T0, data={"prefix": "7"})


def test_offpeak_period_expression_is_stored_and_length_checked(world: Any) -> None:
    admin = world["admin"]
    period = services.create_offpeak_period(
        actor=admin, now=T0, data={"name": "Nights", "expression": "hr{6pm-5am}"}
    )
    assert period.expression == "hr{6pm-5am}"
    _fails(
        "expression",
        services.create_offpeak_period,
        actor=admin,
        now=T0,
        data={"name": "Long", "expression": "x" * 2001},
        code="too_long",
    )
    _fails(
        "expression",
        services.create_offpeak_period,
        actor=admin,
        now=T0,
        data={"name": "Empty", "expression": " "},
        code="required",
    )
    # §1.3: a malformed expression is refused when saved, naming where (core.offpeak).
    with pytest.raises(ValidationFailed) as bad:
        services.create_offpeak_period(
            actor=admin, now=T0, data={"name": "Bad", "expression": "hr{6pm-5am"}
        )
    assert (bad.value.field, bad.value.code) == ("expression", "invalid")
    assert bad.value.message.startswith("expression: position ")
    assert not OffpeakPeriod.objects.filter(name="Bad").exists()
    tariff = services.create_tariff(
        actor=admin, now=T0, data={"name": "T", "currency": "USD", "offpeak_period": period.pk}
    )
    assert tariff.offpeak_period_id == period.pk
    with pytest.raises(ValidationFailed) as info:
        services.delete_offpeak_period(actor=admin, now=T0, period_id=period.pk)
    assert info.value.code == "in_use"


# --------------------------------------------------------------------------------------------
# Tariffs and rates


def test_tariff_fields_and_bad_input(world: Any) -> None:
    admin = world["admin"]
    tariff = services.create_tariff(
        actor=admin,
        now=T0,
        data={
            "name": "Intl",
            "currency": "USD",
            "connection_fee": "0.02",
            "free_seconds": 5,
            "grace_period": 3,
            "post_call_surcharge": "10",
        },
    )
    assert (tariff.connection_fee, tariff.free_seconds, tariff.grace_period) == (
        Decimal("0.02"),
        5,
        3,
    )
    assert tariff.service.code == "voice"
    bad = [
        ({"connection_fee": "-1"}, "connection_fee"),
        ({"free_seconds": -1}, "free_seconds"),
        ({"post_call_surcharge": "1000.5"}, "post_call_surcharge"),
        ({"currency": "XXX"}, "currency"),
        ({"service": "nope"}, "service"),
        ({"offpeak_period": 99999}, "offpeak_period"),
        ({"name": "INTL"}, "name"),
    ]
    for data, field in bad:
        base = {"name": "Other", "currency": "USD", **data}
        _fails(field, services.create_tariff, actor=admin, now=T0, data=base)
    assert Tariff.objects.count() == 1


def test_rate_bad_input_names_the_field_and_saves_nothing(cat: Any, world: Any) -> None:
    admin, usd = world["admin"], cat["usd"]
    before = Rate.objects.count()
    base = {"prefix": "44", "price_first": "0.1", "effective_from": T0}
    bad = [
        ({"interval_first": 0}, "interval_first"),
        ({"interval_next": 0}, "interval_next"),
        ({"price_first": "-0.01"}, "price_first"),
        ({"price_next": "-1"}, "price_next"),
        ({"price_first": "0.000001"}, "price_first"),
        ({"prefix": "44x"}, "prefix"),
        ({"offpeak_price_first": "0.1"}, "offpeak_price_next"),
        ({"prefix": "12"}, "effective_from"),  # the duplicate (prefix, effective_from)
        ({"colour": "red"}, "colour"),
    ]
    for data, field in bad:
        _fails(
            field,
            services.create_rate,
            actor=admin,
            now=T0,
            tariff_id=usd.pk,
            data={**base, **data},
        )
    assert Rate.objects.count() == before
    rate = services.create_rate(
        actor=admin,
        now=T0,
        tariff_id=usd.pk,
        data={
            **base,
            "interval_first": 60,
            "interval_next": 6,
            "offpeak_price_first": "0.05",
            "offpeak_price_next": "0.04",
        },
    )
    assert (rate.price_next, rate.offpeak_interval_first, rate.offpeak_interval_next) == (
        Decimal("0.1"),
        60,
        6,
    )
    updated = services.update_rate(
        actor=admin, now=T0, rate_id=rate.pk, changes={"forbidden": True, "price_next": "0.05"}
    )
    assert (updated.forbidden, updated.price_next) == (True, Decimal("0.05"))
    _fails(
        "interval_next",
        services.update_rate,
        actor=admin,
        now=T0,
        rate_id=rate.pk,
        changes={"interval_next": 0},
    )
    rate.refresh_from_db()
    assert rate.interval_next == 6


def test_rates_search_by_number_and_in_force(cat: Any, world: Any) -> None:
    admin, usd = world["admin"], cat["usd"]
    later = T0 + dt.timedelta(days=10)
    for prefix, price, at in (("1204", "0.01", T0), ("|", "0.5", T0), ("12", "0.03", later)):
        services.create_rate(
            actor=admin,
            now=T0,
            tariff_id=usd.pk,
            data={"prefix": prefix, "price_first": price, "effective_from": at},
        )
    found = selectors.list_rates(actor=admin, tariff_id=usd.pk, number="120456777844")
    assert [(r.prefix, str(r.price_first)) for r in found] == [
        ("1204", "0.01000"),
        ("12", "0.03000"),
        ("12", "0.02000"),
        ("|", "0.50000"),
    ]
    now_rates = selectors.list_rates(actor=admin, tariff_id=usd.pk, at=T0 + dt.timedelta(days=1))
    assert [(r.prefix, str(r.price_first)) for r in now_rates] == [
        ("12", "0.02000"),
        ("1204", "0.01000"),
        ("|", "0.50000"),
    ]


# --------------------------------------------------------------------------------------------
# Products, entries, account products


def test_rating_entry_tariff_in_another_currency_is_refused(cat: Any, world: Any) -> None:
    admin = world["admin"]
    _fails(
        "tariff",
        services.create_entry,
        actor=admin,
        now=T0,
        product_id=cat["product"].pk,
        data={"service": "voice", "access_code": "INCOMING", "tariff": cat["eur"].pk},
        code="currency_mismatch",
    )
    _fails(
        "access_code",
        services.create_entry,
        actor=admin,
        now=T0,
        product_id=cat["product"].pk,
        data={"service": "voice", "access_code": "", "tariff": cat["usd"].pk},
        code="duplicate",
    )
    _fails(
        "tariff",
        services.create_entry,
        actor=admin,
        now=T0,
        product_id=cat["product"].pk,
        data={"service": "voice", "access_code": "INCOMING", "tariff": cat["a_tariff"].pk},
        code="other_owner",
    )
    _fails(
        "access_code",
        services.create_entry,
        actor=admin,
        now=T0,
        product_id=cat["product"].pk,
        data={"service": "voice", "access_code": "SIDEWAYS", "tariff": cat["usd"].pk},
    )
    entry = services.create_entry(
        actor=admin,
        now=T0,
        product_id=cat["product"].pk,
        data={"service": "voice", "access_code": "incoming", "tariff": cat["usd"].pk},
    )
    assert entry.access_code == "INCOMING"
    assert RatingEntry.objects.filter(product=cat["product"]).count() == 2


def test_account_products(cat: Any, world: Any) -> None:
    admin, account = world["admin"], cat["account"]
    empty = services.create_product(actor=admin, now=T0, data={"name": "WIP", "currency": "USD"})
    _fails(
        "product",
        services.set_account_products,
        actor=admin,
        now=T0,
        account_id=account.pk,
        product=empty.pk,
        addons=[],
        code="no_rating_entries",
    )
    eur = services.create_product(actor=admin, now=T0, data={"name": "Euro", "currency": "EUR"})
    services.create_entry(
        actor=admin, now=T0, product_id=eur.pk, data={"service": "voice", "tariff": cat["eur"].pk}
    )
    _fails(
        "product",
        services.set_account_products,
        actor=admin,
        now=T0,
        account_id=account.pk,
        product=eur.pk,
        addons=[],
        code="currency_mismatch",
    )
    addon = services.create_product(
        actor=admin,
        now=T0,
        data={"name": "Cheap US", "currency": "USD", "kind": "addon", "precedence": 5},
    )
    services.create_entry(
        actor=admin, now=T0, product_id=addon.pk, data={"service": "voice", "tariff": cat["usd"].pk}
    )
    _fails(
        "addons",
        services.set_account_products,
        actor=admin,
        now=T0,
        account_id=account.pk,
        product=cat["product"].pk,
        addons=[cat["product"].pk],
        code="not_addon",
    )
    assert not AccountProduct.objects.exists()
    services.set_account_products(
        actor=admin, now=T0, account_id=account.pk, product=cat["product"].pk, addons=[addon.pk]
    )
    _account, rows = selectors.account_products(actor=admin, account_id=account.pk)
    assert [(r.product_id, r.is_main) for r in rows] == [
        (cat["product"].pk, True),
        (addon.pk, False),
    ]
    with pytest.raises(ValidationFailed) as info:
        services.delete_product(actor=admin, now=T0, product_id=addon.pk)
    assert info.value.code == "in_use"
    _fails(
        "kind",
        services.update_product,
        actor=admin,
        now=T0,
        product_id=addon.pk,
        changes={"kind": "main"},
        code="in_use",
    )
    services.set_account_products(
        actor=admin, now=T0, account_id=account.pk, product=None, addons=[]
    )
    assert not AccountProduct.objects.exists()
    assert AuditEntry.objects.filter(object_type="account products").count() == 2


def test_product_currency_fixed_while_it_has_entries(cat: Any, world: Any) -> None:
    _fails(
        "currency",
        services.update_product,
        actor=world["admin"],
        now=T0,
        product_id=cat["product"].pk,
        changes={"currency": "EUR"},
        code="in_use",
    )
    assert Product.objects.get(pk=cat["product"].pk).currency_id == "USD"


# --------------------------------------------------------------------------------------------
# Override tariffs


def test_override_tariffs(cat: Any, world: Any) -> None:
    admin, pia = world["admin"], cat["pia"]
    cheap = services.create_tariff(
        actor=admin, now=T0, data={"name": "Pia deal", "currency": "USD"}
    )
    _fails(
        "override_tariff",
        services.create_override,
        actor=admin,
        now=T0,
        customer_id=pia.pk,
        data={"master_tariff": cat["usd"].pk, "override_tariff": cat["eur"].pk},
        code="currency_mismatch",
    )
    _fails(
        "override_tariff",
        services.create_override,
        actor=admin,
        now=T0,
        customer_id=pia.pk,
        data={"master_tariff": cat["usd"].pk, "override_tariff": cat["usd"].pk},
    )
    _fails(
        "master_tariff",
        services.create_override,
        actor=admin,
        now=T0,
        customer_id=pia.pk,
        data={"master_tariff": cat["a_tariff"].pk, "override_tariff": cheap.pk},
        code="other_owner",
    )
    assert not OverrideTariff.objects.exists()
    pair = services.create_override(
        actor=admin,
        now=T0,
        customer_id=pia.pk,
        data={"master_tariff": cat["usd"].pk, "override_tariff": cheap.pk},
    )
    _fails(
        "master_tariff",
        services.create_override,
        actor=admin,
        now=T0,
        customer_id=pia.pk,
        data={"master_tariff": cat["usd"].pk, "override_tariff": cheap.pk},
        code="duplicate",
    )
    with pytest.raises(ValidationFailed) as info:
        services.delete_tariff(actor=admin, now=T0, tariff_id=cheap.pk)
    assert info.value.code == "in_use"
    services.delete_override(actor=admin, now=T0, customer_id=pia.pk, override_id=pair.pk)
    services.delete_tariff(actor=admin, now=T0, tariff_id=cheap.pk)


# --------------------------------------------------------------------------------------------
# Resellers


def test_reseller_sees_and_changes_only_its_own(cat: Any, world: Any) -> None:
    ua, ub = world["ua"], world["ub"]
    assert [t.name for t in selectors.list_tariffs(actor=ua)] == ["A tariff"]
    assert [t.name for t in selectors.list_tariffs(actor=ub)] == []
    assert [p.name for p in selectors.list_products(actor=ua)] == ["A product"]
    for fn, kwargs in (
        (selectors.get_tariff, {"tariff_id": cat["usd"].pk}),
        (selectors.get_tariff, {"tariff_id": cat["a_tariff"].pk}),
        (selectors.get_product, {"product_id": cat["a_product"].pk}),
        (selectors.list_rates, {"tariff_id": cat["usd"].pk}),
    ):
        with pytest.raises(NotFound):
            fn(actor=ub, **kwargs)
    with pytest.raises(NotFound):
        services.update_tariff(
            actor=ub, now=T0, tariff_id=cat["a_tariff"].pk, changes={"name": "Mine"}
        )
    with pytest.raises(NotFound):
        services.create_rate(
            actor=ub, now=T0, tariff_id=cat["a_tariff"].pk, data={"prefix": "1", "price_first": "1"}
        )
    with pytest.raises(NotFound):
        services.delete_product(actor=ub, now=T0, product_id=cat["a_product"].pk)
    # A reseller's user cannot hand its objects to someone else, nor use another's tariff.
    _fails(
        "managed_by",
        services.create_tariff,
        actor=ua,
        now=T0,
        data={"name": "Sneaky", "currency": "USD", "managed_by": world["rb"].pk},
    )
    _fails(
        "tariff",
        services.create_entry,
        actor=ua,
        now=T0,
        product_id=cat["a_product"].pk,
        data={"service": "voice", "tariff": cat["usd"].pk},
        code="not_found",
    )
    assert Tariff.objects.get(pk=cat["a_tariff"].pk).name == "A tariff"


def test_reseller_tariff_on_a_resellers_product(cat: Any, world: Any) -> None:
    admin, ua = world["admin"], world["ua"]
    entry = services.create_entry(
        actor=ua,
        now=T0,
        product_id=cat["a_product"].pk,
        data={"service": "voice", "tariff": cat["a_tariff"].pk},
    )
    with pytest.raises(NotAllowed):
        services.update_entry(
            actor=ua,
            now=T0,
            product_id=cat["a_product"].pk,
            entry_id=entry.pk,
            changes={"reseller_tariff": cat["usd"].pk},
        )
    _fails(
        "reseller_tariff",
        services.update_entry,
        actor=admin,
        now=T0,
        product_id=cat["a_product"].pk,
        entry_id=entry.pk,
        changes={"reseller_tariff": cat["eur"].pk},
        code="currency_mismatch",
    )
    entry = services.update_entry(
        actor=admin,
        now=T0,
        product_id=cat["a_product"].pk,
        entry_id=entry.pk,
        changes={"reseller_tariff": cat["usd"].pk},
    )
    assert entry.reseller_tariff_id == cat["usd"].pk
