"""``billcore customer list|show`` and ``billcore invoice list`` (issue 17 §11): paging that
says when more rows exist, table, JSON and CSV, filters refused by name with the valid
values, money in the currency's decimals, ``| head`` without a trace; and
``billcore engine run --now`` refused outside test mode, as the API refuses it."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from typing import Any

import pytest

from billcore.classes.models import CustomerClass
from billcore.classes.services import create_class
from billcore.cli import main
from billcore.customers.models import Customer
from billcore.engine.models import EngineRun
from billcore.installation.services import get_settings
from billcore.invoicing.models import Invoice
from billcore.invoicing.settling import record_transaction
from billcore.ledger.customers import create_customer

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2027, 1, 10, 9, 0, tzinfo=dt.UTC)
HEADER = "Name  Class    Currency  Balance control  Balance / available funds  Status"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def five(admin: Any) -> list[Customer]:
    """Five USD customers, Alpha … Echo; Alpha owes 2,064.81 (a 2-decimal currency)."""
    default = CustomerClass.objects.get(is_default=True).pk
    made = []
    for name in ("Echo", "Delta", "Charlie", "Bravo", "Alpha"):
        made.append(
            create_customer(
                actor=admin,
                now=T0,
                data={
                    "name": name,
                    "currency": "USD",
                    "balance_control": "postpaid",
                    "customer_class": default,
                },
            )
        )
    record_transaction(
        actor=admin,
        now=T0,
        customer_id=made[-1].pk,
        action="manual_charge",
        amount="2064.81",
    )
    return sorted(made, key=lambda c: c.name)


def _ids(out: str) -> list[str]:
    return [line.split()[1] for line in out.splitlines()[2:]]


def test_customer_list_pages_and_says_when_more_rows_exist(
    capsys: pytest.CaptureFixture[str], five: list[Customer]
) -> None:
    code, out, err = run(capsys, "customer", "list", "--limit", "2", "--offset", "1")
    assert code == 0
    assert _ids(out) == ["Bravo", "Charlie"]
    assert err == "customers 2-3 of 5; more: --offset 3 (or a larger --limit)\n"

    code, out, err = run(capsys, "customer", "list", "--limit", "2", "--offset", "3")
    assert (code, _ids(out), err) == (0, ["Delta", "Echo"], "")

    code, out, err = run(capsys, "customer", "list", "--offset", "9")
    assert (code, out.splitlines()[2:], err) == (0, [], "")


def test_customer_list_shows_money_in_the_currency_decimals(
    capsys: pytest.CaptureFixture[str], five: list[Customer]
) -> None:
    alpha = five[0]
    code, out, err = run(capsys, "customer", "list", "--limit", "1")
    w = max(2, len(str(alpha.pk)))
    assert (code, err) == (0, "customers 1-1 of 5; more: --offset 1 (or a larger --limit)\n")
    assert out.splitlines()[2] == (
        f"{alpha.pk:>{w}}  Alpha  Default  USD       Postpaid         "
        "                 2,064.81  Open"
    )


def test_customer_list_as_csv_and_json(
    capsys: pytest.CaptureFixture[str], five: list[Customer]
) -> None:
    alpha, bravo = five[0], five[1]
    code, out, err = run(capsys, "customer", "list", "--limit", "2", "--format", "csv")
    assert code == 0
    assert out.splitlines() == [
        "ID,Name,Class,Currency,Balance control,Balance / available funds,Status",
        f"{alpha.pk},Alpha,Default,USD,Postpaid,2064.81,Open",
        f"{bravo.pk},Bravo,Default,USD,Postpaid,0.00,Open",
    ]
    assert err == "customers 1-2 of 5; more: --offset 2 (or a larger --limit)\n"

    code, out, _ = run(capsys, "customer", "list", "--limit", "1", "--format", "json")
    assert code == 0
    assert json.loads(out) == [
        {
            "id": alpha.pk,
            "name": "Alpha",
            "class": "Default",
            "class_id": alpha.customer_class_id,
            "currency": "USD",
            "balance_control": "postpaid",
            "balance_or_available_funds": "2064.81",
            "status": "open",
            "blocked": False,
        }
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--status", "bogus"],
            "error: --status: 'bogus' is not a customer status; choose from open, suspended, "
            "provisionally_terminated, closed, exported\n",
        ),
        (["--class", "999999"], "error: --class: no customer class 999999\n"),
        (
            ["--currency", "XYZ"],
            "error: --currency: 'XYZ' is not a currency in use; choose from ",
        ),
    ],
)
def test_customer_list_refuses_an_unknown_filter_value(
    capsys: pytest.CaptureFixture[str], five: list[Customer], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, "customer", "list", *argv)
    assert (code, out) == (2, "")
    assert err.startswith(message)


def test_customer_list_refuses_a_bad_format_or_limit(capsys: pytest.CaptureFixture[str]) -> None:
    for argv, message in (
        (["--format", "xml"], "argument --format: invalid choice: 'xml' (choose from "),
        (["--limit", "0"], "argument --limit: must be at least 1"),
        (["--offset", "-1"], "argument --offset: must be 0 or more"),
    ):
        with pytest.raises(SystemExit) as exit_:
            main(["customer", "list", *argv])
        assert exit_.value.code == 2
        assert message in capsys.readouterr().err


def test_customer_show(capsys: pytest.CaptureFixture[str], five: list[Customer]) -> None:
    alpha = Customer.objects.get(pk=five[0].pk)
    code, out, err = run(capsys, "customer", "show", str(alpha.pk))
    assert (code, err) == (0, "")
    cls = alpha.customer_class_id
    assert out.splitlines() == [
        f"ID                {alpha.pk}",
        "Name              Alpha",
        "Company",
        "E-mail",
        "Type              Retail customer",
        f"Class             Default (ID {cls})",
        "Reseller",
        "Currency          USD",
        "Balance control   Postpaid",
        "Balance           2,064.81",
        "Available funds",
        "Credit limit      no limit",
        "Status            Open",
        "Blocked           no",
        f"Billed to         {alpha.billed_to:%Y-%m-%d %H:%M} UTC",
        f"Open period ends  {alpha.next_billed_to:%Y-%m-%d %H:%M} UTC",
        "Unpaid invoices   0",
        f"Created           {alpha.created_at:%Y-%m-%d %H:%M} UTC",
    ]
    code, out, _ = run(capsys, "customer", "show", str(alpha.pk), "--format", "json")
    record = json.loads(out)
    assert (code, record["balance"], record["status"], record["blocked"]) == (
        0,
        "2064.81",
        "open",
        False,
    )
    code, out, err = run(capsys, "customer", "show", "999999")
    assert (code, out, err) == (1, "", "error: customer 999999 not found\n")


@pytest.fixture
def invoiced(admin: Any) -> Customer:
    """Acme (USD, VAT 20 %) charged 10.00 in January, invoiced 12.00 on 1 February."""
    from billcore.engine import run as engine_run

    cls = create_class(
        actor=admin,
        now=T0,
        data={"name": "VAT", "currency": "USD", "taxation_method": "fixed_vat", "vat_rate": "20"},
    )
    c = create_customer(
        actor=admin,
        now=T0,
        data={
            "name": "Acme",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": cls.pk,
        },
    )
    record_transaction(
        actor=admin,
        now=T0 + dt.timedelta(days=1),
        customer_id=c.pk,
        action="manual_charge",
        amount="1000.00",
    )
    engine_run(now=dt.datetime(2027, 2, 1, tzinfo=dt.UTC), steps=["close"])
    return c


def test_invoice_list(capsys: pytest.CaptureFixture[str], invoiced: Customer) -> None:
    inv = Invoice.objects.get()
    code, out, err = run(capsys, "invoice", "list")
    assert (code, err) == (0, "")
    w = max(2, len(str(inv.pk)))
    due = f"{inv.due_at:%Y-%m-%d}"
    assert out.splitlines() == [
        f"{'ID':>{w}}  Number       Issued      Due         Customer  Kind     Status  "
        "Currency     Total  Amount due",
        f"{'-' * w}  -----------  ----------  ----------  --------  -------  ------  "
        "--------  --------  ----------",
        f"{inv.pk:>{w}}  INV-0000001  2027-02-01  {due}  Acme      Regular  Issued  "
        "USD       1,200.00    1,200.00",
    ]
    code, out, _ = run(capsys, "invoice", "list", "--customer", str(invoiced.pk), "--format", "csv")
    assert out.splitlines()[1] == (
        f"{inv.pk},INV-0000001,2027-02-01,{due},Acme,Regular,Issued,USD,1200.00,1200.00"
    )
    code, out, _ = run(capsys, "invoice", "list", "--format", "json")
    assert json.loads(out) == [
        {
            "id": inv.pk,
            "number": "INV-0000001",
            "issued_at": inv.issued_at.isoformat(),
            "due_at": inv.due_at.isoformat(),
            "customer_id": invoiced.pk,
            "customer": "Acme",
            "kind": "regular",
            "status": "issued",
            "currency": "USD",
            "total": "1200.00",
            "amount_due": "1200.00",
        }
    ]
    code, out, err = run(capsys, "invoice", "list", "--status", "paid")
    assert (code, out.splitlines()[2:], err) == (0, [], "")


def test_invoice_list_refuses_unknown_filters(
    capsys: pytest.CaptureFixture[str], invoiced: Customer
) -> None:
    code, out, err = run(capsys, "invoice", "list", "--status", "unpaid")
    assert (code, out) == (2, "")
    assert err == (
        "error: --status: 'unpaid' is not an invoice status; choose from issued, partly_paid, "
        "paid, overdue, void\n"
    )
    code, out, err = run(capsys, "invoice", "list", "--customer", "999999")
    assert (code, out, err) == (1, "", "error: --customer: customer 999999 not found\n")


def test_engine_run_now_is_refused_outside_test_mode_as_the_api_refuses_it(
    capsys: pytest.CaptureFixture[str], invoiced: Customer
) -> None:
    before = EngineRun.objects.count()
    code, out, err = run(capsys, "engine", "run", "--now", "2027-03-01T00:00:00Z")
    assert (code, out) == (2, "")
    assert err == (
        "error: --now: the engine's clock can be moved only when the installation is in test "
        "mode (settings: test_mode)\n"
    )
    assert Invoice.objects.count() == 1 and EngineRun.objects.count() == before

    inst = get_settings()
    inst.test_mode = True
    inst.save()
    code, out, err = run(capsys, "engine", "run", "--now", "2027-03-01T00:00:00Z")
    assert (code, err) == (0, "")
    assert json.loads(out)["periods_closed"] == 1
    last = EngineRun.objects.order_by("-id").first()
    assert last is not None
    assert (last.trigger, last.state, last.now) == (
        "cli",
        "finished",
        dt.datetime(2027, 3, 1, tzinfo=dt.UTC),
    )
    assert last.started_by.startswith("cli:")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_closed_pipe_ends_the_command_quietly(five: list[Customer]) -> None:
    """``billcore customer list | head``: the reader is gone before the first line."""
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        url = f"sqlite:///{db['NAME']}"
    else:
        url = (
            f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        )
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "billcore.cli", "customer", "list"],
            stdout=write,
            stderr=subprocess.PIPE,
            env={**os.environ, "DATABASE_URL": url},
            text=True,
            timeout=120,
        )
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (141, "")
