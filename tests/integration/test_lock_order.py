"""The lock order of ``billcore.locks`` on PostgreSQL: writers that touch a customer (without
a reseller), its accounts and its reservations take their row locks customers first, then
accounts, then reservations; each ``FOR UPDATE`` locks only its own table (never through a
join) and a multi-row lock names its order. Then the same writers run concurrently on one
customer and two accounts: none waits in a circle (PostgreSQL would report a deadlock), and
the ledger still sums to every balance.

SQLite has no row locks (the IMMEDIATE transaction holds the database's one write lock), so
these tests run on PostgreSQL only."""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billcore.charging.models import Reservation
from billcore.charging.services import (
    ChargeRequest,
    charge,
    charge_many,
    commit_reservation,
    expire_reservations,
    parse_usage,
    release_reservation,
    reserve,
)
from billcore.classes.services import create_class
from billcore.customers import lifecycle
from billcore.customers.models import Customer
from billcore.ledger.customers import create_customer
from billcore.ledger.models import Transaction
from billcore.ledger.services import post_transaction
from billcore.ledger.transfers import transfer
from billcore.locks import LOCK_ORDER
from billcore.subscribers.models import Account
from billcore.subscribers.services import create_account, update_account
from tests.support import ledger_sum

# Each locked table and its stage (1-based), from the order ``billcore.locks`` states.
STAGES = {
    apps.get_model(label)._meta.db_table: stage
    for stage, labels in enumerate(LOCK_ORDER, 1)
    for label in labels
}
_LOCKED = re.compile(r"FOR UPDATE(?: SKIP LOCKED)?(?: OF (.+?))?(?: SKIP LOCKED)?\s*$")
_UPDATED = re.compile(r'^\s*UPDATE\s+"?(\w+)"?')
_FROM = re.compile(r'\bFROM\s+"?(\w+)"?')


