"""``charge_many`` (the batch path of the CSV import and ``POST /xdrs/batch``) gives exactly
what ``charge`` gives line by line: on the same random requests, run once each way (and
rolled back in between), the results, the xDRs, the ledger rows, the balances, the fraud
alerts and the reservations are equal, value for value. The requests mix every denial
(status, blocked, limits, funds, fraud block and notify), expiring reservations, bad and
foreign targets, ``external_id``s repeated inside one batch and taken from earlier imports,
and reused with different content. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction

from billcore.charging.models import FraudAlert, Reservation, Xdr
from billcore.charging.services import (
    ChargeRequest,
    ChargeResult,
    charge,
    charge_many,
    parse_usage,
    reserve,
)
from billcore.classes.services import create_class
from billcore.customers.models import Customer
from billcore.errors import BillcoreError
from billcore.invoicing.settling import record_transaction
from billcore.ledger.customers import create_customer
from billcore.ledger.models import Transaction
from billcore.subscribers.models import Account
from billcore.subscribers.services import create_account

pytestmark = pytest.mark.django_db

AMOUNTS = ["0", "0.5", "1", "2.5", "3", "7.12345", "0.00001", "12"]


class _Undo(Exception):
    pass


def _people(world: dict[str, Any], now: dt.datetime) -> dict[str, list[int]]:
    """Customers and accounts of every kind a decision tells apart; their ids."""
    admin = world["admin"]
    notify = create_class(
        actor=admin,
        now=now,
        data={"name": "Notify", "currency": "USD", "fraud_daily_limit": "3"},
    )
    block = create_class(
        actor=admin,
        now=now,
        data={
            "name": "Block",
            "currency": "USD",
            "fraud_daily_limit": "8",
            "fraud_action": "block",
        },
    )
    default = world["classes"]["usd"].pk

    def customer(name: str, control: str, cls: int = default, **data: Any) -> Customer:
        return create_customer(
            actor=admin,
            now=now,
            data={
                "name": name,
                "currency": "USD",
                "balance_control": control,
                "customer_class": cls,
                **data,
            },
        )

    def account(c: Customer, identifier: str, **data: Any) -> Account:
        return create_account(
            actor=admin, now=now, customer_id=c.pk, data={"identifier": identifier, **data}
        )

    p1 = customer("Prepaid", "prepaid", available_funds="20")
    debit = account(p1, "+1000001", account_type="debit")
    record_transaction(
        actor=admin,
        now=now,
        customer_id=p1.pk,
        action="Manual payment",
        amount="5",
        account_id=debit.pk,
    )
    limited = account(p1, "+1000002", credit_limit="4")
    plain = account(p1, "+1000003")
    p2 = customer(
        "Postpaid temp",
        "postpaid",
        credit_limit="30",
        temp_credit_limit="40",
        credit_limit_until=(now + dt.timedelta(hours=3)).isoformat(),
    )
    p2a = account(p2, "+1000004")
    p3 = customer("Notify NY", "postpaid", notify.pk, time_zone="America/New_York")
    p3a = account(p3, "+1000005")
    p3b = account(p3, "+1000006")
    Account.objects.filter(pk=p3b.pk).update(blocked=True)
    p4 = customer("Block Tokyo", "prepaid", block.pk, available_funds="50", time_zone="Asia/Tokyo")
    p4a = account(p4, "+1000007")
    p5 = customer("Blocked", "prepaid", available_funds="10")
    Customer.objects.filter(pk=p5.pk).update(blocked=True)
    p6 = customer("Suspended", "postpaid")
    Customer.objects.filter(pk=p6.pk).update(status="suspended")
    p7 = customer(
        "Held", "prepaid", available_funds="6", fraud_daily_limit="9", fraud_action="notify"
    )
    p7a = account(p7, "+1000008")
    reserve(
        actor=admin,
        now=now,
        customer_id=p7.pk,
        service="voice",
        amount="4",
        seconds=1800,
    )
    reserve(actor=admin, now=now, account_id=p7a.pk, service="data", amount="1", seconds=7200)
    ra = create_customer(
        actor=world["ua"],
        now=now,
        data={
            "name": "A sub",
            "currency": "USD",
            "balance_control": "postpaid",
            "credit_limit": "15",
            "customer_class": world["classes"]["a"].pk,
        },
    )
    raa = create_account(
        actor=world["ua"], now=now, customer_id=ra.pk, data={"identifier": "+2000001"}
    )
    return {
        "customers": [c.pk for c in (p1, p2, p3, p4, p5, p6, p7, ra)],
        "accounts": [a.pk for a in (debit, limited, plain, p2a, p3a, p3b, p4a, p7a, raa)],
    }


def _requests(
    rng: random.Random, ids: dict[str, list[int]], now: dt.datetime, n: int
) -> list[ChargeRequest]:
    customers, accounts = ids["customers"], ids["accounts"]
    owner = dict(Account.objects.values_list("id", "customer_id"))
    keys = [f"k-{i}" for i in range(n)] + [f"old-{i}" for i in range(4)]
    out: list[ChargeRequest] = []
    at = now
    for _ in range(n):
        at += dt.timedelta(minutes=rng.choice([0, 0, 1, 7, 45, 240]))
        if out and rng.random() < 0.12:
            # The same record sent again (a retry, a file imported twice).
            again = rng.choice(out)
            out.append(
                ChargeRequest(
                    usage=again.usage,
                    now=at,
                    account_id=again.account_id,
                    customer_id=again.customer_id,
                )
            )
            continue
        kind = rng.random()
        account_id: Any = None
        customer_id: Any = None
        if kind < 0.55:
            account_id = rng.choice(accounts)
        elif kind < 0.8:
            customer_id = rng.choice(customers)
        elif kind < 0.87:
            account_id = rng.choice(accounts)
            customer_id = owner[account_id] if rng.random() < 0.5 else rng.choice(customers)
        elif kind < 0.91:
            account_id = 10**9
        elif kind < 0.94:
            customer_id = 10**9
        elif kind < 0.97:
            account_id = rng.choice(["abc", 0, "-3"])
        else:
            pass  # neither: "account or customer is required"
        key = rng.choice(keys) if rng.random() < 0.9 else None
        usage = parse_usage(
            service="voice" if rng.random() < 0.9 else "data",
            amount=rng.choice(AMOUNTS),
            quantity=str(rng.randrange(1, 600)),
            unit="s",
            started_at=at - dt.timedelta(seconds=rng.randrange(3600)),
            details={"cli": f"+1{rng.randrange(10**6)}", "n": rng.randrange(9)},
            external_id=key,
            now=at,
        )
        out.append(
            ChargeRequest(usage=usage, now=at, account_id=account_id, customer_id=customer_id)
        )
    return out


def _snapshot() -> dict[str, Any]:
    xdr_ids = list(Xdr.objects.order_by("pk").values_list("pk", flat=True))
    return {
        "xdr_ids": xdr_ids,
        "customers": list(
            Customer.objects.order_by("pk").values_list(
                "pk", "balance", "reserved", "fraud_day", "fraud_day_spent"
            )
        ),
        "accounts": list(Account.objects.order_by("pk").values_list("pk", "balance", "reserved")),
        "xdrs": list(
            Xdr.objects.order_by("pk").values_list(
                "customer_id",
                "account_id",
                "service",
                "quantity",
                "unit",
                "amount",
                "started_at",
                "details",
                "external_id",
                "status",
                "deny_reason",
                "created_at",
                "transaction__customer_id",
                "transaction__account_id",
                "transaction__amount",
                "transaction__balance_after",
                "transaction__account_amount",
                "transaction__internal_comment",
                "transaction__actor_id",
                "transaction__created_at",
            )
        ),
        "ledger": list(
            Transaction.objects.order_by("pk").values_list(
                "customer_id",
                "action",
                "amount",
                "balance_after",
                "account_id",
                "account_amount",
                "internal_comment",
                "actor_id",
                "created_at",
                "xdr__external_id",
            )
        ),
        "alerts": sorted(
            FraudAlert.objects.values_list("customer_id", "day", "daily_limit", "spent", "at")
        ),
        "reservations": list(
            Reservation.objects.order_by("pk").values_list("pk", "status", "closed_at")
        ),
    }


def _normal(results: list[ChargeResult | BillcoreError], xdr_ids: list[int]) -> list[Any]:
    """Results with each xDR id replaced by its position (ids differ between the runs)."""
    out: list[Any] = []
    for r in results:
        if isinstance(r, BillcoreError):
            out.append((type(r).__name__, r.code, r.message, r.field))
        else:
            position = xdr_ids.index(r.xdr_id) if r.xdr_id is not None else None
            out.append(
                (
                    r.allowed,
                    r.reason,
                    r.message,
                    position,
                    r.amount,
                    r.balance,
                    r.available_funds,
                    r.replayed,
                )
            )
    return out


def _run(
    work: Callable[[], list[ChargeResult | BillcoreError]],
) -> tuple[list[Any], dict[str, Any]]:
    """``work``'s results and the database it leaves, then everything rolled back."""
    box: dict[str, Any] = {}
    try:
        with transaction.atomic():
            results = work()
            box["state"] = _snapshot()
            box["results"] = _normal(results, box["state"]["xdr_ids"])
            raise _Undo
    except _Undo:
        pass
    box["state"].pop("xdr_ids")
    return box["results"], box["state"]


