"""Abbreviated dialing and service configuration (issue 14; rating-and-tabs.md §3.2, §3.3,
§4.2 step 3; CU-13 tabs Abbreviated Dialing and Service Configuration).

* the maximum length is saved before entries; entries are digits, at most that long, unique,
  never an account's extension; their target is an account of the customer, an E.164 number
  or nothing ("dial as is"); lowering the maximum below an entry is refused naming it;
* ``/authorize`` with a short number rates the full number (``resolved_cld``), and so does the
  charge path of rated usage (one record and a batch);
* service features resolve account → customer → add-ons (precedence) → main product, and the
  simultaneous-call limits refuse one session too many with ``concurrent_calls_limit``, by
  direction, in ``authorize`` and ``reserve`` (on PostgreSQL also under concurrency);
* bad input names the field and saves nothing; a reseller's user sees only its own.
Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import multiprocessing
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, connections

from billcore.accounts.models import User
from billcore.audit.models import AuditEntry
from billcore.charging import services as charging
from billcore.charging.models import Reservation, Xdr
from billcore.charging.services import ChargeRequest
from billcore.customers.models import Customer
from billcore.errors import NotFound, ValidationFailed
from billcore.features import selectors
from billcore.features import services as features
from billcore.features.models import AbbreviatedNumber, DialingPlan, FeatureSet
from billcore.ledger.customers import create_customer
from billcore.rating import services as rating
from billcore.subscribers.models import Account

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
NOW = T0 + dt.timedelta(hours=4)
EFFECTIVE = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
D = Decimal
LONDON = "442071234567"


def _rate(actor: Any, tariff: Any, prefix: str, price: str, **extra: Any) -> Any:
    data = {"prefix": prefix, "price_first": price, "price_next": price}
    data.update({"effective_from": EFFECTIVE, **extra})
    return rating.create_rate(actor=actor, now=T0, tariff_id=tariff.pk, data=data)


@pytest.fixture
def cat(world: dict[str, Any]) -> dict[str, Any]:
    """Pia (prepaid, 10.00 USD) with two accounts on product Home (voice: 44 at 0.10/min,
    60 s then 6 s; 1 at 0.02/min; connection fee 0.02)."""
    admin = world["admin"]
    retail = rating.create_tariff(
        actor=admin,
        now=T0,
        data={"name": "Retail", "currency": "USD", "service": "voice", "connection_fee": "0.02"},
    )
    _rate(admin, retail, "44", "0.10", interval_first=60, interval_next=6)
    _rate(admin, retail, "1", "0.02")
    home = rating.create_product(actor=admin, now=T0, data={"name": "Home", "currency": "USD"})
    rating.create_entry(
        actor=admin, now=T0, product_id=home.pk, data={"service": "voice", "tariff": retail.pk}
    )
    pia = create_customer(
        actor=admin,
        now=T0,
        data={
            "name": "Pia",
            "currency": "USD",
            "balance_control": "prepaid",
            "available_funds": "10",
            "customer_class": world["classes"]["usd"].pk,
        },
    )
    desk = features.create_account(
        actor=admin, now=T0, customer_id=pia.pk, data={"identifier": "+12025550101"}
    )
    phone = features.create_account(
        actor=admin,
        now=T0,
        customer_id=pia.pk,
        data={"identifier": "+12025550102", "extension": "20"},
    )
    for account in (desk, phone):
        rating.set_account_products(
            actor=admin, now=T0, account_id=account.pk, product=home.pk, addons=[]
        )
    return {**world, "pia": pia, "desk": desk, "phone": phone, "home": home, "retail": retail}


def _dialing(cat: dict[str, Any]) -> None:
    admin, pia = cat["admin"], cat["pia"]
    features.set_max_length(actor=admin, now=NOW, customer_id=pia.pk, max_length=3)
    for abbreviated, number in (("1", "+44 20 7123 4567"), ("34", "+12025550101"), ("112", "")):
        features.add_entry(
            actor=admin,
            now=NOW,
            customer_id=pia.pk,
            data={"abbreviated": abbreviated, "number": number, "description": f"d{abbreviated}"},
        )


def _refused(field: str, call: Any, **kwargs: Any) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as info:
        call(**kwargs)
    assert info.value.field == field, info.value.message
    return info.value


# --------------------------------------------------------------------------- abbreviated dialing


def test_entries_need_the_maximum_length_first(cat: dict[str, Any]) -> None:
    error = _refused(
        "max_length",
        features.add_entry,
        actor=cat["admin"],
        now=NOW,
        customer_id=cat["pia"].pk,
        data={"abbreviated": "1", "number": "+442071234567"},
    )
    assert error.code == "required"
    assert AbbreviatedNumber.objects.count() == 0


def test_entries_and_their_targets(cat: dict[str, Any]) -> None:
    _dialing(cat)
    listed = selectors.dialing(actor=cat["admin"], customer_id=cat["pia"].pk)
    assert listed.max_length == 3
    assert [(e.abbreviated, e.number, e.account_id, e.description) for e in listed.entries] == [
        ("1", LONDON, None, "d1"),
        ("112", "", None, "d112"),
        ("34", "+12025550101", cat["desk"].pk, "d34"),
    ]
    assert AuditEntry.objects.filter(object_type="abbreviatednumber").count() == 3
    assert AuditEntry.objects.filter(object_type="dialingplan", operation="create").count() == 1
    pia = cat["pia"].pk
    assert features.resolve_cld(customer_id=pia, cld="1") == LONDON
    assert features.resolve_cld(customer_id=pia, cld="34") == "+12025550101"
    assert features.resolve_cld(customer_id=pia, cld="112") is None  # dial as is
    assert features.resolve_cld(customer_id=pia, cld="20") == "+12025550102"  # an extension
    assert features.resolve_cld(customer_id=pia, cld="5") is None
    assert features.resolve_cld(customer_id=cat["ra"].pk, cld="1") is None  # per customer


@pytest.mark.parametrize(
    ("data", "field", "code"),
    [
        ({"abbreviated": "1a"}, "abbreviated", "invalid"),
        ({"abbreviated": ""}, "abbreviated", "required"),
        ({"abbreviated": "1234"}, "abbreviated", "too_long"),
        ({"abbreviated": "1"}, "abbreviated", "duplicate"),
        ({"abbreviated": "20"}, "abbreviated", "extension_clash"),
        ({"abbreviated": "7", "number": "call me"}, "number", "invalid"),
        ({"abbreviated": "7", "number": "0123"}, "number", "invalid"),
        ({"abbreviated": "7", "account": 999999}, "account", "invalid"),
        ({"abbreviated": "7", "colour": "red"}, "colour", "unknown"),
    ],
)
def test_bad_entries_are_refused_naming_the_field(
    cat: dict[str, Any], data: dict[str, Any], field: str, code: str
) -> None:
    _dialing(cat)
    before = list(AbbreviatedNumber.objects.values_list("abbreviated", "number"))
    error = _refused(
        field,
        features.add_entry,
        actor=cat["admin"],
        now=NOW,
        customer_id=cat["pia"].pk,
        data=data,
    )
    assert error.code == code
    assert list(AbbreviatedNumber.objects.values_list("abbreviated", "number")) == before


def test_an_account_of_another_customer_is_no_target(cat: dict[str, Any]) -> None:
    _dialing(cat)
    other = features.create_account(
        actor=cat["admin"], now=NOW, customer_id=cat["ra"].pk, data={"identifier": "+12025550199"}
    )
    _refused(
        "account",
        features.add_entry,
        actor=cat["admin"],
        now=NOW,
        customer_id=cat["pia"].pk,
        data={"abbreviated": "7", "account": other.pk},
    )
    # Its identifier is a plain E.164 number for this customer: dialled as such, not as an
    # account.
    entry = features.add_entry(
        actor=cat["admin"],
        now=NOW,
        customer_id=cat["pia"].pk,
        data={"abbreviated": "7", "number": "+12025550199"},
    )
    assert (entry.account_id, entry.number) == (None, "12025550199")


def test_lowering_the_maximum_below_entries_is_refused_naming_them(cat: dict[str, Any]) -> None:
    _dialing(cat)
    error = _refused(
        "max_length",
        features.set_max_length,
        actor=cat["admin"],
        now=NOW,
        customer_id=cat["pia"].pk,
        max_length=1,
    )
    assert error.code == "entries_too_long"
    assert "(112, 34)" in error.message
    assert DialingPlan.objects.get(customer=cat["pia"]).max_length == 3
    features.set_max_length(actor=cat["admin"], now=NOW, customer_id=cat["pia"].pk, max_length=8)
    _refused(
        "max_length",
        features.set_max_length,
        actor=cat["admin"],
        now=NOW,
        customer_id=cat["pia"].pk,
        max_length=9,
    )
    assert DialingPlan.objects.get(customer=cat["pia"]).max_length == 8


def test_update_and_delete_an_entry(cat: dict[str, Any]) -> None:
    _dialing(cat)
    entry = AbbreviatedNumber.objects.get(abbreviated="112")
    features.update_entry(
        actor=cat["admin"],
        now=NOW,
        customer_id=cat["pia"].pk,
        entry_id=entry.pk,
        changes={"number": "+12025550102"},
    )
    entry.refresh_from_db()
    assert (entry.account_id, entry.number) == (cat["phone"].pk, "+12025550102")
    features.delete_entry(actor=cat["admin"], now=NOW, customer_id=cat["pia"].pk, entry_id=entry.pk)
    assert not AbbreviatedNumber.objects.filter(pk=entry.pk).exists()
    assert AuditEntry.objects.filter(object_type="abbreviatednumber", operation="delete").count()


def test_extensions_are_digits_unique_within_the_customer_and_not_abbreviated(
    cat: dict[str, Any],
) -> None:
    _dialing(cat)
    admin, desk = cat["admin"], cat["desk"]
    for value, code in (("34", "abbreviated_clash"), ("20", "duplicate"), ("2x", "invalid")):
        error = _refused(
            "extension",
            features.update_account,
            actor=admin,
            now=NOW,
            account_id=desk.pk,
            changes={"extension": value},
        )
        assert error.code == code
        assert Account.objects.get(pk=desk.pk).extension is None
    _refused(
        "extension",
        features.create_account,
        actor=admin,
        now=NOW,
        customer_id=cat["pia"].pk,
        data={"identifier": "+12025550103", "extension": "123456789"},
    )
    assert not Account.objects.filter(identifier="+12025550103").exists()
    features.update_account(actor=admin, now=NOW, account_id=desk.pk, changes={"extension": "21"})
    assert Account.objects.get(pk=desk.pk).extension == "21"
    # Another customer may use the same extension.
    other = features.create_account(
        actor=admin,
        now=NOW,
        customer_id=cat["ra"].pk,
        data={"identifier": "+12025550199", "extension": "21"},
    )
    assert other.extension == "21"
    features.update_account(actor=admin, now=NOW, account_id=desk.pk, changes={"extension": ""})
    assert Account.objects.get(pk=desk.pk).extension is None


# --------------------------------------------------------------------------- resolution in use


def test_authorize_a_short_number_rates_the_full_number(cat: dict[str, Any]) -> None:
    _dialing(cat)
    admin, desk = cat["admin"], cat["desk"]
    short = charging.authorize(actor=admin, now=NOW, account_id=desk.pk, cld="1")
    full = charging.authorize(actor=admin, now=NOW, account_id=desk.pk, cld="+442071234567")
    assert (short.allowed, short.resolved_cld) == (True, LONDON)
    assert full.resolved_cld is None
    # 10.00 available: 0.02 connection fee + 0.10 a minute buys 99.8 min = 5988 s (60 s then
    # 6 s steps: 5988 = 60 + 988 x 6), costing exactly 10.00.
    assert (short.max_duration, short.amount) == (5988, D("10.00000"))
    assert (full.max_duration, full.amount) == (5988, D("10.00000"))
    # "Dial as is": 112 is rated as 112 (prefix 1 at 0.02/min: 9.98 buys 499 min), not
    # translated; the installation's cap (3 h) applies.
    as_is = charging.authorize(actor=admin, now=NOW, account_id=desk.pk, cld="112")
    assert (as_is.resolved_cld, as_is.max_duration) == (None, 3 * 3600)
    # The extension 20 calls the account +12025550102 (prefix 1).
    ext = charging.authorize(actor=admin, now=NOW, account_id=desk.pk, cld="20")
    assert ext.resolved_cld == "+12025550102"


def test_rated_usage_to_a_short_number_is_charged_as_the_full_number(cat: dict[str, Any]) -> None:
    _dialing(cat)
    admin, desk = cat["admin"], cat["desk"]
    usage = charging.parse_usage(service="voice", cld="1", quantity="60", now=NOW, external_id="a")
    result = charging.charge(actor=admin, now=NOW, account_id=desk.pk, usage=usage)
    # 60 s at 0.10/min + 0.02 connection fee.
    assert (result.allowed, result.amount, result.cld, result.rate_prefix) == (
        True,
        D("0.12000"),
        LONDON,
        "44",
    )
    xdr = Xdr.objects.get(pk=result.xdr_id)
    assert (xdr.cld, xdr.amount) == (LONDON, D("0.12000"))
    # A retry with the same key replays.
    again = charging.charge(actor=admin, now=NOW, account_id=desk.pk, usage=usage)
    assert (again.replayed, again.xdr_id) == (True, result.xdr_id)
    # The batch path resolves too.
    batch = charging.charge_many(
        actor=admin,
        requests=[
            ChargeRequest(
                usage=charging.parse_usage(
                    service="voice", cld=cld, quantity="60", now=NOW, external_id=f"b{cld}"
                ),
                now=NOW,
                account_id=desk.pk,
            )
            for cld in ("1", "20", "112")
        ],
    )
    assert [(r.cld, r.amount) for r in batch] == [  # type: ignore[union-attr]
        (LONDON, D("0.12000")),
        ("+12025550102", D("0.04000")),
        ("112", D("0.04000")),
    ]
    pia = Customer.objects.get(pk=cat["pia"].pk)
    assert pia.available_funds == D("9.68000")


# --------------------------------------------------------------------------- service features


def test_features_resolve_account_customer_addons_main_product(cat: dict[str, Any]) -> None:
    admin, desk, pia = cat["admin"], cat["desk"], cat["pia"]
    extra = rating.create_product(
        actor=admin, now=T0, data={"name": "Extra", "currency": "USD", "kind": "addon"}
    )
    best = rating.create_product(
        actor=admin,
        now=T0,
        data={"name": "Best", "currency": "USD", "kind": "addon", "precedence": 5},
    )
    for addon in (extra, best):
        rating.create_entry(
            actor=admin,
            now=T0,
            product_id=addon.pk,
            data={"service": "voice", "tariff": cat["retail"].pk},
        )
    rating.set_account_products(
        actor=admin, now=T0, account_id=desk.pk, product=cat["home"].pk, addons=[extra.pk, best.pk]
    )
    features.set_product_features(
        actor=admin,
        now=NOW,
        product_id=cat["home"].pk,
        values={
            "max_calls": 9,
            "music_on_hold": True,
            "display_name": "Home",
            "call_parking": True,
        },
    )
    features.set_product_features(
        actor=admin, now=NOW, product_id=extra.pk, values={"max_calls": 8, "call_parking": False}
    )
    features.set_product_features(actor=admin, now=NOW, product_id=best.pk, values={"max_calls": 7})
    features.set_customer_features(
        actor=admin, now=NOW, customer_id=pia.pk, values={"max_incoming_calls": 4}
    )
    features.set_account_features(
        actor=admin,
        now=NOW,
        account_id=desk.pk,
        values={"display_name": "Desk", "max_incoming_calls": 3},
    )
    got = selectors.account_features(actor=admin, account_id=desk.pk)
    summary = {n: (e.value, e.source, e.source_name) for n, e in got.effective.items()}
    assert summary == {
        "max_calls": (7, "addon", "Best"),
        "max_incoming_calls": (3, "account", ""),
        "max_outgoing_calls": (None, "default", ""),
        "max_forwarded_calls": (None, "default", ""),
        "accept_caller_identity": (None, "default", ""),
        "supply_caller_identity": (None, "default", ""),
        "cli_presentation": (None, "default", ""),
        "display_name": ("Desk", "account", ""),
        "override_identity": (None, "default", ""),
        "music_on_hold": (True, "product", "Home"),
        "call_parking": (False, "addon", "Extra"),
    }
    assert got.own["display_name"] == "Desk" and got.own["max_calls"] is None
    # The other account has only the main product and the customer's values.
    phone = selectors.account_features(actor=admin, account_id=cat["phone"].pk).effective
    assert (phone["max_calls"].value, phone["max_calls"].source) == (9, "product")
    assert (phone["max_incoming_calls"].value, phone["max_incoming_calls"].source) == (
        4,
        "customer",
    )
    own, per_account = features.call_limits(customer_id=pia.pk, account_id=desk.pk)
    assert own == features.CallLimits(max_incoming_calls=4)
    assert per_account == features.CallLimits(max_calls=7, max_incoming_calls=3)
    # replace=True: what is not given inherits again.
    features.set_account_features(
        actor=admin, now=NOW, account_id=desk.pk, values={"call_parking": "true"}, replace=True
    )
    own_values = selectors.account_features(actor=admin, account_id=desk.pk).own
    assert own_values["display_name"] is None and own_values["call_parking"] is True


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"max_calls": -1}, "max_calls"),
        ({"max_calls": "two"}, "max_calls"),
        ({"max_incoming_calls": 10**9}, "max_incoming_calls"),
        ({"accept_caller_identity": "anyone"}, "accept_caller_identity"),
        ({"music_on_hold": "maybe"}, "music_on_hold"),
        ({"override_identity": "12ab"}, "override_identity"),
        ({"display_name": "x" * 65}, "display_name"),
        ({"max_calls": 2, "volume": 11}, "volume"),
    ],
)
def test_bad_features_are_refused_naming_the_field(
    cat: dict[str, Any], values: dict[str, Any], field: str
) -> None:
    _refused(
        field,
        features.set_customer_features,
        actor=cat["admin"],
        now=NOW,
        customer_id=cat["pia"].pk,
        values=values,
    )
    assert FeatureSet.objects.count() == 0


def _reserve(cat: dict[str, Any], account: Any, direction: str = "", **kw: Any) -> Any:
    return charging.reserve(
        actor=cat["admin"],
        now=kw.pop("now", NOW),
        account_id=account.pk,
        service="voice",
        amount="0.50",
        direction=direction or None,
        **kw,
    )


def test_a_limit_of_two_refuses_the_third_session(cat: dict[str, Any]) -> None:
    admin, pia, desk, phone = cat["admin"], cat["pia"], cat["desk"], cat["phone"]
    features.set_customer_features(
        actor=admin, now=NOW, customer_id=pia.pk, values={"max_calls": 2}
    )
    first, second = _reserve(cat, desk), _reserve(cat, phone)
    assert first.allowed and second.allowed
    third = _reserve(cat, desk)
    assert (third.allowed, third.reason, third.reservation_id) == (
        False,
        "concurrent_calls_limit",
        None,
    )
    assert third.message == "the account's or the customer's simultaneous-call limit is reached"
    # Nothing changed: two holds, 1.00 reserved.
    assert Reservation.objects.filter(customer=pia).count() == 2
    assert Customer.objects.get(pk=pia.pk).reserved == D("1.00000")
    refused = charging.authorize(actor=admin, now=NOW, account_id=desk.pk, cld="+442071234567")
    assert (refused.allowed, refused.reason) == (False, "concurrent_calls_limit")
    # A session ends: the next one fits.
    charging.release_reservation(actor=admin, now=NOW, reservation_id=first.reservation_id)
    assert _reserve(cat, desk).allowed
    # An expired hold is no live session.
    later = NOW + dt.timedelta(seconds=charging.DEFAULT_RESERVATION_SECONDS)
    assert _reserve(cat, desk, now=later).allowed


def test_limits_by_direction_and_per_account(cat: dict[str, Any]) -> None:
    admin, pia, desk, phone = cat["admin"], cat["pia"], cat["desk"], cat["phone"]
    features.set_customer_features(
        actor=admin, now=NOW, customer_id=pia.pk, values={"max_incoming_calls": 1}
    )
    features.set_account_features(
        actor=admin, now=NOW, account_id=phone.pk, values={"max_outgoing_calls": 1}
    )
    assert _reserve(cat, desk, "incoming").allowed
    assert _reserve(cat, phone, "incoming").reason == "concurrent_calls_limit"
    assert _reserve(cat, desk, "outgoing").allowed
    assert _reserve(cat, desk, "forwarded").allowed
    assert _reserve(cat, phone).allowed  # outgoing by default
    assert _reserve(cat, phone, "outgoing").reason == "concurrent_calls_limit"
    assert _reserve(cat, desk, "outgoing").allowed  # the phone's limit is the phone's
    assert list(
        Reservation.objects.filter(customer=pia).order_by("id").values_list("direction", flat=True)
    ) == ["incoming", "outgoing", "forwarded", "outgoing", "outgoing"]
    ok = charging.authorize(
        actor=admin, now=NOW, account_id=desk.pk, amount="0", direction="forwarded"
    )
    assert ok.allowed
    busy = charging.authorize(
        actor=admin, now=NOW, account_id=desk.pk, amount="0", direction="incoming"
    )
    assert busy.reason == "concurrent_calls_limit"
    _refused(
        "direction",
        charging.reserve,
        actor=admin,
        now=NOW,
        account_id=desk.pk,
        service="voice",
        amount="0.5",
        direction="sideways",
    )
    _refused(
        "direction",
        charging.authorize,
        actor=admin,
        now=NOW,
        account_id=desk.pk,
        amount="0",
        direction="up",
    )
    assert Reservation.objects.filter(customer=pia).count() == 5


def test_a_blocked_customer_is_refused_for_its_status_first(cat: dict[str, Any]) -> None:
    admin, pia, desk = cat["admin"], cat["pia"], cat["desk"]
    features.set_customer_features(
        actor=admin, now=NOW, customer_id=pia.pk, values={"max_calls": 0}
    )
    assert _reserve(cat, desk).reason == "concurrent_calls_limit"
    Customer.objects.filter(pk=pia.pk).update(blocked=True)
    assert _reserve(cat, desk).reason == "customer_blocked"


# --------------------------------------------------------------------------- resellers


def test_a_resellers_user_sees_and_touches_only_its_own(cat: dict[str, Any]) -> None:
    ua, ub = cat["ua"], cat["ub"]
    mine = create_customer(
        actor=ua,
        now=NOW,
        data={
            "name": "Sub A",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": cat["classes"]["a"].pk,
        },
    )
    features.set_max_length(actor=ua, now=NOW, customer_id=mine.pk, max_length=2)
    features.add_entry(
        actor=ua, now=NOW, customer_id=mine.pk, data={"abbreviated": "9", "number": "+15550000"}
    )
    features.set_customer_features(actor=ua, now=NOW, customer_id=mine.pk, values={"max_calls": 3})
    attempts = [
        lambda: selectors.dialing(actor=ub, customer_id=mine.pk),
        lambda: selectors.customer_features(actor=ub, customer_id=mine.pk),
        lambda: features.set_max_length(actor=ub, now=NOW, customer_id=mine.pk, max_length=5),
        lambda: features.add_entry(
            actor=ub, now=NOW, customer_id=mine.pk, data={"abbreviated": "8"}
        ),
        lambda: features.delete_entry(
            actor=ub,
            now=NOW,
            customer_id=mine.pk,
            entry_id=AbbreviatedNumber.objects.get(customer=mine).pk,
        ),
        lambda: features.set_customer_features(
            actor=ub, now=NOW, customer_id=mine.pk, values={"max_calls": 99}
        ),
        lambda: features.set_customer_features(
            actor=ua, now=NOW, customer_id=cat["pia"].pk, values={"max_calls": 99}
        ),
        lambda: features.set_account_features(
            actor=ua, now=NOW, account_id=cat["desk"].pk, values={"max_calls": 1}
        ),
        lambda: features.set_product_features(
            actor=ua, now=NOW, product_id=cat["home"].pk, values={"max_calls": 1}
        ),
        lambda: selectors.account_features(actor=ub, account_id=cat["desk"].pk),
    ]
    for attempt in attempts:
        with pytest.raises(NotFound):
            attempt()
    assert DialingPlan.objects.get(customer=mine).max_length == 2
    assert AbbreviatedNumber.objects.filter(customer=mine).count() == 1
    assert FeatureSet.objects.get(customer=mine).max_calls == 3
    assert FeatureSet.objects.filter(customer=cat["pia"]).count() == 0


# --------------------------------------------------------------------------- concurrency (PG)

PROCESSES = 4
PER_PROCESS = 6


def _worker(args: tuple[int, int, int]) -> tuple[int, int, list[str]]:
    account_id, admin_id, n = args
    connections.close_all()
    from django.utils import timezone

    admin = User.objects.get(pk=admin_id)
    accepted = denied = 0
    errors: list[str] = []
    for i in range(PER_PROCESS):
        try:
            r = charging.reserve(
                actor=admin,
                now=timezone.now(),
                account_id=account_id,
                service="voice",
                amount="0.01",
                seconds=3600,
                external_id=f"r{n}-{i}",
            )
        except Exception as exc:  # every error is a failure of the test
            errors.append(repr(exc))
            continue
        if r.allowed:
            accepted += 1
        elif r.reason == "concurrent_calls_limit":
            denied += 1
        else:
            errors.append(r.reason)
    connections.close_all()
    return accepted, denied, errors


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_reserves_never_pass_the_limit(world: dict[str, Any]) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks under concurrent processes: PostgreSQL")
    admin = world["admin"]
    customer = create_customer(
        actor=admin,
        now=T0,
        data={
            "name": "Busy",
            "currency": "USD",
            "balance_control": "prepaid",
            "available_funds": "100",
            "customer_class": world["classes"]["usd"].pk,
        },
    )
    account = features.create_account(
        actor=admin, now=T0, customer_id=customer.pk, data={"identifier": "+19"}
    )
    features.set_customer_features(
        actor=admin, now=T0, customer_id=customer.pk, values={"max_calls": 5}
    )
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(PROCESSES) as pool:
        results = pool.map(_worker, [(account.pk, admin.pk, n) for n in range(PROCESSES)])
    assert [e for _, _, errs in results for e in errs] == []
    assert (sum(a for a, _, _ in results), sum(d for _, d, _ in results)) == (5, 19)
    assert Reservation.objects.filter(customer=customer, status="open").count() == 5
