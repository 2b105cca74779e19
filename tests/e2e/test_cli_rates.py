"""``billcore rates import|export`` (issue 12), run in process (``billcore.cli.main``) on
SQLite and PostgreSQL: exact summaries, the reject file, a re-import that changes nothing,
``--replace``, exit codes 0/1/2 with errors naming the argument, a download that imports
back unchanged, the progress line on a terminal."""

from __future__ import annotations

import datetime as dt
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from billcore.audit.models import AuditEntry
from billcore.cli import main
from billcore.cli import rating as cli_rating
from billcore.rating.models import Rate, Tariff
from billcore.rating.services import create_tariff

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
HEADER = "prefix,interval_first,interval_next,price_first,price_next,effective_from"
GOOD = f"""{HEADER}
44,60,6,0.02,0.015,2026-11-01
447,1,1,0.05,0.05,2026-11-01
|,60,60,0.5,0.5,2026-11-01
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def tariff(world: Any) -> Tariff:
    return create_tariff(actor=world["admin"], now=NOW, data={"name": "Retail", "currency": "USD"})


def _file(tmp_path: Path, text: str, name: str = "rates.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _rates(tariff: Tariff) -> list[tuple[Any, ...]]:
    return list(
        Rate.objects.filter(tariff=tariff)
        .order_by("prefix", "effective_from")
        .values_list(
            "id",
            "prefix",
            "interval_first",
            "interval_next",
            "price_first",
            "price_next",
            "effective_from",
            "discontinued",
        )
    )


def test_import_then_import_again_changes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tariff: Tariff
) -> None:
    path = _file(tmp_path, GOOD)
    code, out, err = run(capsys, "rates", "import", str(tariff.pk), str(path))
    assert (code, err) == (0, "")
    assert out == (
        f"Imported {path} into tariff 'Retail' (id {tariff.pk}): 3 lines, 3 added, "
        "0 updated, 0 unchanged, 0 discontinued, 0 rejected\n"
    )
    first = _rates(tariff)
    t0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert [r[1:] for r in first] == [
        ("44", 60, 6, Decimal("0.02000"), Decimal("0.01500"), t0, False),
        ("447", 1, 1, Decimal("0.05000"), Decimal("0.05000"), t0, False),
        ("|", 60, 60, Decimal("0.50000"), Decimal("0.50000"), t0, False),
    ]
    assert not (tmp_path / "rates.rejects.csv").exists()

    code, out, err = run(capsys, "rates", "import", "Retail", str(path))
    assert (code, err) == (0, "")
    assert out == (
        f"Imported {path} into tariff 'Retail' (id {tariff.pk}): 3 lines, 0 added, "
        "0 updated, 3 unchanged, 0 discontinued, 0 rejected\n"
    )
    assert _rates(tariff) == first


def test_rejected_lines_go_to_the_reject_file_and_exit_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tariff: Tariff
) -> None:
    path = _file(
        tmp_path,
        f"""{HEADER}