def _one_by_one(actor: Any, requests: list[ChargeRequest]) -> list[ChargeResult | BillcoreError]:
    out: list[ChargeResult | BillcoreError] = []
    for r in requests:
        try:
            out.append(
                charge(
                    actor=actor,
                    now=r.now,
                    account_id=r.account_id,
                    customer_id=r.customer_id,
                    usage=r.usage,
                )
            )
        except BillcoreError as exc:
            out.append(exc)
    return out


def _in_batches(
    actor: Any, requests: list[ChargeRequest], rng: random.Random
) -> list[ChargeResult | BillcoreError]:
    out: list[ChargeResult | BillcoreError] = []
    start = 0
    while start < len(requests):
        size = rng.choice([1, 2, 7, 40, 1000])
        out += charge_many(actor=actor, requests=requests[start : start + size])
        start += size
    return out


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("who", ["admin", "ua"])
def test_charge_many_equals_charging_one_by_one(
    world: dict[str, Any], now: dt.datetime, seed: int, who: str
) -> None:
    ids = _people(world, now)
    actor = world[who]
    rng = random.Random(seed)
    # An earlier import: keys that the requests below use again.
    earlier = _requests(random.Random(1000 + seed), ids, now - dt.timedelta(days=1), 12)
    for i, r in enumerate(earlier):
        object.__setattr__(r.usage, "external_id", f"old-{i % 4}")
    _one_by_one(world["admin"], earlier)
    requests = _requests(rng, ids, now, 240)

    expected, expected_state = _run(lambda: _one_by_one(actor, requests))
    got, got_state = _run(lambda: _in_batches(actor, requests, rng))

    assert got == expected
    assert got_state == expected_state
    kinds = {(r[0], r[1]) if len(r) == 4 else (r[0], r[1], r[7]) for r in expected}
    if who != "admin":  # a reseller's user sees one customer: mostly "not found"
        assert (True, "", False) in kinds
        return
    # The requests did exercise what they are meant to.
    assert ("Conflict", "idempotency_key_reused") in kinds
    assert ("NotFound", "not_found") in kinds
    assert (True, "", True) in kinds
    assert (True, "", False) in kinds
    assert len({k[1] for k in kinds if k[0] is False}) >= 5  # denials of several kinds
    assert expected_state["alerts"]  # fraud protection notified
    assert ("expired",) in {(r[1],) for r in expected_state["reservations"]}  # swept


