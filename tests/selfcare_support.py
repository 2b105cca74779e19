"""The data of the self-care tests (issue 16): two customers, A and B, each with a self-care
login, accounts, usage and an invoice, so every test can check that A sees only A.

Customer A ("Alpha Ltd", postpaid, USD, class "Self-care" with subscriber-to-subscriber
transfers allowed and out-of-turn invoices), login ``alice``:
* accounts ``+15550001`` (debit, no funds of its own) and ``+15550002`` (credit, individual
  limit 5.00: 2.50 left after its usage, which it can transfer);
* usage: 2.50 voice on ``+15550002`` and 1.25 data on the customer, both before the invoice;
* invoice 1 (out of turn): total 3.75, nothing paid;
* then 0.40 messaging after the invoice (unbilled).
Customer B ("Beta Inc", postpaid), login ``bob``: one account ``+15559001``, usage 7.00 voice,
an out-of-turn invoice of 7.00.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

PASSWORD_A = "alice-Secret-2026"
PASSWORD_B = "bob-Secret-2026"
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def _usage(now: dt.datetime, amount: str, service: str, key: str) -> Any:
    from billcore.charging.services import parse_usage

    return parse_usage(
        service=service,
        amount=amount,
        quantity="60" if service == "voice" else "1",
        unit="s" if service == "voice" else ("MB" if service == "data" else "msg"),
        details={"cli": "+15550001", "cld": "+15557777"},
        external_id=key,
        now=now,
    )


def make_world(admin: Any, now: dt.datetime = T0) -> dict[str, Any]:
    from billcore.charging.services import charge
    from billcore.classes.services import create_class
    from billcore.customers import logins
    from billcore.invoicing.issuing import issue_out_of_turn_invoice
    from billcore.ledger.customers import create_customer
    from billcore.subscribers.services import create_account

    cls = create_class(
        actor=admin,
        now=now,
        data={
            "name": "Self-care",
            "currency": "USD",
            "s2s_transfers_allowed": True,
            "allow_out_of_turn_invoices": True,
        },
    )
    a = create_customer(
        actor=admin,
        now=now,
        data={
            "name": "Alpha Ltd",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": cls.pk,
            "credit_limit": "100",
            "email": "alpha@example.com",
        },
    )
    b = create_customer(
        actor=admin,
        now=now,
        data={
            "name": "Beta Inc",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": cls.pk,
        },
    )
    a1 = create_account(
        actor=admin,
        now=now,
        customer_id=a.pk,
        data={"identifier": "+15550001", "account_type": "debit"},
    )
    a2 = create_account(
        actor=admin,
        now=now,
        customer_id=a.pk,
        data={"identifier": "+15550002", "credit_limit": "5"},
    )
    b1 = create_account(actor=admin, now=now, customer_id=b.pk, data={"identifier": "+15559001"})
    t1 = now + dt.timedelta(minutes=5)
    charge(actor=admin, now=t1, account_id=a2.pk, usage=_usage(t1, "2.5", "voice", "a-1"))
    charge(actor=admin, now=t1, customer_id=a.pk, usage=_usage(t1, "1.25", "data", "a-2"))
    charge(actor=admin, now=t1, account_id=b1.pk, usage=_usage(t1, "7", "voice", "b-1"))
    t2 = now + dt.timedelta(minutes=10)
    inv_a = issue_out_of_turn_invoice(actor=admin, now=t2, customer_id=a.pk)
    inv_b = issue_out_of_turn_invoice(actor=admin, now=t2, customer_id=b.pk)
    t3 = now + dt.timedelta(minutes=15)
    charge(actor=admin, now=t3, customer_id=a.pk, usage=_usage(t3, "0.4", "messaging", "a-3"))
    login_a = logins.save_login(
        actor=admin, now=now, customer_id=a.pk, data={"login": "alice", "password": PASSWORD_A}
    )
    login_b = logins.save_login(
        actor=admin, now=now, customer_id=b.pk, data={"login": "bob", "password": PASSWORD_B}
    )
    return {
        "cls": cls,
        "a": a,
        "b": b,
        "a1": a1,
        "a2": a2,
        "b1": b1,
        "inv_a": inv_a,
        "inv_b": inv_b,
        "login_a": login_a,
        "login_b": login_b,
    }
