"""Volume discount plans in the one charge path (issue 13, CU-13 Discounts and Quotas &
Service Wallets tabs; rating-and-tabs.md §2, §7.3, §7.4): quotas, wallets and discounts
applied to rated usage by ``charge`` and ``charge_many`` alike, what each took recorded,
counters moved in the charge's transaction, wallets in the ledger, ``/authorize`` counting
quota seconds and wallet money first. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import multiprocessing
from decimal import Decimal
from typing import Any

import pytest
from django.db import connections

from billcore.accounts.models import User
from billcore.charging.models import Xdr
from billcore.charging.services import (
    ChargeRequest,
    authorize,
    charge,
    charge_many,
    parse_usage,
)
from billcore.customers.models import Customer
from billcore.errors import ValidationFailed
from billcore.ledger.customers import create_customer
from billcore.ledger.models import Transaction, Wallet, WalletEntry
from billcore.ledger.wallets import top_up_wallet
from billcore.plans.models import (
    DiscountPlan,
    PlanAssignment,
    PlanBand,
    PlanCounter,
    PlanRule,
    XdrPart,
)
from billcore.rating import services as rating
from billcore.subscribers.services import create_account
from tests.support import ledger_sum

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
NOW = T0 + dt.timedelta(days=2)
EFFECTIVE = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
D = Decimal


@pytest.fixture
def cat(world: dict[str, Any]) -> dict[str, Any]:
    """Per-second voice to 44 (UK) at $0.10/min and to 1 (US) at $0.05/min; a prepaid
    customer with $100 and one account on product Home; destination groups UK and US."""
    admin = world["admin"]
    tariff = rating.create_tariff(
        actor=admin, now=T0, data={"name": "Retail", "currency": "USD", "service": "voice"}
    )
    for prefix, price in (("44", "0.10"), ("1", "0.05")):
        rating.create_rate(
            actor=admin,
            now=T0,
            tariff_id=tariff.pk,
            data={
                "prefix": prefix,
                "price_first": price,
                "price_next": price,
                "effective_from": EFFECTIVE,
            },
        )
    home = rating.create_product(actor=admin, now=T0, data={"name": "Home", "currency": "USD"})
    rating.create_entry(
        actor=admin, now=T0, product_id=home.pk, data={"service": "voice", "tariff": tariff.pk}
    )
    groups = {}
    for name, prefix in (("UK", "44"), ("US", "1")):
        rating.create_destination(actor=admin, now=T0, data={"prefix": prefix})
        groups[name] = rating.create_destination_group(
            actor=admin, now=T0, data={"name": name, "prefixes": [prefix]}
        )
    customer = create_customer(
        actor=admin,
        now=T0,
        data={
            "name": "Pia",
            "currency": "USD",
            "balance_control": "prepaid",
            "available_funds": "100",
            "customer_class": world["classes"]["usd"].pk,
        },
    )
    account = create_account(
        actor=admin, now=T0, customer_id=customer.pk, data={"identifier": "+100"}
    )
    rating.set_account_products(
        actor=admin, now=T0, account_id=account.pk, product=home.pk, addons=[]
    )
    return {
        "admin": admin,
        "home": home,
        "groups": groups,
        "customer": customer,
        "account": account,
    }


def plan(
    cat: dict[str, Any],
    kind: str,
    *,
    group: str | None = "UK",
    bands: list[tuple[int | str, int]] = (),  # type: ignore[assignment]
    on: str = "product",
    name: str | None = None,
    **rule: Any,
) -> PlanRule:
    """A plan of one rule, assigned (from T0) to the product Home, the account or the
    customer."""
    p = DiscountPlan.objects.create(
        name=name or f"{kind}-{DiscountPlan.objects.count()}",
        currency_id="USD",
        draft=False,
        created_at=T0,
        updated_at=T0,
    )
    r = PlanRule.objects.create(
        plan=p,
        kind=kind,
        service_id="voice",
        destination_group=cat["groups"][group] if group else None,
        created_at=T0,
        updated_at=T0,
        **rule,
    )
    for threshold, percent in bands:
        PlanBand.objects.create(rule=r, threshold=D(threshold), percent=D(percent))
    target = {
        "product": {"product": cat["home"]},
        "account": {"account": cat["account"]},
        "customer": {"customer": cat["customer"]},
    }[on]
    PlanAssignment.objects.create(plan=p, valid_from=T0, created_at=T0, **target)
    return r


def usage(
    seconds: int, *, cld: str = "44 20 7946 0000", key: str | None = None, at: Any = None
) -> Any:
    return parse_usage(
        service="voice",
        cld=cld,
        quantity=str(seconds),
        started_at=at or NOW - dt.timedelta(hours=1),
        external_id=key,
        now=NOW,
    )


def run(cat: dict[str, Any], seconds: int, **kw: Any) -> Any:
    return charge(
        actor=cat["admin"], now=NOW, account_id=cat["account"].pk, usage=usage(seconds, **kw)
    )


def balance(cat: dict[str, Any]) -> Decimal:
    return Customer.objects.get(pk=cat["customer"].pk).balance


def parts(xdr_id: int) -> list[tuple[str, Decimal, Decimal, Decimal]]:
    return [
        (p.kind, p.units, p.amount, p.percent)
        for p in XdrPart.objects.filter(xdr_id=xdr_id).exclude(kind="count").order_by("position")
    ]


# --- §2.2: the 8-minute call across the last 2 free minutes costs 0.60, split or not --------


@pytest.mark.parametrize("split", [True, False])
def test_quota_last_two_free_minutes_then_0_60(cat: dict[str, Any], split: bool) -> None:
    rule = plan(cat, "quota", volume=D(6000), split_xdrs=split)
    first = run(cat, 98 * 60, key="a")
    assert (first.allowed, first.amount) == (True, D("0.00000"))
    before = balance(cat)
    second = run(cat, 8 * 60, key="b")
    assert (second.allowed, second.amount) == (True, D("0.60000"))
    assert balance(cat) - before == D("0.60000")
    if split:
        assert parts(second.xdr_id) == [
            ("quota", D(120), D("0.00000"), D(100)),
            ("main", D(360), D("0.60000"), D(0)),
        ]
    else:
        assert [p[:2] for p in parts(second.xdr_id)] == [("quota", D(120)), ("main", D(360))]
        assert XdrPart.objects.filter(xdr_id=second.xdr_id, split=True).count() == 0
    counter = PlanCounter.objects.get(rule=rule)
    assert (counter.volume, counter.used) == (D(6000), D(6000))
    # The quota is used up: the next call is charged as usual (on_exhausted "charge").
    third = run(cat, 60, key="c")
    assert third.amount == D("0.10000")
    assert ledger_sum(customer_id=cat["customer"].pk) == balance(cat)


# --- §2.2: the 395 -> 405-minute crossing costs 0.475 -----------------------------------------


@pytest.mark.parametrize("split", [True, False])
def test_discount_band_crossed_395_to_405_minutes(cat: dict[str, Any], split: bool) -> None:
    rule = plan(
        cat,
        "discount",
        group="US",
        bands=[(0, 0), (400 * 60, 10), (1100 * 60, 20)],
        split_xdrs=split,
    )
    first = run(cat, 395 * 60, cld="1 212 555 0100", key="a")
    assert first.amount == D("19.75000")
    second = run(cat, 600, cld="1 212 555 0100", key="b")
    assert second.amount == D("0.47500")
    assert PlanCounter.objects.get(rule=rule).used == D(405 * 60)
    assert [(k, u, a) for k, u, a, _ in parts(second.xdr_id)] == [
        ("main", D(300), D("0.25000")),
        ("main", D(300), D("0.22500")),
    ]
    # A UK call is not in the rule's destination group: standard price, no counter move.
    uk = run(cat, 60, key="c")
    assert uk.amount == D("0.10000")
    assert PlanCounter.objects.get(rule=rule).used == D(405 * 60)


# --- precedence ---------------------------------------------------------------------------


def test_account_discount_wins_over_product_and_customer_discount_applies_on_top(
    cat: dict[str, Any],
) -> None:
    plan(cat, "discount", bands=[(0, 10)], on="product")
    plan(cat, "discount", bands=[(0, 50)], on="account")
    plan(cat, "discount", bands=[(0, 20)], on="customer")
    result = run(cat, 600)  # $1.00 standard
    assert result.amount == D("0.40000")  # 1.00 x (1 - 50 %) x (1 - 20 %)


def test_quotas_consumed_account_first_then_product_then_customer(cat: dict[str, Any]) -> None:
    on_product = plan(cat, "quota", volume=D(100), on="product")
    on_account = plan(cat, "quota", volume=D(60), on="account")
    on_customer = plan(cat, "quota", volume=D(1000), on="customer")
    result = run(cat, 200)
    assert result.amount == D("0.00000")
    used = {r: PlanCounter.objects.get(rule=r).used for r in (on_product, on_account, on_customer)}
    assert used == {on_account: D(60), on_product: D(100), on_customer: D(40)}


def test_a_draft_plan_does_not_apply(cat: dict[str, Any]) -> None:
    rule = plan(cat, "quota", volume=D(6000))
    DiscountPlan.objects.filter(pk=rule.plan_id).update(draft=True)
    assert run(cat, 60).amount == D("0.10000")


# --- wallets -------------------------------------------------------------------------------


def test_wallet_running_dry_mid_call(cat: dict[str, Any]) -> None:
    plan(cat, "wallet", measure="money", initial_volume=D("0.50"), split_xdrs=True)
    before = balance(cat)
    result = run(cat, 720)  # $1.20
    assert result.amount == D("0.70000")
    assert balance(cat) - before == D("0.70000")
    wallet = Wallet.objects.get()
    assert wallet.balance == D(0)
    assert [(e.kind, e.amount) for e in wallet.entries.order_by("id")] == [
        ("initial", D("0.50000")),
        ("usage", D("-0.50000")),
    ]
    assert sum(e.amount for e in wallet.entries.all()) == wallet.balance
    assert [(k, u, a) for k, u, a, _ in parts(result.xdr_id)] == [
        ("wallet", D(300), D("0.50000")),
        ("main", D(420), D("0.70000")),
    ]
    assert ledger_sum(customer_id=cat["customer"].pk) == balance(cat)


def test_quota_then_wallet_then_discounted_price(cat: dict[str, Any]) -> None:
    plan(cat, "quota", volume=D(300))
    plan(cat, "wallet", measure="money", initial_volume=D("0.20"))
    plan(cat, "discount", bands=[(0, 50)], on="account")
    result = run(cat, 900)
    assert result.amount == D("0.40000")  # 300 s free, 120 s from $0.20, 480 s at 50 %
    assert Wallet.objects.get().balance == D(0)


def test_top_up_from_the_balance_is_a_transfer(cat: dict[str, Any]) -> None:
    plan(cat, "wallet", measure="money", initial_volume=D(0))
    run(cat, 60)  # opens the wallet (empty): charged to the balance
    wallet = Wallet.objects.get()
    before = balance(cat)
    entry = top_up_wallet(
        actor=cat["admin"], now=NOW, wallet_id=wallet.pk, amount="5", source="balance"
    )
    assert entry.transaction is not None
    tx = Transaction.objects.get(pk=entry.transaction_id)
    assert (tx.action, tx.amount) == ("transfer", D(5))
    assert balance(cat) - before == D(5)
    assert Wallet.objects.get().balance == D(5)
    assert ledger_sum(customer_id=cat["customer"].pk) == balance(cat)
    # card and credit: the wallet only; the balance does not move
    top_up_wallet(actor=cat["admin"], now=NOW, wallet_id=wallet.pk, amount="2", source="card")
    top_up_wallet(actor=cat["admin"], now=NOW, wallet_id=wallet.pk, amount="1", source="credit")
    assert balance(cat) - before == D(5)
    wallet.refresh_from_db()
    assert wallet.balance == D(8) == sum(e.amount for e in wallet.entries.all())
    # more than the funds available: refused naming the field, nothing changed
    with pytest.raises(ValidationFailed) as err:
        top_up_wallet(
            actor=cat["admin"], now=NOW, wallet_id=wallet.pk, amount="1000", source="balance"
        )
    assert err.value.field == "amount"
    assert Wallet.objects.get().balance == D(8)
    assert WalletEntry.objects.count() == 3


def test_plans_top_up_checks_the_rules_sources(cat: dict[str, Any]) -> None:
    from billcore.plans.wallets import top_up

    rule = plan(cat, "wallet", measure="money", initial_volume=D(1), topup_card=False)
    run(cat, 60)  # opens the wallet, which pays the call
    wallet = Wallet.objects.get()
    assert wallet.balance == D("0.90000")
    aid = cat["account"].pk

    def up(amount: str, source: str) -> Any:
        data = {"amount": amount, "source": source}
        return top_up(actor=cat["admin"], now=NOW, rule_id=rule.pk, data=data, account_id=aid)

    with pytest.raises(ValidationFailed) as err:
        up("2", "card")
    assert err.value.field == "source"
    assert WalletEntry.objects.filter(wallet=wallet).count() == 2  # initial, usage: no top-up
    up("2", "credit")
    assert Wallet.objects.get().balance == D("2.90000")
    with pytest.raises(ValidationFailed) as err:
        up("-2", "credit")
    assert err.value.field == "amount"
    assert Wallet.objects.get().balance == D("2.90000")


# --- the batch path is the single path ------------------------------------------------------


def test_charge_many_equals_charge_one_by_one(cat: dict[str, Any], world: Any) -> None:
    quota = plan(cat, "quota", volume=D(6000), split_xdrs=True)
    discount = plan(cat, "discount", group="US", bands=[(0, 0), (24000, 10)], on="account")
    records = [(98 * 60, "44 1"), (8 * 60, "44 2"), (395 * 60, "1 3"), (600, "1 4"), (60, "44 5")]
    requests = [
        ChargeRequest(usage=usage(s, cld=c, key=f"k{i}"), now=NOW, account_id=cat["account"].pk)
        for i, (s, c) in enumerate(records)
    ]
    batch = charge_many(actor=cat["admin"], requests=requests)
    amounts = [r.amount for r in batch]  # type: ignore[union-attr]
    assert amounts == [D("0"), D("0.6"), D("19.75"), D("0.475"), D("0.1")]
    batch_parts = [parts(r.xdr_id) for r in batch]  # type: ignore[union-attr]
    counters = {
        quota.pk: PlanCounter.objects.get(rule=quota).used,
        discount.pk: PlanCounter.objects.get(rule=discount).used,
    }
    # the same records one by one, on a second account of the same shape
    other = create_account(
        actor=cat["admin"], now=T0, customer_id=cat["customer"].pk, data={"identifier": "+200"}
    )
    rating.set_account_products(
        actor=cat["admin"], now=T0, account_id=other.pk, product=cat["home"].pk, addons=[]
    )
    PlanAssignment.objects.create(
        plan_id=discount.plan_id, account=other, valid_from=T0, created_at=T0
    )
    single = [
        charge(actor=cat["admin"], now=NOW, account_id=other.pk, usage=usage(s, cld=c))
        for s, c in records
    ]
    assert [r.amount for r in single] == amounts
    assert [parts(r.xdr_id) for r in single] == batch_parts
    assert PlanCounter.objects.get(rule=quota, account=other).used == counters[quota.pk]
    assert PlanCounter.objects.get(rule=discount, account=other).used == counters[discount.pk]


# --- re-rating replays the counters in session start order ----------------------------------


def test_rerating_replays_the_quota_in_start_order(cat: dict[str, Any]) -> None:
    from billcore.charging.rerating import rerate

    rule = plan(cat, "quota", volume=D(6000), split_xdrs=True)
    early = NOW - dt.timedelta(hours=5)
    late = NOW - dt.timedelta(hours=1)
    b = run(cat, 8 * 60, key="b", at=late)  # arrives first: free
    a = run(cat, 98 * 60, key="a", at=early)  # 5,520 s free, 360 s charged
    assert (b.amount, a.amount) == (D(0), D("0.60000"))
    before = balance(cat)
    summary = rerate(actor=cat["admin"], now=NOW, customer_id=cat["customer"].pk)
    assert summary.changed == 2
    assert Xdr.objects.get(pk=a.xdr_id).amount == D(0)  # the earlier call: all free
    assert Xdr.objects.get(pk=b.xdr_id).amount == D("0.60000")  # 120 s free, 360 s charged
    assert parts(b.xdr_id) == [
        ("quota", D(120), D("0.00000"), D(100)),
        ("main", D(360), D("0.60000"), D(0)),
    ]
    assert PlanCounter.objects.get(rule=rule).used == D(6000)
    assert balance(cat) == before
    assert ledger_sum(customer_id=cat["customer"].pk) == balance(cat)
    again = rerate(actor=cat["admin"], now=NOW, customer_id=cat["customer"].pk)
    assert again.changed == 0
    assert PlanCounter.objects.get(rule=rule).used == D(6000)


# --- authorize --------------------------------------------------------------------------------


def _authorize(cat: dict[str, Any], cld: str = "44 20 7946 0000") -> Any:
    return authorize(actor=cat["admin"], now=NOW, account_id=cat["account"].pk, cld=cld)


def _empty_funds(cat: dict[str, Any]) -> None:
    run(cat, 60000, cld="1 999")  # $50: spend the $100 down to 0
    run(cat, 60000, cld="1 998")
    assert balance(cat) == D(0)


def test_authorize_counts_quota_seconds_and_wallet_money_first(cat: dict[str, Any]) -> None:
    _empty_funds(cat)
    assert _authorize(cat).reason == "insufficient_funds"
    plan(cat, "quota", volume=D(120))
    answer = _authorize(cat)
    assert (answer.allowed, answer.max_duration) == (True, 120)
    plan(cat, "wallet", measure="money", initial_volume=D("0.50"))
    assert _authorize(cat).max_duration == 420  # 120 s free + $0.50 at $0.10/min


def test_authorize_block_and_limit_speed_when_the_quota_is_used_up(cat: dict[str, Any]) -> None:
    plan(cat, "quota", volume=D(60), on_exhausted="block")
    assert _authorize(cat).allowed is True
    run(cat, 60)
    answer = _authorize(cat)
    assert (answer.allowed, answer.reason) == (False, "quota_exhausted")
    limited = plan(
        cat, "quota", group="US", volume=D(60), on_exhausted="limit_speed", speed_policy="256k"
    )
    run(cat, 60, cld="1 212")
    answer = _authorize(cat, "1 212")
    assert (answer.allowed, answer.policy) == (True, "256k")
    assert PlanCounter.objects.get(rule=limited).used == D(60)


# --- concurrency: N processes charging against one quota never exceed it ----------------------

PROCESSES = 4
PER_PROCESS = 10


def _worker(args: tuple[int, int, int]) -> list[str]:
    account_id, admin_id, n = args
    connections.close_all()
    admin = User.objects.get(pk=admin_id)
    errors: list[str] = []
    for i in range(PER_PROCESS):
        try:
            u = parse_usage(
                service="voice",
                cld="44 1",
                quantity="60",
                started_at=NOW - dt.timedelta(hours=1),
                external_id=f"c{n}-{i}",
                now=NOW,
            )
            charge(actor=admin, now=NOW, account_id=account_id, usage=u)
        except Exception as exc:  # every error is a failure of the test
            errors.append(repr(exc))
    connections.close_all()
    return errors


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_charges_never_exceed_the_quota(world: dict[str, Any]) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("processes sharing one database: PostgreSQL")
    cat_ = cat.__wrapped__(world)  # type: ignore[attr-defined]
    rule = plan(cat_, "quota", volume=D(25 * 60))
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(PROCESSES) as pool:
        results = pool.map(
            _worker, [(cat_["account"].pk, world["admin"].pk, n) for n in range(PROCESSES)]
        )
    assert [e for errs in results for e in errs] == []
    assert PlanCounter.objects.get(rule=rule).used == D(25 * 60)
    free = XdrPart.objects.filter(kind="quota").count()
    assert free == 25
    assert Xdr.objects.filter(amount=D("0.10")).count() == 40 - 25
    customer = Customer.objects.get(pk=cat_["customer"].pk)
    assert customer.balance == ledger_sum(customer_id=customer.pk)


def test_the_invoice_lists_wallet_paid_usage_and_does_not_bill_it(admin: Any) -> None:
    """Golden scenario 08 played, then its invoice's document: the wallet's 1.00 listed with
    the wallet named, the invoice's total the balance's usage only (0.70)."""
    from pathlib import Path

    from billcore.invoicing.documents import invoice_context, invoice_html
    from billcore.invoicing.models import Invoice
    from tests.integration.golden import load, play

    path = Path(__file__).parent.parent / "golden/rating/08_wallet_runs_dry_mid_call.yaml"
    play(load(path), admin=admin)
    invoice = Invoice.objects.get()
    assert invoice.total == D("0.70")
    context = invoice_context(invoice)
    assert context["wallet_usage"] == [
        {"wallet": "ukwallet: voice", "records": 2, "amount": "1.00"}
    ]
    assert "Paid from service wallets" in invoice_html(invoice)
