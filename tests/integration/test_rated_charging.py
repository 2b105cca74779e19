"""Rated usage in the charge path (issue 12 §2): usage without an amount is priced from the
catalogue and charged through the same guarded path; what rating chose is stored on the xDR;
a record that cannot be priced is kept, denied, with the reason; pre-rated usage is unchanged;
an idempotent replay compares what the client sent; a reseller's customer's usage also
charges the reseller (its own ledger row, in its currency), both or neither; concurrent rated
calls never overspend. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import multiprocessing
from decimal import Decimal
from typing import Any

import pytest
from django.db import connections

from billcore.accounts.models import User
from billcore.charging import services as charging
from billcore.charging.models import Xdr
from billcore.charging.services import ChargeRequest, charge, charge_many, parse_usage
from billcore.classes.services import create_class
from billcore.core.charging import REASONS
from billcore.customers.models import Customer
from billcore.errors import Conflict, ValidationFailed
from billcore.ledger.customers import create_customer
from billcore.ledger.models import Transaction
from billcore.rating import services as rating
from billcore.rating.models import Rate
from billcore.subscribers.services import create_account
from tests.support import ledger_sum

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
NOW = T0 + dt.timedelta(hours=4)
START = T0 + dt.timedelta(hours=3)
EFFECTIVE = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
D = Decimal


def _rate(actor: Any, tariff: Any, prefix: str, price: str, **extra: Any) -> Rate:
    data = {"prefix": prefix, "price_first": price, "price_next": price}
    data.update({"effective_from": EFFECTIVE, **extra})
    return rating.create_rate(actor=actor, now=T0, tariff_id=tariff.pk, data=data)


@pytest.fixture
def cat(world: dict[str, Any]) -> dict[str, Any]:
    admin = world["admin"]
    retail = rating.create_tariff(
        actor=admin,
        now=T0,
        data={"name": "Retail", "currency": "USD", "service": "voice", "connection_fee": "0.02"},
    )
    r12 = _rate(admin, retail, "12", "0.02")
    r44 = _rate(admin, retail, "44", "0.10", interval_first=60, interval_next=6)
    _rate(admin, retail, "4201", "0.20", forbidden=True)
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
    account = create_account(actor=admin, now=T0, customer_id=pia.pk, data={"identifier": "+100"})
    rating.set_account_products(
        actor=admin, now=T0, account_id=account.pk, product=home.pk, addons=[]
    )
    bare = create_account(actor=admin, now=T0, customer_id=pia.pk, data={"identifier": "+101"})
    return {
        "admin": admin,
        "retail": retail,
        "r12": r12,
        "r44": r44,
        "pia": pia,
        "account": account,
        "bare": bare,
    }


def _usage(cld: str | None = "+1 2033 768900", seconds: str = "61", **kw: Any) -> Any:
    kw.setdefault("started_at", START)
    return parse_usage(
        service=kw.pop("service", "voice"),
        amount=kw.pop("amount", None),
        cld=cld,
        quantity=seconds,
        now=NOW,
        **kw,
    )


def _charge(cat: Any, usage: Any, account: Any = None) -> Any:
    return charge(
        actor=cat["admin"], now=NOW, account_id=(account or cat["account"]).pk, usage=usage
    )


def _balance(customer: Any) -> Decimal:
    return Customer.objects.get(pk=customer.pk).balance


# --------------------------------------------------------------------------- rated charges


def test_a_rated_call_is_charged_with_the_exact_amount_and_stored(cat: Any) -> None:
    before = _balance(cat["pia"])
    result = _charge(cat, _usage(external_id="r-1"))
    # 61 s at 1/1 and 0.02 per minute with a 0.02 fee: (0.02·60 + 0.02·61) / 60 = 0.04033
    assert (result.allowed, result.reason, result.amount) == (True, "", D("0.04033"))
    assert (result.tariff_id, result.rate_id, result.rate_prefix, result.price_set) == (
        cat["retail"].pk,
        cat["r12"].pk,
        "12",
        "peak",
    )
    assert (result.cld, result.base_quantity, result.charged_quantity) == (
        "+1 2033 768900",
        61,
        61,
    )
    assert result.reseller_amount is None
    x = Xdr.objects.get(pk=result.xdr_id)
    assert (x.status, x.amount, x.cld, x.access_code) == (
        "charged",
        D("0.04033"),
        "+1 2033 768900",
        None,
    )
    assert (x.tariff_id, x.rate_id, x.rate_prefix, x.price_set) == (
        cat["retail"].pk,
        cat["r12"].pk,
        "12",
        "peak",
    )
    assert (x.base_quantity, x.charged_quantity, x.quantity) == (61, 61, D("61.00000"))
    assert (x.reseller_amount, x.reseller_transaction_id) == (None, None)
    assert x.transaction is not None and x.transaction.amount == D("0.04033")
    assert _balance(cat["pia"]) == before + D("0.04033")
    assert ledger_sum(customer_id=cat["pia"].pk) == _balance(cat["pia"])


def test_first_and_next_intervals_round_the_charged_quantity_up(cat: Any) -> None:
    # 61 s at 60/6: 66 s charged; 0.10 · 66 / 60 + 0.02 = 0.13
    result = _charge(cat, _usage("+44 20 7946 0000", "61", access_code="OUTGOING"))
    assert (result.amount, result.rate_id, result.charged_quantity) == (
        D("0.13000"),
        cat["r44"].pk,
        66,
    )
    assert Xdr.objects.get(pk=result.xdr_id).access_code == "OUTGOING"


@pytest.mark.parametrize(
    ("cld", "account", "reason"),
    [
        ("+1 555 0100", "bare", "no_product"),
        ("999 123", "account", "no_rate"),
        ("+420 1234 5678", "account", "forbidden_destination"),
    ],
)
def test_a_record_that_cannot_be_priced_is_kept_denied(
    cat: Any, cld: str, account: str, reason: str
) -> None:
    before = _balance(cat["pia"])
    result = _charge(cat, _usage(cld, "30"), cat[account])
    assert (result.allowed, result.reason, result.message, result.amount) == (
        False,
        reason,
        REASONS[reason],
        D("0.00000"),
    )
    x = Xdr.objects.get(pk=result.xdr_id)
    assert (x.status, x.deny_reason, x.amount, x.transaction_id, x.cld, x.base_quantity) == (
        "denied",
        reason,
        D("0.00000"),
        None,
        cld,
        30,
    )
    assert (x.tariff_id, x.rate_id, x.charged_quantity) == (None, None, None)
    assert _balance(cat["pia"]) == before
    assert Transaction.objects.filter(customer=cat["pia"], action="usage").count() == 0


def test_a_rated_record_past_the_funds_is_denied_with_its_amount(cat: Any) -> None:
    Customer.objects.filter(pk=cat["pia"].pk).update(balance=D("-0.05"))
    result = _charge(cat, _usage("12", "120"))  # (0.02·60 + 0.02·120)/60 = 0.06 > 0.05
    assert (result.allowed, result.reason, result.amount) == (
        False,
        "insufficient_funds",
        D("0.06000"),
    )
    assert Xdr.objects.get(pk=result.xdr_id).charged_quantity == 120


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"cld": None}, "cld"),
        ({"cld": "12abc"}, "cld"),
        ({"seconds": ""}, "quantity"),
        ({"access_code": "SIDEWAYS"}, "access_code"),
        ({"service": "telepathy"}, "service"),
    ],
)
def test_bad_rating_input_names_its_field(cat: Any, kw: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        _usage(**kw)
    assert info.value.field == field
    assert Xdr.objects.count() == 0


def test_a_unit_rating_cannot_read_and_a_customer_target_name_their_field(cat: Any) -> None:
    with pytest.raises(ValidationFailed) as info:
        _charge(cat, _usage(unit="fortnights"))
    assert info.value.field == "unit"
    with pytest.raises(ValidationFailed) as info:
        charge(actor=cat["admin"], now=NOW, customer_id=cat["pia"].pk, usage=_usage())
    assert info.value.field == "account"
    assert Xdr.objects.count() == 0


def test_a_catalogue_service_is_accepted_and_an_unknown_one_refused(cat: Any) -> None:
    rating.create_service(
        actor=cat["admin"],
        now=T0,
        data={"code": "video", "name": "Video calls", "rating_base": "time"},
    )
    usage = parse_usage(service="video", amount="0.5", now=NOW)
    result = _charge(cat, usage)
    assert (result.allowed, Xdr.objects.get(pk=result.xdr_id).service) == (True, "video")
    # Rated: the account's product has no entry for video.
    assert _charge(cat, _usage(service="video")).reason == "no_product"


# --------------------------------------------------------------------------- pre-rated


def test_pre_rated_usage_is_charged_as_sent(cat: Any) -> None:
    usage = parse_usage(
        service="voice", amount="1.5", quantity="90", cld="+420 999", now=NOW, external_id="p-1"
    )
    result = _charge(cat, usage)
    assert (result.allowed, result.amount, result.cld, result.tariff_id) == (
        True,
        D("1.50000"),
        "+420 999",
        None,
    )
    x = Xdr.objects.get(pk=result.xdr_id)
    assert (x.amount, x.cld, x.rate_id, x.base_quantity, x.charged_quantity) == (
        D("1.50000"),
        "+420 999",
        None,
        None,
        None,
    )
    # The same key with another amount: 409 as before.
    with pytest.raises(Conflict):
        _charge(cat, parse_usage(service="voice", amount="2", now=NOW, external_id="p-1"))


# --------------------------------------------------------------------------- idempotency


def test_rated_usage_replays_and_a_changed_record_is_a_conflict(cat: Any) -> None:
    first = _charge(cat, _usage(external_id="k-1"))
    again = _charge(cat, _usage(external_id="k-1"))
    assert (again.replayed, again.xdr_id, again.amount, again.charged_quantity) == (
        True,
        first.xdr_id,
        D("0.04033"),
        61,
    )
    # In a batch too.
    [batched] = charge_many(
        actor=cat["admin"],
        requests=[
            ChargeRequest(usage=_usage(external_id="k-1"), now=NOW, account_id=cat["account"].pk)
        ],
    )
    assert (batched.replayed, batched.xdr_id) == (True, first.xdr_id)
    for changed in (
        _usage(seconds="62", external_id="k-1"),
        _usage("+1 2033 768901", external_id="k-1"),
        _usage(started_at=START + dt.timedelta(seconds=1), external_id="k-1"),
    ):
        with pytest.raises(Conflict):
            _charge(cat, changed)
        [outcome] = charge_many(
            actor=cat["admin"],
            requests=[ChargeRequest(usage=changed, now=NOW, account_id=cat["account"].pk)],
        )
        assert isinstance(outcome, Conflict)
    assert Xdr.objects.count() == 1
    assert Transaction.objects.filter(customer=cat["pia"], action="usage").count() == 1


def test_a_batch_rates_its_records_in_order(cat: Any) -> None:
    results = charge_many(
        actor=cat["admin"],
        requests=[
            ChargeRequest(usage=_usage(external_id=f"b-{i}"), now=NOW, account_id=cat["account"].pk)
            for i in range(3)
        ]
        + [
            ChargeRequest(usage=_usage("999"), now=NOW, account_id=cat["account"].pk),
            ChargeRequest(usage=_usage(), now=NOW, customer_id=cat["pia"].pk),
        ],
    )
    assert [getattr(r, "amount", None) for r in results[:4]] == [D("0.04033")] * 3 + [D("0.00000")]
    assert results[3].reason == "no_rate"
    assert isinstance(results[4], ValidationFailed) and results[4].field == "account"
    assert _balance(cat["pia"]) == D("-10") + 3 * D("0.04033")
    assert ledger_sum(customer_id=cat["pia"].pk) == _balance(cat["pia"])


# --------------------------------------------------------------------------- resellers


@pytest.fixture
def resold(world: dict[str, Any], cat: Any) -> dict[str, Any]:
    """A reseller in EUR whose sub-customer pays in USD: retail $0.10/min, wholesale
    €0.06/min (PortaOne's example)."""
    admin = world["admin"]
    eur = create_class(actor=admin, now=T0, data={"name": "Wholesale EUR", "currency": "EUR"})
    reseller = create_customer(
        actor=admin,
        now=T0,
        data={
            "name": "Euro Reseller",
            "customer_type": "reseller",
            "currency": "EUR",
            "balance_control": "postpaid",
            "customer_class": eur.pk,
        },
    )
    user = User.objects.create_user(username="ue", password="pw-e-12345678", reseller=reseller)
    sub_class = create_class(actor=user, now=T0, data={"name": "E Retail", "currency": "USD"})
    wholesale = rating.create_tariff(
        actor=admin, now=T0, data={"name": "Wholesale", "currency": "EUR", "service": "voice"}
    )
    _rate(admin, wholesale, "1", "0.06")
    _rate(admin, wholesale, "45", "0.06", forbidden=True)
    retail = rating.create_tariff(
        actor=user, now=T0, data={"name": "E retail", "currency": "USD", "service": "voice"}
    )
    for prefix in ("1", "44", "45"):
        _rate(user, retail, prefix, "0.10")
    product = rating.create_product(actor=user, now=T0, data={"name": "E home", "currency": "USD"})
    entry = rating.create_entry(
        actor=user, now=T0, product_id=product.pk, data={"service": "voice", "tariff": retail.pk}
    )
    rating.update_entry(
        actor=admin,
        now=T0,
        product_id=product.pk,
        entry_id=entry.pk,
        changes={"reseller_tariff": wholesale.pk},
    )
    sub = create_customer(
        actor=user,
        now=T0,
        data={
            "name": "Sub",
            "currency": "USD",
            "balance_control": "prepaid",
            "available_funds": "5",
            "customer_class": sub_class.pk,
        },
    )
    account = create_account(actor=user, now=T0, customer_id=sub.pk, data={"identifier": "+200"})
    rating.set_account_products(
        actor=user, now=T0, account_id=account.pk, product=product.pk, addons=[]
    )
    return {"admin": admin, "user": user, "reseller": reseller, "sub": sub, "account": account}


def _resold(resold: Any, cld: str = "15551234", seconds: str = "120", **kw: Any) -> Any:
    return charge(
        actor=kw.pop("actor", resold["user"]),
        now=NOW,
        account_id=resold["account"].pk,
        usage=_usage(cld, seconds, **kw),
    )


def _usage_rows(customer: Any) -> list[Decimal]:
    return list(
        Transaction.objects.filter(customer=customer, action="usage")
        .order_by("id")
        .values_list("amount", flat=True)
    )


def test_a_resellers_customer_and_the_reseller_are_charged_in_their_currencies(
    resold: Any,
) -> None:
    result = _resold(resold, external_id="s-1")
    assert (result.allowed, result.amount, result.reseller_amount) == (
        True,
        D("0.20000"),
        D("0.12000"),
    )
    x = Xdr.objects.get(pk=result.xdr_id)
    assert (x.amount, x.reseller_amount) == (D("0.20000"), D("0.12000"))
    assert x.transaction is not None and x.reseller_transaction is not None
    assert (x.transaction.customer_id, x.transaction.amount) == (resold["sub"].pk, D("0.20000"))
    assert (x.reseller_transaction.customer_id, x.reseller_transaction.amount) == (
        resold["reseller"].pk,
        D("0.12000"),
    )
    # The sub-customer pays in USD, the reseller in EUR: each row in its customer's currency.
    assert (resold["sub"].currency_id, resold["reseller"].currency_id) == ("USD", "EUR")
    assert _usage_rows(resold["sub"]) == [D("0.20000")]
    assert _usage_rows(resold["reseller"]) == [D("0.12000")]
    assert _balance(resold["reseller"]) == D("0.12000")
    assert ledger_sum(customer_id=resold["reseller"].pk) == _balance(resold["reseller"])
    assert ledger_sum(customer_id=resold["sub"].pk) == _balance(resold["sub"])
    # A replay charges neither again.
    assert _resold(resold, external_id="s-1").replayed
    assert _usage_rows(resold["reseller"]) == [D("0.12000")]


def test_a_batch_charges_the_reseller_too(resold: Any) -> None:
    results = charge_many(
        actor=resold["user"],
        requests=[
            ChargeRequest(
                usage=_usage("15551234", "120", external_id=f"sb-{i}"),
                now=NOW,
                account_id=resold["account"].pk,
            )
            for i in range(2)
        ],
    )
    assert [(r.amount, r.reseller_amount) for r in results] == [(D("0.2"), D("0.12"))] * 2
    assert _usage_rows(resold["reseller"]) == [D("0.12000")] * 2
    assert _balance(resold["reseller"]) == D("0.24000")
    assert _balance(resold["sub"]) == D("-4.60000")
    xs = Xdr.objects.filter(customer=resold["sub"]).order_by("id")
    assert [x.reseller_transaction.amount for x in xs] == [D("0.12000")] * 2


@pytest.mark.parametrize(
    ("cld", "reason"),
    [("44 20 7946 0000", "reseller_no_rate"), ("45 1234", "reseller_forbidden_destination")],
)
def test_the_resellers_tariff_refusing_denies(resold: Any, cld: str, reason: str) -> None:
    result = _resold(resold, cld)
    assert (result.allowed, result.reason, result.message, result.amount) == (
        False,
        reason,
        REASONS[reason],
        D("0.00000"),
    )
    assert _usage_rows(resold["sub"]) == _usage_rows(resold["reseller"]) == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"blocked": True}, "reseller_blocked"),
        ({"status": "suspended", "suspension_reason": "manual"}, "reseller_suspended"),
        ({"status": "provisionally_terminated"}, "reseller_terminated"),
        ({"credit_limit": D("0.10")}, "reseller_credit_limit"),
        ({"balance_control": "prepaid", "balance": D("-0.11")}, "reseller_funds"),
    ],
)
def test_a_reseller_that_cannot_pay_denies_its_customers_usage(
    resold: Any, change: dict[str, Any], reason: str
) -> None:
    Customer.objects.filter(pk=resold["reseller"].pk).update(**change)
    sub_before = _balance(resold["sub"])
    for result in (
        _resold(resold),
        charge_many(
            actor=resold["user"],
            requests=[
                ChargeRequest(
                    usage=_usage("15551234", "120"), now=NOW, account_id=resold["account"].pk
                )
            ],
        )[0],
    ):
        assert (result.allowed, result.reason, result.message) == (False, reason, REASONS[reason])
        assert "reseller" in result.message
    # Neither is charged.
    assert _usage_rows(resold["sub"]) == _usage_rows(resold["reseller"]) == []
    assert _balance(resold["sub"]) == sub_before
    assert Xdr.objects.filter(customer=resold["sub"], status="denied").count() == 2