44,60,6,0.02,0.015,2026-11-01
45,0,6,0.02,0.015,2026-11-01
46,60,6,-1,0.015,2026-11-01
+47,60,6,0.02,0.015,2026-11-01
44,60,6,0.03,0.015,2026-11-01
48,60,6,0.02
""",
    )
    code, out, err = run(capsys, "rates", "import", "Retail", str(path))
    assert code == 1
    assert out == (
        f"Imported {path} into tariff 'Retail' (id {tariff.pk}): 6 lines, 1 added, "
        "0 updated, 0 unchanged, 0 discontinued, 5 rejected\n"
    )
    rejects = tmp_path / "rates.rejects.csv"
    assert err.splitlines() == [
        f"{path}:3: interval_first must be at least 1",
        f"{path}:4: price_first must be at least 0",
        f"{path}:5: prefix must be 1 to 32 digits, or | (any number); got '+47'",
        f"{path}:6: effective_from: prefix 44 from 2026-11-01 00:00:00 UTC is already given "
        "on an earlier line",
        f"{path}:7: the line has 4 fields, the header 6",
        f"Rejected lines written to {rejects}",
    ]
    assert rejects.read_text(encoding="utf-8") == (
        "line,field,reason\n"
        "3,interval_first,interval_first must be at least 1\n"
        "4,price_first,price_first must be at least 0\n"
        "5,prefix,\"prefix must be 1 to 32 digits, or | (any number); got '+47'\"\n"
        "6,effective_from,effective_from: prefix 44 from 2026-11-01 00:00:00 UTC is already "
        "given on an earlier line\n"
        '7,file,"the line has 4 fields, the header 6"\n'
    )
    assert [r[1] for r in _rates(tariff)] == ["44"]
    assert Rate.objects.get(tariff=tariff).price_first == Decimal("0.02000")

    elsewhere = tmp_path / "out" / "bad.csv"
    elsewhere.parent.mkdir()
    code, _, err = run(
        capsys, "rates", "import", "Retail", str(path), "--reject-file", str(elsewhere)
    )
    assert code == 1
    assert err.splitlines()[-1] == f"Rejected lines written to {elsewhere}"
    assert elsewhere.read_text(encoding="utf-8").splitlines()[0] == "line,field,reason"


def test_replace_discontinues_prefixes_absent_from_the_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tariff: Tariff
) -> None:
    run(capsys, "rates", "import", "Retail", str(_file(tmp_path, GOOD)))
    update = _file(tmp_path, f"{HEADER}\n44,60,6,0.03,0.015,2027-01-01\n", "update.csv")
    code, out, err = run(capsys, "rates", "import", "Retail", str(update), "--replace")
    assert (code, err) == (0, "")
    assert out == (
        f"Imported {update} into tariff 'Retail' (id {tariff.pk}): 1 lines, 1 added, "
        "0 updated, 0 unchanged, 2 discontinued, 0 rejected\n"
    )
    jan = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    assert [(r[1], r[6], r[7]) for r in _rates(tariff)] == [
        ("44", dt.datetime(2026, 11, 1, tzinfo=dt.UTC), False),
        ("44", jan, False),
        ("447", dt.datetime(2026, 11, 1, tzinfo=dt.UTC), False),
        ("447", jan, True),
        ("|", dt.datetime(2026, 11, 1, tzinfo=dt.UTC), False),
        ("|", jan, True),
    ]
    code, out, _ = run(capsys, "rates", "import", "Retail", str(update), "--replace")
    assert out.endswith("0 added, 0 updated, 1 unchanged, 0 discontinued, 0 rejected\n")


def test_bad_arguments_exit_2_naming_the_argument_and_save_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tariff: Tariff, world: Any
) -> None:
    good = _file(tmp_path, GOOD)
    audit = AuditEntry.objects.count()
    for argv, message in (
        (("99999", str(good)), "error: TARIFF: no tariff with the id or name '99999'"),
        (("Wholesale", str(good)), "error: TARIFF: no tariff with the name 'Wholesale'"),
        (("retail", str(good)), "error: TARIFF: no tariff with the name 'retail'"),
        (
            ("Retail", str(tmp_path / "none.csv")),
            f"error: FILE.csv: {tmp_path}/none.csv: no such file",
        ),
        (
            ("Retail", str(good), "--user", "nobody"),
            "error: --user: no active user named 'nobody'",
        ),
        (
            ("Retail", str(good), "--user", "ua"),
            "error: TARIFF: no tariff with the name 'Retail'",
        ),
    ):
        code, out, err = run(capsys, "rates", "import", *argv)
        assert (code, out, err) == (2, "", message + "\n"), argv
    bad_header = _file(tmp_path, "prefix,price\n44,1\n", "bad.csv")
    code, out, err = run(capsys, "rates", "import", "Retail", str(bad_header))
    assert (code, out) == (2, "")
    assert err == (
        f"error: {bad_header}: file: unknown column 'price'; the columns are prefix, "
        "interval_first, interval_next, price_first, price_next, effective_from, "
        "offpeak_interval_first, offpeak_interval_next, offpeak_price_first, "
        "offpeak_price_next, offpeak2_interval_first, offpeak2_interval_next, "
        "offpeak2_price_first, offpeak2_price_next, forbidden, discontinued, hidden "
        "(nothing was saved)\n"
    )
    latin = tmp_path / "latin.csv"
    latin.write_bytes((GOOD + "48,60,6,0.02,0.015,2026-11-01,\xe9\n").encode("latin-1"))
    code, out, err = run(capsys, "rates", "import", "Retail", str(latin))
    assert (code, out) == (2, "")
    assert err.startswith(f"error: {latin}: file is not UTF-8 text")
    assert err.endswith("(nothing was saved)\n")
    assert (Rate.objects.count(), AuditEntry.objects.count()) == (0, audit)
    with pytest.raises(SystemExit) as exc:
        main(["rates", "import", "Retail"])
    assert exc.value.code == 2
    assert "FILE.csv" in capsys.readouterr().err


def test_export_to_stdout_and_to_a_file_imports_back_unchanged(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tariff: Tariff
) -> None:
    run(capsys, "rates", "import", "Retail", str(_file(tmp_path, GOOD)))
    code, stdout, err = run(capsys, "rates", "export", "Retail")
    assert (code, err) == (0, "")
    assert stdout.splitlines() == [
        "prefix,interval_first,interval_next,price_first,price_next,effective_from,"
        "offpeak_interval_first,offpeak_interval_next,offpeak_price_first,offpeak_price_next,"
        "offpeak2_interval_first,offpeak2_interval_next,offpeak2_price_first,"
        "offpeak2_price_next,forbidden,discontinued,hidden",
        "44,60,6,0.02000,0.01500,2026-11-01T00:00:00+00:00,,,,,,,,,false,false,false",
        "447,1,1,0.05000,0.05000,2026-11-01T00:00:00+00:00,,,,,,,,,false,false,false",
        "|,60,60,0.50000,0.50000,2026-11-01T00:00:00+00:00,,,,,,,,,false,false,false",
    ]
    target = tmp_path / "down.csv"
    code, out, err = run(capsys, "rates", "export", str(tariff.pk), str(target))
    assert (code, out) == (0, "")
    assert err == f"Exported 3 rates of tariff 'Retail' (id {tariff.pk}) to {target}\n"
    assert target.read_bytes() == stdout.encode()  # the same CSV text, \r\n line ends
    assert stdout.endswith("false\r\n")
    before = _rates(tariff)
    code, out, _ = run(capsys, "rates", "import", "Retail", str(target))
    assert code == 0
    assert out.endswith("3 lines, 0 added, 0 updated, 3 unchanged, 0 discontinued, 0 rejected\n")
    assert _rates(tariff) == before
    code, out, err = run(capsys, "rates", "export", "Nope")
    assert (code, out, err) == (2, "", "error: TARIFF: no tariff with the name 'Nope'\n")


def test_progress_line_on_a_terminal(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    tariff: Tariff,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cli_rating, "PROGRESS_EVERY_LINES", 2)
    path = _file(tmp_path, GOOD)
    capsys.readouterr()
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code = main(["rates", "import", "Retail", str(path)])
    out, err = capsys.readouterr()
    assert code == 0
    assert out.endswith("3 added, 0 updated, 0 unchanged, 0 discontinued, 0 rejected\n")
    assert err.startswith("\r\x1b[K  2 lines  ")
    assert err.count("\r\x1b[K  ") == 2  # lines 2 and 4 (the header is line 1)
    assert err.endswith("lines/s\r\x1b[K")  # cleared before the summary
    code = main(["rates", "import", "Retail", str(path), "--no-progress"])
    assert capsys.readouterr().err == ""


def test_rates_rerate_after_a_correction(
    capsys: pytest.CaptureFixture[str], world: Any, tmp_path: Path
) -> None:
    """``billcore rates rerate`` (issue 12 §2): the correction's difference, then nothing."""
    from billcore.charging.services import charge, parse_usage
    from billcore.ledger.customers import create_customer
    from billcore.rating import services
    from billcore.subscribers.services import create_account

    admin = world["admin"]
    retail = create_tariff(actor=admin, now=NOW, data={"name": "Retail", "currency": "USD"})
    path = _file(tmp_path, f"{HEADER}\n44,1,1,0.10,0.10,2026-01-01\n")
    assert run(capsys, "rates", "import", "Retail", str(path), "--no-progress")[0] == 0
    home = services.create_product(actor=admin, now=NOW, data={"name": "Home", "currency": "USD"})
    services.create_entry(
        actor=admin, now=NOW, product_id=home.pk, data={"service": "voice", "tariff": retail.pk}
    )
    pia = create_customer(
        actor=admin,
        now=NOW,
        data={
            "name": "Pia",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": world["classes"]["usd"].pk,
        },
    )
    acc = create_account(actor=admin, now=NOW, customer_id=pia.pk, data={"identifier": "p1"})
    services.set_account_products(
        actor=admin, now=NOW, account_id=acc.pk, product=home.pk, addons=[]
    )
    usage = parse_usage(service="voice", cld="4420", quantity="120", started_at=NOW, now=NOW)
    assert charge(actor=admin, now=NOW, account_id=acc.pk, usage=usage).amount == Decimal("0.2")
    fixed = _file(tmp_path, f"{HEADER}\n44,1,1,0.08,0.08,2026-01-01\n", "fixed.csv")
    assert run(capsys, "rates", "import", "Retail", str(fixed), "--no-progress")[0] == 0
    code, out, err = run(capsys, "rates", "rerate", "--tariff", "Retail")
    assert (code, err) == (0, "")
    assert out == (
        "Re-rated 1 xDRs of the open period: 1 changed, 0 charged now, 0 reversed, "
        f"0 unchanged, 0 still denied.\ncustomer {pia.pk}: -0.04000\n"
    )
    code, out, _ = run(capsys, "rates", "rerate", "--customer", str(pia.pk))
    assert out.startswith("Re-rated 1 xDRs of the open period: 0 changed") and code == 0
    code, _, err = run(capsys, "rates", "rerate", "--tariff", "Nope")
    assert (code, err) == (2, "error: --tariff: no tariff with the name 'Nope'\n")
    code, _, err = run(capsys, "rates", "rerate", "--customer", "999999")
    assert code == 2 and err.startswith("error: --customer:")