def test_an_empty_batch_and_a_batch_of_errors_change_nothing(
    world: dict[str, Any], now: dt.datetime
) -> None:
    usage = parse_usage(service="voice", amount="1", external_id="e-1", now=now)
    assert charge_many(actor=world["admin"], requests=[]) == []
    (only,) = charge_many(
        actor=world["admin"], requests=[ChargeRequest(usage=usage, now=now, account_id=10**9)]
    )
    assert isinstance(only, BillcoreError)
    assert (only.code, only.message, only.field) == (
        "not_found",
        f"account {10**9} not found",
        "account",
    )
    assert Xdr.objects.count() == 0


def test_repeats_inside_one_batch_charge_once_and_denials_are_kept(
    world: dict[str, Any], now: dt.datetime
) -> None:
    admin = world["admin"]
    c = create_customer(
        actor=admin,
        now=now,
        data={
            "name": "Small",
            "currency": "USD",
            "balance_control": "prepaid",
            "customer_class": world["classes"]["usd"].pk,
            "available_funds": "3",
        },
    )

    def req(amount: str, key: str) -> ChargeRequest:
        usage = parse_usage(service="voice", amount=amount, external_id=key, now=now)
        return ChargeRequest(usage=usage, now=now, customer_id=c.pk)

    results = charge_many(
        actor=admin,
        requests=[req("2", "a"), req("2", "a"), req("2", "b"), req("1", "c"), req("5", "a")],
    )

    summary = [
        (r.allowed, r.reason, r.balance, r.replayed) if isinstance(r, ChargeResult) else (r.code,)
        for r in results
    ]
    assert summary == [
        (True, "", Decimal("-1.00000"), False),
        (True, "", Decimal("-1.00000"), True),
        (False, "insufficient_funds", Decimal("-1.00000"), False),
        (True, "", Decimal("0.00000"), False),
        ("idempotency_key_reused",),
    ]
    a, a_again = results[0], results[1]
    assert isinstance(a, ChargeResult) and isinstance(a_again, ChargeResult)
    assert a.xdr_id == a_again.xdr_id is not None
    ledger: list[Any] = list(
        Transaction.objects.filter(customer=c, action="usage")
        .order_by("pk")
        .values_list("amount", "balance_after", "xdr__external_id")
    )
    assert ledger == [
        (Decimal("2.00000"), Decimal("-1.00000"), "a"),
        (Decimal("1.00000"), Decimal("0"), "c"),
    ]
    assert Customer.objects.get(pk=c.pk).balance == Decimal(0)
    assert list(Xdr.objects.order_by("pk").values_list("external_id", "status")) == [
        ("a", "charged"),
        ("b", "denied"),
        ("c", "charged"),
    ]