def test_both_or_neither(resold: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    real = charging._post_usage

    def failing(**kw: Any) -> Any:
        if kw["customer"].pk == resold["reseller"].pk:
            raise RuntimeError("the reseller's row cannot be written")
        return real(**kw)

    monkeypatch.setattr(charging, "_post_usage", failing)
    sub_before = _balance(resold["sub"])
    with pytest.raises(RuntimeError):
        _resold(resold, external_id="bn-1")
    assert _usage_rows(resold["sub"]) == _usage_rows(resold["reseller"]) == []
    assert (_balance(resold["sub"]), _balance(resold["reseller"])) == (sub_before, D("0"))
    assert Xdr.objects.count() == 0


def test_a_reseller_user_sees_no_other_resellers_accounts(resold: Any, world: Any) -> None:
    from billcore.errors import NotFound

    with pytest.raises(NotFound):
        _resold(resold, actor=world["ua"])
    assert Xdr.objects.count() == 0


# --------------------------------------------------------------------------- concurrency

PROCESSES = 4
PER_PROCESS = 20


def _worker(args: tuple[int, int, int]) -> tuple[int, int, list[str]]:
    account_id, admin_id, n = args
    connections.close_all()
    from django.utils import timezone

    admin = User.objects.get(pk=admin_id)
    accepted = denied = 0
    errors: list[str] = []
    for i in range(PER_PROCESS):
        now = timezone.now()
        try:
            usage = parse_usage(
                service="voice", cld="1 555", quantity="60", external_id=f"c{n}-{i}", now=now
            )
            ok = charge(actor=admin, now=now, account_id=account_id, usage=usage).allowed
        except Exception as exc:  # every error is a failure of the test
            errors.append(repr(exc))
            continue
        accepted += ok
        denied += not ok
    connections.close_all()
    return accepted, denied, errors


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_rated_calls_never_overspend(world: dict[str, Any]) -> None:
    admin = world["admin"]
    tariff = rating.create_tariff(
        actor=admin,
        now=T0,
        data={"name": "Flat", "currency": "USD", "service": "voice", "connection_fee": "0.02"},
    )
    _rate(admin, tariff, "1", "0.02")
    product = rating.create_product(actor=admin, now=T0, data={"name": "Flat", "currency": "USD"})
    rating.create_entry(
        actor=admin, now=T0, product_id=product.pk, data={"service": "voice", "tariff": tariff.pk}
    )
    customer = create_customer(
        actor=admin,
        now=T0,
        data={
            "name": "Hot",
            "currency": "USD",
            "balance_control": "prepaid",
            "available_funds": "1",
            "customer_class": world["classes"]["usd"].pk,
        },
    )
    account = create_account(
        actor=admin, now=T0, customer_id=customer.pk, data={"identifier": "+9"}
    )
    rating.set_account_products(
        actor=admin, now=T0, account_id=account.pk, product=product.pk, addons=[]
    )
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(PROCESSES) as pool:
        results = pool.map(_worker, [(account.pk, admin.pk, n) for n in range(PROCESSES)])
    assert [e for _, _, errs in results for e in errs] == []
    # Each call costs 0.02 (60 s at 0.02/min) + 0.02 (connection fee) = 0.04: 25 fit in 1.00.
    assert (sum(a for a, _, _ in results), sum(d for _, d, _ in results)) == (25, 55)
    customer.refresh_from_db()
    assert customer.available_funds == D("0.00000")
    assert ledger_sum(customer_id=customer.pk) == customer.balance
    assert Xdr.objects.filter(customer=customer, status="charged", amount=D("0.04")).count() == 25


def test_a_rated_amount_too_large_to_hold_is_refused_naming_quantity(cat: Any) -> None:
    _rate(cat["admin"], cat["retail"], "7", "99999")
    with pytest.raises(ValidationFailed) as info:
        _charge(cat, _usage("7 123", "9999999999999"))
    assert (info.value.field, info.value.code) == ("quantity", "out_of_range")
    assert Xdr.objects.count() == 0
