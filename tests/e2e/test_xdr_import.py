"""Importing a CSV file of xDRs (``billcore xdrs import``), on SQLite and PostgreSQL: exact
counts and balances, bad lines reported with their line numbers and written to the reject
file, re-imports that charge nothing twice, denied charges kept, usage errors (exit 2)."""

from __future__ import annotations

import datetime as dt
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import DataError, OperationalError

from billcore.accounts.models import User
from billcore.charging import importer, services
from billcore.charging.importer import ImportFailed, Reject, import_xdrs
from billcore.charging.models import Xdr
from billcore.classes.models import CustomerClass
from billcore.cli import main
from billcore.customers.models import Customer
from billcore.ledger.customers import create_customer
from billcore.ledger.models import Transaction
from billcore.subscribers.models import Account
from billcore.subscribers.services import create_account
from tests.support import ledger_sum

pytestmark = pytest.mark.django_db

HEADER = "account,customer,service,amount,quantity,unit,started_at,external_id,cli,cld"
GOOD = [
    "+15550001,,voice,1.5,90,s,2026-10-31T10:00:00Z,c-1,+15550001,+4930123",
    "+15550002,,data,0.25,1024,MB,2026-10-31T11:00:00+01:00,c-2,,",
    ",Bolt Ltd,messaging,0.1,1,sms,2026-10-31T12:00:00Z,c-3,+15550003,+4930999",
    "+15550003,,voice,4,240,s,2026-10-31T13:00:00Z,c-4,+15550003,+4930123",
]


@pytest.fixture
def people(admin: User, now: dt.datetime) -> dict[str, Any]:
    """Acme (prepaid, 100 of funds, two accounts), Bolt Ltd (postpaid, limit 50, one
    account), Tiny (prepaid, 1 of funds, one account)."""
    cls = CustomerClass.objects.get(is_default=True).pk

    def customer(name: str, **data: Any) -> Customer:
        return create_customer(
            actor=admin,
            now=now,
            data={"name": name, "currency": "USD", "customer_class": cls, **data},
        )

    acme = customer("Acme", balance_control="prepaid", available_funds="100")
    bolt = customer("Bolt Ltd", balance_control="postpaid", credit_limit="50")
    tiny = customer("Tiny", balance_control="prepaid", available_funds="1")
    for c, identifier in ((acme, "+15550001"), (acme, "+15550002"), (bolt, "+15550003")):
        create_account(actor=admin, now=now, customer_id=c.pk, data={"identifier": identifier})
    create_account(actor=admin, now=now, customer_id=tiny.pk, data={"identifier": "+15550009"})
    return {"acme": acme, "bolt": bolt, "tiny": tiny}


