"""Pricing a usage record from the catalogue (issue 12 §2, rating-and-tabs.md §1.4, §1.5, §1.7):
the account's products (add-ons by precedence before the main product), the rating entry by
service and access code, the override tariff, the rate in force, off-peak in the customer's
time zone, units rounded up, the reseller's wholesale price; each refusal with its reason.
Every case runs with the per-call reads and with whole tariffs loaded (the batch mode)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from billcore.errors import ValidationFailed
from billcore.ledger.customers import create_customer
from billcore.rating import services
from billcore.rating.pricing import Priced, Pricer, Refusal
from billcore.subscribers.services import create_account

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
pytestmark = pytest.mark.django_db


def _rate(admin: Any, tariff: Any, prefix: str, price: str, **extra: Any) -> Any:
    data = {"prefix": prefix, "price_first": price, "price_next": price, "effective_from": T0}
    data.update(extra)
    return services.create_rate(actor=admin, now=T0, tariff_id=tariff.pk, data=data)


@pytest.fixture
def cat(world: dict[str, Any]) -> dict[str, Any]:
    admin = world["admin"]
    night = services.create_offpeak_period(
        actor=admin, now=T0, data={"name": "Nights", "expression": "hr{6pm-6am}"}
    )
    retail = services.create_tariff(
        actor=admin,
        now=T0,
        data={
            "name": "Retail",
            "currency": "USD",
            "service": "voice",
            "connection_fee": "0.02",
            "offpeak_period": night.pk,
        },
    )
    # §1.4's documented example: 12 @ 0.02, 420 @ 0.20; override 1204 @ 0.01.
    _rate(admin, retail, "12", "0.02")
    _rate(admin, retail, "420", "0.20", offpeak_price_first="0.10", offpeak_price_next="0.10")
    _rate(admin, retail, "4201", "0.20", forbidden=True)
    _rate(
        admin,
        retail,
        "44",
        "0.10",
        interval_first=60,
        interval_next=6,
    )
    _rate(admin, retail, "44", "0.30", effective_from=T0 + dt.timedelta(days=10))
    deal = services.create_tariff(
        actor=admin, now=T0, data={"name": "Deal", "currency": "USD", "service": "voice"}
    )
    _rate(admin, deal, "1204", "0.01")
    data = services.create_tariff(
        actor=admin, now=T0, data={"name": "Data", "currency": "USD", "service": "data"}
    )
    _rate(admin, data, "|", "0.5")
    roaming = services.create_tariff(
        actor=admin, now=T0, data={"name": "Roaming", "currency": "USD", "service": "voice"}
    )
    _rate(admin, roaming, "44", "1.00")
    home = services.create_product(actor=admin, now=T0, data={"name": "Home", "currency": "USD"})
    for service, tariff, code in (
        ("voice", retail, ""),
        ("data", data, ""),
        ("voice", deal, "INCOMING"),
    ):
        services.create_entry(
            actor=admin,
            now=T0,
            product_id=home.pk,
            data={"service": service, "tariff": tariff.pk, "access_code": code},
        )
    travel = services.create_product(
        actor=admin,
        now=T0,
        data={"name": "Travel", "currency": "USD", "kind": "addon", "precedence": 5},
    )
    services.create_entry(
        actor=admin,
        now=T0,
        product_id=travel.pk,
        data={"service": "voice", "tariff": roaming.pk, "access_code": "FOLLOWME"},
    )
    pia = create_customer(
        actor=admin,
        now=T0,
        data={
            "name": "Pia",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": world["classes"]["usd"].pk,
            "time_zone": "Asia/Tokyo",
        },
    )
    account = create_account(actor=admin, now=T0, customer_id=pia.pk, data={"identifier": "+100"})
    services.set_account_products(
        actor=admin, now=T0, account_id=account.pk, product=home.pk, addons=[travel.pk]
    )
    bare = create_account(actor=admin, now=T0, customer_id=pia.pk, data={"identifier": "+101"})
    return {
        "admin": admin,
        "retail": retail,
        "deal": deal,
        "roaming": roaming,
        "pia": pia,
        "account": account,
        "bare": bare,
        "home": home,
    }


class _Prefetching(Pricer):
    """The batch mode of charging: every account's products, entries and overrides read
    with ``prefetch`` before the first record (after the test has set up the catalogue)."""

    def price(self, **kw: Any) -> Any:
        if not self._accounts:
            from billcore.subscribers.models import Account

            self.prefetch(Account.objects.values_list("pk", flat=True))
        return super().price(**kw)


@pytest.fixture(
    params=["per-call", "whole-tariffs", "prefetched"],
)
def pricer(request: Any) -> Pricer:
    if request.param == "prefetched":
        return _Prefetching(whole_tariffs=True)
    return Pricer(whole_tariffs=request.param == "whole-tariffs")


def _price(pricer: Pricer, cat: Any, cld: str, seconds: Any, **kw: Any) -> Any:
    kw.setdefault("started_at", T0 + dt.timedelta(hours=3))  # 12:00 in Tokyo: peak
    return pricer.price(
        account_id=kw.pop("account", cat["account"]).pk,
        service=kw.pop("service", "voice"),
        cld=cld,
        quantity=Decimal(seconds),
        **kw,
    )


def test_longest_prefix_and_connection_fee(pricer: Pricer, cat: Any) -> None:
    result = _price(pricer, cat, "+1 2033 768900", 61).customer
    assert isinstance(result, Priced)
    assert (result.prefix, result.source, result.price_set) == ("12", "master", "peak")
    assert result.tariff_id == cat["retail"].pk
    # 61 s at 1/1 and 0.02 per minute with a 0.02 fee: (0.02·60 + 0.02·61) / 60 = 0.04033
    assert (result.quantity, result.charged_quantity, result.amount) == (61, 61, Decimal("0.04033"))


def test_off_peak_in_the_customers_time_zone(pricer: Pricer, cat: Any) -> None:
    # 10:00 UTC is 19:00 in Tokyo: the night period holds; 0.10/min instead of 0.20.
    night = _price(pricer, cat, "420998764456", 60, started_at=T0 + dt.timedelta(hours=10))
    day = _price(pricer, cat, "420998764456", 60, started_at=T0 + dt.timedelta(hours=8))
    assert (night.customer.price_set, night.customer.amount) == ("offpeak1", Decimal("0.12000"))
    assert (day.customer.price_set, day.customer.amount) == ("peak", Decimal("0.22000"))


def test_forbidden_and_missing_rates_refuse(pricer: Pricer, cat: Any) -> None:
    assert _price(pricer, cat, "42011", 10).customer == Refusal("forbidden_destination")
    assert _price(pricer, cat, "999", 10).customer == Refusal("no_rate")
    assert _price(pricer, cat, "999", 10).refusal == Refusal("no_rate")
    assert _price(pricer, cat, "999", 10, account=cat["bare"]).customer == Refusal("no_product")


def test_the_rate_version_in_force_at_the_start(pricer: Pricer, cat: Any) -> None:
    before = _price(pricer, cat, "4420", 61, started_at=T0 + dt.timedelta(days=9))
    after = _price(pricer, cat, "4420", 61, started_at=T0 + dt.timedelta(days=10))
    # 60/6 at 0.10: 61 s → 66 s → (1.20 + 6.60 + 0.02·60 … ) = 0.13000 with the fee
    assert (before.customer.charged_quantity, before.customer.amount) == (66, Decimal("0.13000"))
    assert (after.customer.charged_quantity, after.customer.amount) == (61, Decimal("0.32500"))


def test_override_tariff_wins_on_a_longer_or_equal_prefix(pricer: Pricer, cat: Any) -> None:
    services.create_override(
        actor=cat["admin"],
        now=T0,
        customer_id=cat["pia"].pk,
        data={"master_tariff": cat["retail"].pk, "override_tariff": cat["deal"].pk},
    )
    pricer = Pricer(whole_tariffs=pricer.whole_tariffs)
    over = _price(pricer, cat, "120456777844", 60).customer
    master = _price(pricer, cat, "12033768900", 60).customer
    assert (over.source, over.prefix, over.tariff_id) == ("override", "1204", cat["deal"].pk)
    # The override tariff has no connection fee: 60 s at 0.01 = 0.01000.
    assert over.amount == Decimal("0.01000")
    assert (master.source, master.prefix, master.amount) == ("master", "12", Decimal("0.04000"))


def test_access_codes_and_add_on_precedence(pricer: Pricer, cat: Any) -> None:
    incoming = _price(pricer, cat, "12045", 60, access_code="INCOMING").customer
    assert (incoming.tariff_id, incoming.amount) == (cat["deal"].pk, Decimal("0.01000"))
    followme = _price(pricer, cat, "4420", 60, access_code="FOLLOWME").customer
    assert (followme.tariff_id, followme.amount) == (cat["roaming"].pk, Decimal("1.00000"))
    # OUTGOING has no entry of its own: the ordinary outgoing one prices it.
    outgoing = _price(pricer, cat, "12045", 60, access_code="OUTGOING").customer
    assert outgoing.tariff_id == cat["retail"].pk
    assert _price(pricer, cat, "12045", 60, access_code="TRANSFER").customer == Refusal(
        "no_product"
    )


def test_data_is_rated_in_whole_megabytes_rounded_up(pricer: Pricer, cat: Any) -> None:
    result = _price(pricer, cat, "1", 10_485_761, service="data").customer
    assert (result.quantity, result.charged_quantity, result.amount) == (11, 11, Decimal("5.50000"))


def test_bad_input_names_the_field(pricer: Pricer, cat: Any) -> None:
    for field, kw in (
        ("service", {"service": "fax"}),
        ("unit", {"unit": "minutes"}),
        ("cld", {"cld": "abc"}),
        ("cld", {"cld": ""}),
        ("quantity", {"quantity": Decimal("-1")}),
    ):
        args = {"cld": "12", "quantity": Decimal(5)} | kw
        with pytest.raises(ValidationFailed) as info:
            pricer.price(
                account_id=cat["account"].pk,
                service=args.pop("service", "voice"),
                started_at=T0,
                **args,
            )
        assert info.value.field == field, kw


def test_a_resellers_customer_is_priced_twice(pricer: Pricer, cat: Any, world: Any) -> None:
    admin, ua = world["admin"], world["ua"]
    wholesale = services.create_tariff(
        actor=admin, now=T0, data={"name": "Wholesale", "currency": "USD", "service": "voice"}
    )
    _rate(admin, wholesale, "1", "0.06")
    a_tariff = services.create_tariff(
        actor=ua, now=T0, data={"name": "A retail", "currency": "USD", "service": "voice"}
    )
    _rate(ua, a_tariff, "1", "0.10")
    a_product = services.create_product(
        actor=ua, now=T0, data={"name": "A home", "currency": "USD"}
    )
    entry = services.create_entry(
        actor=ua, now=T0, product_id=a_product.pk, data={"service": "voice", "tariff": a_tariff.pk}
    )
    services.update_entry(
        actor=admin,
        now=T0,
        product_id=a_product.pk,
        entry_id=entry.pk,
        changes={"reseller_tariff": wholesale.pk},
    )
    sub = create_customer(
        actor=ua,
        now=T0,
        data={
            "name": "Sub",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": world["classes"]["a"].pk,
        },
    )
    acc = create_account(actor=ua, now=T0, customer_id=sub.pk, data={"identifier": "+200"})
    services.set_account_products(
        actor=ua, now=T0, account_id=acc.pk, product=a_product.pk, addons=[]
    )
    # PortaOne's example: $0.10/min to the customer, $0.06/min to its reseller.
    result = _price(pricer, cat, "15551234", 120, account=acc)
    assert (result.customer.amount, result.reseller.amount) == (
        Decimal("0.20000"),
        Decimal("0.12000"),
    )
    assert result.reseller_id == world["ra"].pk
    assert _price(Pricer(), cat, "44", 60, account=acc).refusal == Refusal("no_rate")
