"""Issue 4 §6 proof: the engine is crash-safe and can be shared by several processes.

* A process killed in the middle of a customer's transaction (after its invoice and lines were
  written, before the commit) leaves nothing half done: running the engine again invoices
  every customer exactly once, with gapless numbers.
* Three engine processes started together on one run invoice every customer exactly once
  (PostgreSQL: customers claimed with FOR UPDATE SKIP LOCKED; SQLite: one writer at a time).
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import signal
from decimal import Decimal
from typing import Any

import pytest
from django.db import connections
from django.db.models import Count, Sum

from billcore.classes.services import create_class
from billcore.customers.models import Customer
from billcore.customers.services import create_customer
from billcore.invoicing.models import Invoice, InvoiceLine
from billcore.ledger.models import Transaction
from billcore.ledger.postings import post_locked

T0 = dt.datetime(2027, 1, 10, 9, 0, tzinfo=dt.UTC)
FEB1 = dt.datetime(2027, 2, 1, tzinfo=dt.UTC)
CUSTOMERS = 60


def _setup(admin: Any) -> list[int]:
    from django.db import transaction

    cls = create_class(
        actor=admin,
        now=T0,
        data={
            "name": "VAT class",
            "currency": "USD",
            "taxation_method": "fixed_vat",
            "vat_rate": "20",
        },
    )
    ids = []
    for i in range(CUSTOMERS):
        c = create_customer(
            actor=admin,
            now=T0,
            data={
                "name": f"C{i:03d}",
                "currency": "USD",
                "balance_control": "postpaid",
                "customer_class": cls.pk,
            },
        )
        with transaction.atomic():
            post_locked(
                customer_id=c.pk,
                action="manual_charge",
                amount=Decimal(i + 1) + Decimal("0.00123"),
                now=T0 + dt.timedelta(days=1),
            )
        ids.append(c.pk)
    return ids


def _check_exactly_once(ids: list[int]) -> None:
    per_customer = dict(
        Invoice.objects.values_list("customer_id").annotate(n=Count("id")).order_by()
    )
    assert per_customer == {cid: 1 for cid in ids}
    assert sorted(Invoice.objects.values_list("sequence", flat=True)) == list(
        range(1, CUSTOMERS + 1)
    )
    for i, cid in enumerate(ids):
        inv = Invoice.objects.get(customer_id=cid)
        # charge i+1.00123 -> base i+1.01 -> VAT 20% rounded up
        base = Decimal(i + 1) + Decimal("0.01")
        tax = (base * Decimal("0.2")).quantize(Decimal("0.01"), rounding="ROUND_UP")
        assert inv.total == base + tax
        lines = InvoiceLine.objects.filter(invoice=inv).aggregate(s=Sum("amount"))["s"]
        assert lines == inv.total
        balance = Customer.objects.get(pk=cid).balance
        assert balance == inv.total
        assert (
            Transaction.objects.filter(customer_id=cid).aggregate(s=Sum("amount"))["s"] == balance
        )


def _crashing_engine(kill_at: int, path: str) -> None:
    """Run the engine and SIGKILL this process inside the transaction of the kill_at-th
    invoice, after the invoice row was written (ORM path: after its lines too)."""
    connections.close_all()
    from billcore.engine import run
    from billcore.invoicing import fastclose, services

    calls = {"n": 0}
    if path == "orm":
        original = services.issue_invoice

        def issue_then_die(**kwargs: Any) -> Any:
            invoice = original(**kwargs)
            calls["n"] += 1
            if calls["n"] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return invoice

        services.issue_invoice = issue_then_die  # type: ignore[assignment]
    else:
        lines = fastclose._lines

        def lines_then_die(*args: Any) -> Any:
            calls["n"] += 1
            if calls["n"] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return lines(*args)

        fastclose._lines = lines_then_die  # type: ignore[assignment]
    run(now=FEB1, steps=["close"], fast=path == "fast")


def _engine() -> None:
    connections.close_all()
    from billcore.engine import run

    report = run(now=FEB1, steps=["close"])
    assert not report.errors, report.errors


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("path", ["orm", "fast"])
def test_engine_killed_mid_customer_then_rerun_invoices_everyone_once(
    admin: Any, path: str
) -> None:
    ids = _setup(admin)
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    p = ctx.Process(target=_crashing_engine, args=(25, path))
    p.start()
    p.join(300)
    assert p.exitcode == -signal.SIGKILL
    # 24 customers committed; the 25th's invoice died with its transaction.
    assert Invoice.objects.count() == 24
    assert sorted(Invoice.objects.values_list("sequence", flat=True)) == list(range(1, 25))
    from billcore.engine import run

    report = run(now=FEB1, steps=["close"])
    assert (report.invoices, report.errors) == (CUSTOMERS - 24, [])
    _check_exactly_once(ids)
    again = run(now=FEB1, steps=["close"])
    assert (again.invoices, again.periods_closed) == (0, 0)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_three_engine_processes_share_one_run(admin: Any) -> None:
    ids = _setup(admin)
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_engine) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    _check_exactly_once(ids)