def write(tmp_path: Path, *lines: str, name: str = "calls.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def balance(c: Customer) -> Decimal:
    return Customer.objects.get(pk=c.pk).balance


def account_balance(identifier: str) -> Decimal:
    return Account.objects.get(identifier=identifier).balance


def assert_ledger_matches(*customers: Customer) -> None:
    for c in customers:
        assert ledger_sum(customer_id=c.pk) == balance(c)


def run_import(path: Path, actor: User, now: dt.datetime, **kw: Any) -> Any:
    return import_xdrs(path=path, actor=actor, now_fn=lambda: now, **kw)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- a good file --------------------------------------------------------------------------


@pytest.mark.parametrize("batch", [1, 3, 100])
def test_a_good_file_charges_every_line(
    tmp_path: Path, admin: User, now: dt.datetime, people: dict[str, Any], batch: int
) -> None:
    path = write(tmp_path, HEADER, *GOOD)

    summary = run_import(path, admin, now, batch=batch)

    assert (summary.rows, summary.charged, summary.denied, summary.rejected) == (4, 4, 0, 0)
    assert (summary.replayed, summary.reject_path) == (0, None)
    assert summary.line() == (
        f"Imported {path}: 4 rows, 4 charged, 0 denied, 0 rejected, 0 already imported (replayed)"
    )
    assert balance(people["acme"]) == Decimal("-98.25")  # 100 of funds, 1.5 + 0.25 spent
    assert balance(people["bolt"]) == Decimal("4.1")
    assert account_balance("+15550001") == Decimal("1.5")
    assert account_balance("+15550002") == Decimal("0.25")
    assert account_balance("+15550003") == Decimal("4")
    assert_ledger_matches(people["acme"], people["bolt"])
    assert Transaction.objects.filter(action="usage").count() == 4
    assert not (tmp_path / "calls.rejects.csv").exists()
    first = Xdr.objects.get(external_id="c-1")
    assert (first.status, first.service, first.quantity, first.unit, first.amount) == (
        "charged",
        "voice",
        Decimal(90),
        "s",
        Decimal("1.5"),
    )
    assert first.details == {"cli": "+15550001", "cld": "+4930123"}
    assert first.started_at == dt.datetime(2026, 10, 31, 10, 0, tzinfo=dt.UTC)
    assert first.created_at == now
    assert first.transaction is not None and first.transaction.amount == Decimal("1.5")
    second = Xdr.objects.get(external_id="c-2")
    assert second.details == {}  # empty values are left out
    assert second.started_at == dt.datetime(2026, 10, 31, 10, 0, tzinfo=dt.UTC)
    third = Xdr.objects.get(external_id="c-3")
    assert (third.customer_id, third.account_id) == (people["bolt"].pk, None)


def test_a_tiny_cache_still_resolves_every_line(
    tmp_path: Path,
    admin: User,
    now: dt.datetime,
    people: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The identifier cache forgets old entries, never those of the batch at hand."""
    monkeypatch.setattr(importer, "CACHE_LIMIT", 1)
    path = write(tmp_path, HEADER, *GOOD, *(g.replace(",c-", ",d-") for g in GOOD))

    summary = run_import(path, admin, now, batch=3)

    assert (summary.rows, summary.charged, summary.rejected) == (8, 8, 0)
    assert_ledger_matches(people["acme"], people["bolt"])


def test_columns_in_any_order_and_case_customer_by_id_and_a_bom(
    tmp_path: Path, admin: User, now: dt.datetime, people: dict[str, Any]
) -> None:
    acme = people["acme"].pk
    path = tmp_path / "calls.csv"
    path.write_text(
        "\ufeffExternal_ID, Amount ,SERVICE,Started_At,Customer,Trunk\r\n"
        f"k-1,2,voice,2026-10-31T10:00:00Z,{acme},T1\r\n"
        "k-2,3,voice,2026-10-31T10:00:00Z,ACME,\r\n",
        encoding="utf-8",
    )

    summary = run_import(path, admin, now)

    assert (summary.rows, summary.charged, summary.rejected) == (2, 2, 0)
    assert balance(people["acme"]) == Decimal("-95")
    assert Xdr.objects.get(external_id="k-1").details == {"Trunk": "T1"}
    assert_ledger_matches(people["acme"])


# --- bad lines ----------------------------------------------------------------------------

BAD_FILE = [
    HEADER,  # line 1
    GOOD[0],  # 2
    "+15559999,,voice,1,60,s,2026-10-31T10:00:00Z,b-3,,",  # 3: unknown account
    "+15550001,,voice,1.2.3,60,s,2026-10-31T10:00:00Z,b-4,,",  # 4: bad amount
    "",  # 5: blank, skipped
    "+15550001,,voice,1,60,s,2026-10-31 10:00,b-6,,",  # 6: no zone
    "+15550001,,voice,1,60,s,yesterday,b-7,,",  # 7: not a date
    '+15550002,,voice,2,60,s,2026-10-31T10:00:00Z,b-8,"+1555',  # 8-9: a quoted value
    '0002",+49',  # 9 (continued): two lines, one record
    "+15550001,,fax,1,60,s,2026-10-31T10:00:00Z,b-10,,",  # 10: unknown service
    "+15550001,,voice,1,60,s,2026-10-31T10:00:00Z",  # 11: short line
    "+15550001,,voice,1,60,s,2026-10-31T10:00:00Z,,,",  # 12: no external_id
    ",,voice,1,60,s,2026-10-31T10:00:00Z,b-13,,",  # 13: no account nor customer
    ",Nobody,voice,1,60,s,2026-10-31T10:00:00Z,b-14,,",  # 14: unknown customer
    "+15550001,,voice,9,60,s,2026-10-31T10:00:00Z,c-1,,",  # 15: c-1 again, other amount
    "+15550001,,voice,1.5,90,s,2026-10-31T10:00:00Z,c-1,x,y",  # 16: c-1 again, same usage
    "+15550003,Acme,voice,1,60,s,2026-10-31T10:00:00Z,b-17,,",  # 17: account of Bolt
    "+15550001,,voice,-1,60,s,2026-10-31T10:00:00Z,b-18,,",  # 18: negative amount
    "+15550001,,voice,1,60,s,2026-10-31T10:00:00Z,b-19,,,extra",  # 19: a field too many
]

BAD_REPORT = [
    (3, "account: no account '+15559999'"),
    (4, "amount: not a plain decimal number (expected e.g. '12.5' or '-3')"),
    (6, "started_at needs a time zone (e.g. Z or +01:00)"),
    (7, "started_at must be an ISO 8601 date-time, e.g. 2026-11-01T10:00:00Z"),
    (
        10,
        "service must be one of: voice, data, messaging, other, or a service of the catalogue "
        "(got 'fax')",
    ),
    (
        11,
        "missing columns external_id, cli, cld: the line has 7 fields but the header has 10",
    ),
    (
        12,
        "external_id is required (the idempotency key: without it a re-import would charge twice)",
    ),
    (13, "account or customer is required"),
    (14, "customer: no customer named 'Nobody'"),
    (15, "external_id was already used for a different usage record"),
    (17, "account: the account belongs to another customer"),
    (18, "amount must be at least 0"),
    (19, "the line has 11 fields but the header has 10; extra values: 'extra'"),
]

BAD_REJECTS = (
    HEADER + ",line,error\r\n"
    "+15559999,,voice,1,60,s,2026-10-31T10:00:00Z,b-3,,,3,account: no account '+15559999'\r\n"
    "+15550001,,voice,1.2.3,60,s,2026-10-31T10:00:00Z,b-4,,,4,amount: not a plain decimal "
    "number (expected e.g. '12.5' or '-3')\r\n"
    "+15550001,,voice,1,60,s,2026-10-31 10:00,b-6,,,6,started_at needs a time zone "
    "(e.g. Z or +01:00)\r\n"
    '+15550001,,voice,1,60,s,yesterday,b-7,,,7,"started_at must be an ISO 8601 date-time, '
    'e.g. 2026-11-01T10:00:00Z"\r\n'
    '+15550001,,fax,1,60,s,2026-10-31T10:00:00Z,b-10,,,10,"service must be one of: voice, '
    "data, messaging, other, or a service of the catalogue (got 'fax')\"\r\n"
    '+15550001,,voice,1,60,s,2026-10-31T10:00:00Z,,,,11,"missing columns external_id, cli, '
    'cld: the line has 7 fields but the header has 10"\r\n'
    "+15550001,,voice,1,60,s,2026-10-31T10:00:00Z,,,,12,external_id is required (the "
    "idempotency key: without it a re-import would charge twice)\r\n"
    ",,voice,1,60,s,2026-10-31T10:00:00Z,b-13,,,13,account or customer is required\r\n"
    ",Nobody,voice,1,60,s,2026-10-31T10:00:00Z,b-14,,,14,customer: no customer named "
    "'Nobody'\r\n"
    "+15550001,,voice,9,60,s,2026-10-31T10:00:00Z,c-1,,,15,external_id was already used for "
    "a different usage record\r\n"
    "+15550003,Acme,voice,1,60,s,2026-10-31T10:00:00Z,b-17,,,17,account: the account belongs "
    "to another customer\r\n"
    "+15550001,,voice,-1,60,s,2026-10-31T10:00:00Z,b-18,,,18,amount must be at least 0\r\n"
    "+15550001,,voice,1,60,s,2026-10-31T10:00:00Z,b-19,,,19,the line has 11 fields but the "
    "header has 10; extra values: 'extra'\r\n"
)


@pytest.mark.parametrize("batch", [1, 4, 100])
def test_bad_lines_are_reported_with_their_line_numbers_and_the_good_ones_land(
    tmp_path: Path, admin: User, now: dt.datetime, people: dict[str, Any], batch: int
) -> None:
    path = write(tmp_path, *BAD_FILE)
    rejects: list[Reject] = []

    summary = run_import(path, admin, now, batch=batch, on_reject=rejects.append)

    assert [(r.line, r.error) for r in rejects] == BAD_REPORT
    assert (summary.rows, summary.charged, summary.denied) == (16, 2, 0)
    assert (summary.rejected, summary.replayed) == (13, 1)
    assert summary.reject_path == tmp_path / "calls.rejects.csv"
    assert summary.reject_path.read_bytes().decode() == BAD_REJECTS
    # Lines 2 and 8-9 were charged; line 16 replayed line 2 (c-1), nothing else moved.
    assert sorted(Xdr.objects.values_list("external_id", flat=True)) == ["b-8", "c-1"]
    assert Xdr.objects.get(external_id="b-8").details == {"cli": "+1555\n0002", "cld": "+49"}
    assert balance(people["acme"]) == Decimal("-96.5")
    assert account_balance("+15550001") == Decimal("1.5")
    assert account_balance("+15550002") == Decimal("2")
    assert balance(people["bolt"]) == Decimal(0)
    assert_ledger_matches(people["acme"], people["bolt"])


def test_the_cli_reports_bad_lines_on_stderr_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], admin: User, people: dict[str, Any]
) -> None:
    path = write(tmp_path, *BAD_FILE)
    rejects = tmp_path / "out" / "bad.csv"
    rejects.parent.mkdir()

    code, out, err = cli(capsys, "xdrs", "import", str(path), "--reject-file", str(rejects))

    assert code == 1
    assert out == (
        f"Imported {path}: 16 rows, 2 charged, 0 denied, 13 rejected, "
        "1 already imported (replayed)\n"
    )
    assert err.splitlines() == [
        *(f"{path}:{line}: {error}" for line, error in BAD_REPORT),
        f"Rejected lines written to {rejects}",
    ]
    assert rejects.read_bytes().decode() == BAD_REJECTS
    assert not (tmp_path / "calls.rejects.csv").exists()


def test_a_line_that_is_not_utf8_is_rejected_and_kept_byte_for_byte(
    tmp_path: Path, admin: User, now: dt.datetime, people: dict[str, Any]
) -> None:
    path = tmp_path / "calls.csv"
    latin1 = "+15550001,,voice,1,60,s,2026-10-31T10:00:00Z,u-3,Jos\xe9,".encode("latin-1")
    path.write_bytes(
        (HEADER + "\n" + GOOD[0] + "\n").encode() + latin1 + b"\n" + GOOD[1].encode() + b"\n"
    )

    summary = run_import(path, admin, now, batch=2)

    assert (summary.rows, summary.charged, summary.rejected) == (3, 2, 1)
    assert (summary.reject_path or tmp_path).read_bytes() == (
        HEADER.encode() + b",line,error\r\n" + latin1 + b",3,the line is not valid UTF-8\r\n"
    )


def refuse_in_batches(monkeypatch: pytest.MonkeyPatch, amount: Decimal, error: Exception) -> None:
    """The database refuses the bulk writes of any batch holding a line of ``amount`` (as
    it would refuse the multi-row INSERT holding a bad row), after they ran."""
    real = services._write_batch

    def write_batch(ledger: Any, xdrs: Any, *rest: Any) -> None:
        real(ledger, xdrs, *rest)
        if any(x.amount == amount for x in xdrs):
            raise error

    monkeypatch.setattr(services, "_write_batch", write_batch)


def test_a_line_that_fails_after_moving_the_balance_rolls_back_alone(
    tmp_path: Path,
    admin: User,
    now: dt.datetime,
    people: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The ledger row and the balance update of a line are undone when the line fails later
    (its savepoint); the other lines of the batch stay, and so does the ledger = balance."""
    real = services._post_usage

    def post_usage(**kw: Any) -> Any:
        tx = real(**kw)
        if kw["amount"] == Decimal("0.25"):
            raise DataError("value out of range (simulated)")
        return tx

    monkeypatch.setattr(services, "_post_usage", post_usage)
    refuse_in_batches(monkeypatch, Decimal("0.25"), DataError("value out of range (simulated)"))
    path = write(tmp_path, HEADER, *GOOD)

    summary = run_import(path, admin, now, batch=100)

    assert (summary.rows, summary.charged, summary.rejected) == (4, 3, 1)
    assert (summary.reject_path or tmp_path).read_text().splitlines()[1:] == [
        "+15550002,,data,0.25,1024,MB,2026-10-31T11:00:00+01:00,c-2,,,3,"
        "the database refused the line: value out of range (simulated)"
    ]
    assert balance(people["acme"]) == Decimal("-98.5")
    assert account_balance("+15550002") == Decimal(0)
    assert sorted(Xdr.objects.values_list("external_id", flat=True)) == ["c-1", "c-3", "c-4"]
    assert Transaction.objects.filter(action="usage").count() == 3
    assert_ledger_matches(people["acme"], people["bolt"])


def test_a_database_failure_stops_the_import_and_says_what_is_saved(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    admin: User,
    people: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The batch is rolled back and charged again line by line; the line the database
    fails on stops the import, and the lines before it stay charged."""
    real = services._post_usage

    def post_usage(**kw: Any) -> Any:
        if kw["amount"] == Decimal("0.1"):
            raise OperationalError("server closed the connection unexpectedly (simulated)")
        return real(**kw)

    monkeypatch.setattr(services, "_post_usage", post_usage)
    refuse_in_batches(
        monkeypatch,
        Decimal("0.1"),
        OperationalError("server closed the connection unexpectedly (simulated)"),
    )
    path = write(tmp_path, HEADER, GOOD[0], "x,,voice,1,,,2026-10-31T10:00:00Z,e-3,,", *GOOD[1:])

    code, out, err = cli(capsys, "xdrs", "import", str(path))

    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f"{path}:3: account: no account 'x'",
        "error: the import stopped at line 5: server closed the connection unexpectedly "
        "(simulated)",
        "3 rows before it are saved (2 charged, 0 denied, 1 rejected, 0 replayed); run the same "
        "command again to continue: lines already imported are not charged twice",
    ]
    assert sorted(Xdr.objects.values_list("external_id", flat=True)) == ["c-1", "c-2"]
    assert_ledger_matches(people["acme"], people["bolt"])


def test_a_reject_file_in_a_missing_folder_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], admin: User, people: dict[str, Any]
) -> None:
    path = write(tmp_path, HEADER, *GOOD)
    where = tmp_path / "nowhere" / "r.csv"

    assert cli(capsys, "xdrs", "import", str(path), "--reject-file", str(where)) == (
        2,
        "",
        f"error: cannot write the reject file {where}: {where.parent} is not a writable folder\n",
    )
    assert Xdr.objects.count() == 0


# --- re-import, denied ---------------------------------------------------------------------


def test_importing_the_same_file_again_charges_nothing(
    tmp_path: Path, admin: User, now: dt.datetime, people: dict[str, Any]
) -> None:
    path = write(tmp_path, HEADER, *GOOD)
    run_import(path, admin, now)
    before = (balance(people["acme"]), balance(people["bolt"]), Transaction.objects.count())

    again = run_import(path, admin, now + dt.timedelta(hours=1))

    assert (again.rows, again.charged, again.denied, again.rejected, again.replayed) == (
        4,
        0,
        0,
        0,
        4,
    )
    assert (balance(people["acme"]), balance(people["bolt"]), Transaction.objects.count()) == (
        before
    )
    assert Xdr.objects.count() == 4
    assert_ledger_matches(people["acme"], people["bolt"])


def test_a_denied_charge_is_counted_as_denied_and_kept(
    tmp_path: Path, admin: User, now: dt.datetime, people: dict[str, Any]
) -> None:
    path = write(
        tmp_path,
        HEADER,
        "+15550009,,voice,0.6,60,s,2026-10-31T10:00:00Z,t-1,,",
        "+15550009,,voice,0.6,60,s,2026-10-31T10:01:00Z,t-2,,",  # 0.4 left: denied
        "+15550009,,voice,0.4,60,s,2026-10-31T10:02:00Z,t-3,,",
    )

    summary = run_import(path, admin, now)

    assert (summary.rows, summary.charged, summary.denied, summary.rejected) == (3, 2, 1, 0)
    denied = Xdr.objects.get(external_id="t-2")
    assert (denied.status, denied.deny_reason, denied.transaction) == (
        "denied",
        "insufficient_funds",
        None,
    )
    assert balance(people["tiny"]) == Decimal(0)
    assert_ledger_matches(people["tiny"])
    again = run_import(path, admin, now)
    assert (again.charged, again.denied, again.replayed) == (0, 0, 3)


def test_a_resellers_user_charges_only_its_own_customers(
    tmp_path: Path, now: dt.datetime, world: dict[str, Any], people: dict[str, Any]
) -> None:
    path = write(tmp_path, HEADER, GOOD[0], GOOD[2])

    summary = run_import(path, world["ua"], now)

    assert (summary.charged, summary.rejected) == (0, 2)
    assert (summary.reject_path or tmp_path).read_text().splitlines()[1:] == [
        GOOD[0] + ",2,account: no account '+15550001'",
        GOOD[2] + ",3,customer: no customer named 'Bolt Ltd'",
    ]
    assert Xdr.objects.count() == 0


# --- usage errors and exit codes -----------------------------------------------------------


def test_a_header_without_required_columns_names_them_and_charges_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], admin: User, people: dict[str, Any]
) -> None:
    path = write(tmp_path, "customer,service,amount,cli", ",Acme,voice,1,")

    code, out, err = cli(capsys, "xdrs", "import", str(path))

    assert (code, out) == (2, "")
    assert err == (
        "error: header: required columns missing: started_at, external_id "
        "(the header has: customer, service, amount, cli)\n"
    )
    with pytest.raises(ImportFailed, match="required column missing: account or customer"):
        run_import(
            write(tmp_path, "service,amount,started_at,external_id", name="b.csv"),
            admin,
            dt.datetime.now(dt.UTC),
        )
    assert Xdr.objects.count() == 0
    assert not list(tmp_path.glob("*.rejects.csv"))


def test_cli_exit_codes(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    admin: User,
    people: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    good = write(tmp_path, HEADER, *GOOD)
    bad = write(tmp_path, HEADER, GOOD[0].replace("c-1", "x-1").replace("1.5", "x"), name="b.csv")

    assert cli(capsys, "xdrs", "import", str(good), "--no-progress") == (
        0,
        f"Imported {good}: 4 rows, 4 charged, 0 denied, 0 rejected, "
        "0 already imported (replayed)\n",
        "",
    )
    code, out, err = cli(capsys, "xdrs", "import", str(bad), "--user", "admin", "--batch", "1")
    assert (code, out.endswith("1 rejected, 0 already imported (replayed)\n")) == (1, True)
    assert cli(capsys, "xdrs", "import", str(tmp_path / "none.csv")) == (
        2,
        "",
        f"error: cannot read {tmp_path / 'none.csv'}: No such file or directory\n",
    )
    assert cli(capsys, "xdrs", "import", str(good), "--user", "nobody") == (
        2,
        "",
        "error: --user: no active user named 'nobody'\n",
    )
    empty = write(tmp_path, "", name="empty.csv")
    assert cli(capsys, "xdrs", "import", str(empty)) == (
        2,
        "",
        "error: the file is empty: a header row is required\n",
    )
    with pytest.raises(SystemExit) as exit_info:
        main(["xdrs", "import", str(good), "--batch", "0"])
    assert exit_info.value.code == 2
    # A terminal gets a progress line on stderr; the summary stays on stdout.
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, out, err = cli(capsys, "xdrs", "import", str(good))
    assert code == 0 and out.endswith("0 rejected, 4 already imported (replayed)\n")
    assert err.startswith("\r\x1b[K  4 rows  ")
    assert err.endswith("/s  charged 0 denied 0 rejected 0 replayed 4\n")


def test_without_an_administrator_the_cli_asks_for_a_user(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, HEADER, *GOOD)
    assert cli(capsys, "xdrs", "import", str(path)) == (
        2,
        "",
        "error: no administrator to charge as: create one (billcore createadmin) "
        "or give --user NAME\n",
    )
