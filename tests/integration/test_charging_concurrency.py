"""Issue 3 proof: 8 processes send 500 charges each at one prepaid customer funded for
exactly 1,000: exactly 1,000 are accepted, 3,000 denied, available funds end at exactly 0 and
the ledger sums to the balance. The same through reservations. On SQLite (file, WAL) no
"database is locked" error may reach a caller; on PostgreSQL no deadlock."""

import multiprocessing
from decimal import Decimal

import pytest
from django.db import connections

from billcore.charging.models import Xdr
from billcore.classes.models import CustomerClass
from billcore.ledger.customers import create_customer
from tests.support import ledger_sum

PROCESSES = 8
PER_PROCESS = 500
FUNDS = "1000"


def _worker(args):
    mode, customer_id, admin_id, n = args
    connections.close_all()  # never share the parent's connection
    from django.utils import timezone

    from billcore.accounts.models import User
    from billcore.charging.services import (
        charge,
        commit_reservation,
        parse_usage,
        release_reservation,
        reserve,
    )

    admin = User.objects.get(pk=admin_id)
    accepted = denied = 0
    errors = []
    for i in range(PER_PROCESS):
        now = timezone.now()
        try:
            if mode == "charge":
                usage = parse_usage(service="voice", amount="1", external_id=f"p{n}-{i}", now=now)
                ok = charge(actor=admin, now=now, customer_id=customer_id, usage=usage).allowed
            else:
                r = reserve(
                    actor=admin, now=now, customer_id=customer_id, service="voice", amount="1"
                )
                ok = r.allowed
                if ok:
                    if i % 10 == 0:
                        release_reservation(actor=admin, now=now, reservation_id=r.reservation_id)
                        ok = False
                    else:
                        commit_reservation(
                            actor=admin, now=now, reservation_id=r.reservation_id, amount="1"
                        )
        except Exception as exc:
            errors.append(repr(exc))
            continue
        accepted += ok
        denied += not ok
    connections.close_all()
    return accepted, denied, errors


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("mode", ["charge", "reserve"])
def test_concurrent_processes_never_overspend(admin, now, mode):
    customer = create_customer(
        actor=admin,
        now=now,
        data={
            "name": "Hot",
            "currency": "USD",
            "balance_control": "prepaid",
            "available_funds": FUNDS,
            "customer_class": CustomerClass.objects.get(is_default=True).pk,
        },
    )
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(PROCESSES) as pool:
        results = pool.map(_worker, [(mode, customer.pk, admin.pk, n) for n in range(PROCESSES)])
    errors = [e for _, _, errs in results for e in errs]
    assert errors == []
    accepted = sum(a for a, _, _ in results)
    denied = sum(d for _, d, _ in results)
    customer.refresh_from_db()
    assert customer.available_funds == Decimal("0.00000")
    assert customer.reserved == Decimal("0.00000")
    assert ledger_sum(customer_id=customer.pk) == customer.balance
    if mode == "charge":
        assert (accepted, denied) == (1000, 3000)
        assert Xdr.objects.filter(customer=customer, status="charged").count() == 1000
        assert Xdr.objects.filter(customer=customer, status="denied").count() == 3000
    else:
        # Each committed session costs exactly 1; released ones cost nothing.
        assert accepted == 1000
        assert accepted + denied == PROCESSES * PER_PROCESS
        assert Xdr.objects.filter(customer=customer, status="charged").count() == 1000
