"""Issue 10 §4: ``BILLCORE_PAYMENT_GATEWAY`` read from the environment by the real server.

The whole card path over HTTP against ``billcore serve`` started as a subprocess with the
variable in its environment (nothing overridden in this process): a card is saved (CU-13), the
engine auto-charges the regular invoice and pays CC-14's separate recurring-fee invoice through
the simulated gateway. Without the variable the card features say the gateway is not
configured; an unknown name stops the server at startup, naming the variable. The server's
database is a temporary SQLite file, or a fresh PostgreSQL database in the PostgreSQL half of
the suite (``DATABASE_URL=postgres://…``)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.server import Server, database_url, environment, serve

CARD = {"card_number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2099}


def _instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _start_at(customer: dict[str, Any]) -> str:
    """The subscription's start: the customer's open period start, exactly as the API printed
    it (to the microsecond, so it is accepted back as the same instant)."""
    start: str = customer["billed_to"]
    assert start == customer["created_at"]
    return start


def _book(server: Server) -> dict[str, Any]:
    """A CC-14 class (auto-charge, separate recurring-fee invoice, VAT 20 %), a postpaid
    customer of it with a 15.00 plan for its first period and 3.001 of usage."""
    server.ok("PATCH", "/settings", {"test_mode": True})
    cls = server.ok(
        "POST",
        "/customer-classes",
        {
            "name": "Cards",
            "currency": "USD",
            "auto_charge_invoices": True,
            "separate_recurring_fee_invoice": True,
            "taxation_method": "fixed_vat",
            "vat_rate": "20",
        },
        status=201,
    )
    customer = server.ok(
        "POST",
        "/customers",
        {
            "name": "Acme",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": cls["id"],
        },
        status=201,
    )
    plan = server.ok(
        "POST",
        "/subscription-plans",
        {"name": "Gold", "currency": "USD", "fee": "15.00", "in_advance": True, "prorate": False},
        status=201,
    )
    sub = server.ok(
        "POST",
        f"/customers/{customer['id']}/subscriptions",
        {"plan": plan["id"], "start_at": _start_at(customer), "end_at": customer["next_billed_to"]},
        status=201,
    )
    usage = server.ok(
        "POST",
        "/xdrs",
        {"customer": customer["id"], "service": "voice", "amount": "3.001", "quantity": "1"},
        status=201,
    )
    assert usage["allowed"] is True, usage
    return {"customer": customer, "subscription": sub}


def test_the_served_product_saves_a_card_and_auto_charges_both_invoices(tmp_path: Path) -> None:
    """CU-13, CC-14 end to end with ``BILLCORE_PAYMENT_GATEWAY=test`` in the server's
    environment."""
    with database_url(tmp_path) as url:
        env = environment(tmp_path, url, BILLCORE_PAYMENT_GATEWAY="test")
        with serve(env) as server:
            booked = _book(server)
            cid = booked["customer"]["id"]
            card = server.ok("PUT", f"/customers/{cid}/payment-method", CARD | {"holder_name": "A"})
            assert {k: card[k] for k in ("brand", "last4", "gateway", "gateway_label")} == {
                "brand": "Visa",
                "last4": "4242",
                "gateway": "test",
                "gateway_label": "Test gateway (simulated card processor, no money moves)",
            }
            end = booked["customer"]["next_billed_to"]
            report = server.ok(
                "POST",
                "/engine/run",
                {"now": end, "steps": ["subscriptions", "close", "collections", "collect"]},
            )
            assert {
                k: report[k]
                for k in (
                    "fees_charged",
                    "periods_closed",
                    "invoices",
                    "payments_collected",
                    "payments_declined",
                    "notes",
                    "errors",
                )
            } == {
                "fees_charged": 1,
                "periods_closed": 1,
                "invoices": 2,
                "payments_collected": 2,
                "payments_declined": 0,
                "notes": [],
                "errors": [],
            }
            invoices = server.ok("GET", f"/customers/{cid}/invoices")["items"]
            assert sorted(
                (i["number"], i["kind"], i["total"], i["amount_paid"], i["amount_due"], i["status"])
                for i in invoices
            ) == [
                # CC-14: the fee 15.00 + VAT 20 % 3.00, paid only by the saved card
                ("INV-0000001", "recurring", "18.00000", "18.00000", "0.00000", "paid"),
                # usage 3.001 -> base 3.01, VAT 0.602 -> 0.61, total 3.62 (auto-charge)
                ("INV-0000002", "regular", "3.62000", "3.62000", "0.00000", "paid"),
            ]
            assert {i["paid_at"] for i in invoices} == {end}
            ledger = server.ok("GET", f"/customers/{cid}/transactions")["items"]
            assert sorted(
                (t["amount"], t["visible_comment"])
                for t in ledger
                if t["action"] == "ecommerce_payment"
            ) == [
                ("-18.00000", "Card payment of invoice INV-0000001"),
                ("-3.62000", "Card payment of invoice INV-0000002"),
            ]
            customer = server.ok("GET", f"/customers/{cid}")
            # 15 + 3.001 + 3.00 + 0.61 + 0.009 (rounding) - 18.00 - 3.62 = 0
            assert customer["balance"] == "0.00000"
            # the same run again: nothing more is charged
            again = server.ok("POST", "/engine/run", {"now": end, "steps": ["collect"]})
            assert (again["payments_collected"], again["payments_declined"]) == (0, 0)


def test_the_served_product_without_a_gateway_says_so(tmp_path: Path) -> None:
    """No ``BILLCORE_PAYMENT_GATEWAY``: saving a card is refused with the reason; nothing
    saved; the engine charges nothing."""
    with database_url(tmp_path) as url:
        with serve(environment(tmp_path, url)) as server:
            booked = _book(server)
            cid = booked["customer"]["id"]
            status, reply = server.call("PUT", f"/customers/{cid}/payment-method", CARD)
            assert status == 400, reply
            assert reply["error"] == {
                "code": "gateway_not_configured",
                "field": "payment_method",
                "message": "no payment gateway is configured: set BILLCORE_PAYMENT_GATEWAY (the "
                "shipped adapter is 'test', a simulated card processor for test mode and demos)",
            }
            status, reply = server.call("GET", f"/customers/{cid}/payment-method")
            assert (status, reply["error"]["code"]) == (404, "no_payment_method")
            report = server.ok(
                "POST",
                "/engine/run",
                {
                    "now": booked["customer"]["next_billed_to"],
                    "steps": ["subscriptions", "close", "collect"],
                },
            )
            assert (report["invoices"], report["payments_collected"]) == (2, 0)
            statuses = sorted(
                (i["kind"], i["status"])
                for i in server.ok("GET", f"/customers/{cid}/invoices")["items"]
            )
            assert statuses == [("recurring", "issued"), ("regular", "issued")]


def test_an_unknown_gateway_stops_the_server_at_startup(tmp_path: Path) -> None:
    env = environment(
        tmp_path, f"sqlite:///{tmp_path / 'unused.sqlite3'}", BILLCORE_PAYMENT_GATEWAY="stripe"
    )
    done = subprocess.run(
        [sys.executable, "-m", "billcore.cli", "serve", "--port", "1", "--engine-interval", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip() == (
        "error: BILLCORE_PAYMENT_GATEWAY='stripe' is not a payment gateway billcore knows: use "
        "one of: test (the simulated card processor), or leave it empty for none"
    )


@pytest.mark.django_db
def test_the_engine_notes_invoices_waiting_for_a_gateway(admin: Any, settings: Any) -> None:
    """A card saved while a gateway was configured, the gateway then removed: the collect step
    charges nothing and says why (the report's notes)."""
    from billcore.classes.services import create_class
    from billcore.engine import run
    from billcore.invoicing.payments import save_payment_method
    from billcore.invoicing.settling import record_transaction
    from billcore.ledger.customers import create_customer

    t0 = dt.datetime(2027, 1, 10, 9, 0, tzinfo=dt.UTC)
    cls = create_class(
        actor=admin,
        now=t0,
        data={"name": "Auto", "currency": "USD", "auto_charge_invoices": True},
    )
    c = create_customer(
        actor=admin,
        now=t0,
        data={
            "name": "Bo",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": cls.pk,
        },
    )
    settings.BILLCORE_PAYMENT_GATEWAY = "test"
    save_payment_method(
        actor=admin,
        now=t0,
        customer_id=c.pk,
        data={"card_number": "4242424242424242", "exp_month": 12, "exp_year": 2099},
    )
    record_transaction(
        actor=admin, now=t0, customer_id=c.pk, action="manual_charge", amount="10.00"
    )
    settings.BILLCORE_PAYMENT_GATEWAY = ""
    report = run(now=dt.datetime(2027, 2, 1, tzinfo=dt.UTC), steps=["close", "collect"])
    assert (report.invoices, report.payments_collected, report.payments_declined) == (1, 0, 0)
    assert report.notes == [
        "collect: 1 invoice(s) wait to be charged to a saved card, but no payment gateway is "
        "configured (set BILLCORE_PAYMENT_GATEWAY)"
    ]