@pytest.fixture
def postgres(db: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL only")


def _stages(sqls: list[str]) -> list[tuple[int, str]]:
    """The stage of each table in the order the statements first lock a row of it (a
    ``SELECT … FOR UPDATE`` or an ``UPDATE``), checking each lock on the way."""
    first: list[tuple[int, str]] = []
    seen: set[str] = set()
    for sql in sqls:
        table = None
        locked = _LOCKED.search(sql)
        if locked and sql.lstrip().upper().startswith("SELECT"):
            of = locked.group(1)
            assert of is not None, f"FOR UPDATE without OF (locks every joined table): {sql}"
            tables = [t.strip().strip('"') for t in of.split(",")]
            assert len(tables) == 1, f"one table per lock: {sql}"
            table = tables[0]
            head = _FROM.search(sql)
            assert head is not None and head.group(1) == table, f"locks a joined table: {sql}"
            if " IN (" in sql or "unnest" in sql:
                assert "ORDER BY" in sql, f"a multi-row lock without its order: {sql}"
        else:
            updated = _UPDATED.search(sql)
            if updated:
                table = updated.group(1)
        if table in STAGES and table not in seen:
            seen.add(table)
            first.append((STAGES[table], table))
    return first


def _assert_in_order(run: Callable[[], Any]) -> list[tuple[int, str]]:
    with CaptureQueriesContext(connection) as queries:
        run()
    stages = _stages([q["sql"] for q in queries.captured_queries])
    assert [s for s, _ in stages] == sorted(s for s, _ in stages), stages
    return stages


def _usage(now: dt.datetime, amount: str) -> Any:
    return parse_usage(service="voice", amount=amount, quantity="60", unit="s", now=now)


def _world(admin: Any, now: dt.datetime) -> tuple[Customer, Account, Account]:
    cls = create_class(actor=admin, now=now, data={"name": "Locks", "s2s_transfers_allowed": True})
    customer = create_customer(
        actor=admin,
        now=now,
        data={
            "name": "Locked",
            "currency": "USD",
            "balance_control": "prepaid",
            "available_funds": "1000",
            "customer_class": cls.pk,
        },
    )
    assert customer.reseller_id is None
    accounts = [
        create_account(
            actor=admin,
            now=now,
            customer_id=customer.pk,
            data={"identifier": f"+42060000000{n}", "account_type": "debit"},
        )
        for n in (1, 2)
    ]
    for account in accounts:
        post_transaction(
            actor=admin,
            now=now,
            customer_id=customer.pk,
            action="Manual payment",
            amount="100",
            account_id=account.pk,
        )
    return customer, accounts[0], accounts[1]


def test_every_writer_locks_customers_then_accounts_then_reservations(postgres, admin, now):
    customer, a1, a2 = _world(admin, now)
    cid = customer.pk
    one = dt.timedelta(seconds=1)
    both = [(1, Customer._meta.db_table), (2, Account._meta.db_table)]

    def charge_account() -> Any:
        return charge(actor=admin, now=now, account_id=a2.pk, usage=_usage(now, "1"))

    assert _assert_in_order(charge_account) == both

    def charge_two_accounts() -> Any:
        return charge_many(
            actor=admin,
            requests=[
                ChargeRequest(usage=_usage(now, "1"), now=now, account_id=a2.pk),
                ChargeRequest(usage=_usage(now, "1"), now=now, account_id=a1.pk),
            ],
        )

    assert _assert_in_order(charge_two_accounts) == both

    def payment_to_account() -> Any:
        return post_transaction(
            actor=admin,
            now=now,
            customer_id=cid,
            action="Manual payment",
            amount="1",
            account_id=a2.pk,
        )

    assert _assert_in_order(payment_to_account) == both

    def transfer_down() -> Any:
        return transfer(
            actor=admin, now=now, from_account_id=a2.pk, to_account_id=a1.pk, amount="1"
        )

    assert _assert_in_order(transfer_down) == both

    held = reserve(actor=admin, now=now, account_id=a1.pk, service="voice", amount="2", seconds=60)

    def commit() -> Any:
        return commit_reservation(
            actor=admin, now=now, reservation_id=held.reservation_id, amount="1"
        )

    assert _assert_in_order(commit) == [*both, (4, Reservation._meta.db_table)]

    held = reserve(actor=admin, now=now, account_id=a2.pk, service="voice", amount="2", seconds=60)

    def release() -> Any:
        return release_reservation(actor=admin, now=now, reservation_id=held.reservation_id)

    assert _assert_in_order(release) == [*both, (4, Reservation._meta.db_table)]

    reserve(actor=admin, now=now, account_id=a2.pk, service="voice", amount="2", seconds=1)
    reserve(actor=admin, now=now, account_id=a1.pk, service="voice", amount="2", seconds=1)

    def sweep() -> Any:
        assert expire_reservations(now=now + 2 * one) == 2

    assert _assert_in_order(sweep) == [*both, (4, Reservation._meta.db_table)]

    def block() -> Any:
        return lifecycle.set_blocked(actor=admin, now=now, customer_id=cid, blocked=False)

    assert _assert_in_order(block) == [both[0]]

    def change_account() -> Any:
        return update_account(actor=admin, now=now, account_id=a1.pk, changes={"blocked": False})

    assert _assert_in_order(change_account) == [both[1]]


ROUNDS = 12


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_writers_on_a_customer_and_its_accounts_never_deadlock(postgres, admin, now):
    customer, a1, a2 = _world(admin, now)
    cid = customer.pk
    later = now + dt.timedelta(seconds=5)
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def transfers() -> None:
        for i in range(ROUNDS):
            source, target = (a1, a2) if i % 2 else (a2, a1)
            transfer(
                actor=admin, now=now, from_account_id=source.pk, to_account_id=target.pk, amount="1"
            )

    def batches() -> None:
        for _ in range(ROUNDS):
            charge_many(
                actor=admin,
                requests=[
                    ChargeRequest(usage=_usage(now, "0.5"), now=now, account_id=a2.pk),
                    ChargeRequest(usage=_usage(now, "0.5"), now=now, account_id=a1.pk),
                ],
            )

    def payments() -> None:
        for i in range(ROUNDS):
            post_transaction(
                actor=admin,
                now=now,
                customer_id=cid,
                action="Manual payment",
                amount="1",
                account_id=(a1, a2)[i % 2].pk,
            )

    def holds() -> None:
        for i in range(ROUNDS):
            account = (a2, a1)[i % 2]
            reserve(
                actor=admin, now=now, account_id=account.pk, service="voice", amount="1", seconds=1
            )
            expire_reservations(now=later)

    def worker(job: Callable[[], None]) -> None:
        try:
            start.wait()
            job()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=worker, args=(job,))
        for job in (transfers, batches, payments, holds)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    customer.refresh_from_db()
    assert customer.balance == ledger_sum(customer_id=cid)
    assert customer.reserved == Decimal(0)
    for account in (a1, a2):
        account.refresh_from_db()
        moved = sum(
            Transaction.objects.filter(account=account).values_list("account_amount", flat=True),
            Decimal(0),
        )
        assert account.balance == moved
        assert account.reserved == Decimal(0)
    assert not Reservation.objects.filter(customer_id=cid, status="open").exists()
