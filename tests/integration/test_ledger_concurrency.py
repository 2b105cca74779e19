"""Concurrent balance adjustments on one customer never lose an update (DESIGN rule 1).
Threads with their own database connections, on SQLite (file, WAL, IMMEDIATE transactions)
and PostgreSQL (row lock)."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from billcore.classes.models import CustomerClass
from billcore.invoicing.settling import record_transaction
from billcore.ledger.customers import create_customer
from billcore.ledger.models import Transaction
from tests.support import ledger_sum

THREADS = 4
PER_THREAD = 25


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_adjustments_are_all_counted(admin, now):
    customer = create_customer(
        actor=admin,
        now=now,
        data={
            "name": "Busy",
            "currency": "USD",
            "balance_control": "prepaid",
            "available_funds": "1000",
            "customer_class": CustomerClass.objects.get(is_default=True).pk,
        },
    )
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def worker(n: int) -> None:
        try:
            start.wait()
            for i in range(PER_THREAD):
                action = "Manual charge" if (n + i) % 3 else "Manual payment"
                record_transaction(
                    actor=admin,
                    now=now,
                    customer_id=customer.pk,
                    action=action,
                    amount="0.33333",
                    idempotency_key=f"t{n}-{i}",
                )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    charges = sum(1 for n in range(THREADS) for i in range(PER_THREAD) if (n + i) % 3)
    payments = THREADS * PER_THREAD - charges
    expected = Decimal("-1000") + Decimal("0.33333") * (charges - payments)
    customer.refresh_from_db()
    assert customer.balance == expected
    assert ledger_sum(customer_id=customer.pk) == expected
    assert Transaction.objects.filter(customer=customer).count() == 1 + THREADS * PER_THREAD
    # Writers were serialised by the lock, so in id order every row's balance_after is the
    # running sum of the amounts before it: no two writers read the same old balance.
    running = Decimal(0)
    for amount, balance_after in (
        Transaction.objects.filter(customer=customer)
        .order_by("id")
        .values_list("amount", "balance_after")
    ):
        running += amount
        assert balance_after == running
