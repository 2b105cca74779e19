"""Credit-note numbers stay gapless when voids run at once (issue 17): 4 processes void 3
invoices each (12 customers), and each also tries to void a paid invoice (refused: it takes no
number). The credit notes are CN-0000001 … CN-0000012, each once; every customer's balance is
back to zero and equals its ledger. On SQLite the write lock serializes them; on PostgreSQL
the counter row's lock does."""

from __future__ import annotations

import datetime as dt
import multiprocessing
from decimal import Decimal as D
from typing import Any

import pytest
from django.db import connections, transaction

from billcore.classes.services import create_class
from billcore.invoicing.issuing import issue_out_of_turn_invoice
from billcore.invoicing.models import CreditNote
from billcore.invoicing.settling import record_transaction
from billcore.ledger.customers import create_customer
from billcore.ledger.postings import post_locked
from tests.support import ledger_sum

PROCESSES = 4
PER_PROCESS = 3
T0 = dt.datetime(2026, 1, 10, 9, 0, tzinfo=dt.UTC)


def _worker(args: tuple[int, list[int], int]) -> list[str]:
    admin_id, invoice_ids, paid_id = args
    connections.close_all()  # never share the parent's connection
    from billcore.accounts.models import User
    from billcore.errors import Conflict
    from billcore.invoicing.actions import void_invoice

    admin = User.objects.get(pk=admin_id)
    errors = []
    for n, pk in enumerate(invoice_ids):
        if n == 1:
            try:
                void_invoice(actor=admin, now=T0.replace(day=20), invoice_id=paid_id)
                errors.append("a paid invoice was voided")
            except Conflict:
                pass
        try:
            void_invoice(actor=admin, now=T0.replace(day=20), invoice_id=pk)
        except Exception as exc:
            errors.append(repr(exc))
    connections.close_all()
    return errors


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_voids_number_credit_notes_without_gaps(admin: Any) -> None:
    cls = create_class(
        actor=admin,
        now=T0,
        data={"name": "Busy", "currency": "USD", "allow_out_of_turn_invoices": True},
    )
    customers, invoices = [], []
    for i in range(PROCESSES * PER_PROCESS + 1):
        c = create_customer(
            actor=admin,
            now=T0,
            data={
                "name": f"C{i}",
                "currency": "USD",
                "balance_control": "postpaid",
                "customer_class": cls.pk,
            },
        )
        with transaction.atomic():
            post_locked(
                customer_id=c.pk, action="manual_charge", amount=D("10"), now=T0.replace(day=11)
            )
        invoices.append(
            issue_out_of_turn_invoice(actor=admin, now=T0.replace(day=12), customer_id=c.pk).pk
        )
        customers.append(c)
    paid = invoices.pop()
    record_transaction(
        actor=admin,
        now=T0.replace(day=13),
        customer_id=customers[-1].pk,
        action="manual_payment",
        amount="10",
    )
    jobs = [
        (admin.pk, invoices[p * PER_PROCESS : (p + 1) * PER_PROCESS], paid)
        for p in range(PROCESSES)
    ]
    connections.close_all()
    with multiprocessing.get_context("fork").Pool(PROCESSES) as pool:
        results = pool.map(_worker, jobs)
    assert [e for errors in results for e in errors] == []
    numbers = sorted(CreditNote.objects.values_list("number", flat=True))
    assert numbers == [f"CN-{n:07d}" for n in range(1, PROCESSES * PER_PROCESS + 1)]
    assert sorted(CreditNote.objects.values_list("invoice_id", flat=True)) == sorted(invoices)
    for c in customers[:-1]:
        c.refresh_from_db()
        assert c.balance == D("0.00000") == ledger_sum(customer_id=c.pk)
