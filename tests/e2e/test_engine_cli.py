"""``billcore engine run`` (issue 4 §6): the engine from the command line, its clock, its
report, its errors; and the schedule options of ``billcore serve``."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest

from billcore.classes.services import create_class
from billcore.cli import build_parser, main
from billcore.installation.services import get_settings
from billcore.invoicing.models import Invoice
from billcore.invoicing.settling import record_transaction
from billcore.ledger.customers import create_customer

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2027, 1, 10, 9, 0, tzinfo=dt.UTC)


def set_test_mode(on: bool) -> None:
    inst = get_settings()
    inst.test_mode = on
    inst.save()


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def customer(admin: Any) -> Any:
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
        amount="10.00",
    )
    return c


def test_engine_run_at_a_given_now_prints_its_report(
    capsys: pytest.CaptureFixture[str], customer: Any
) -> None:
    set_test_mode(True)  # --now moves the engine's clock: only in test mode (issue 17 §5)
    code, out, err = _run(
        capsys, "engine", "run", "--now", "2027-02-01T00:00:00Z", "--steps", "close,collections"
    )
    assert (code, err) == (0, "")
    report = json.loads(out)
    assert {k: report[k] for k in ("now", "periods_closed", "invoices", "errors")} == {
        "now": "2027-02-01T00:00:00+00:00",
        "periods_closed": 1,
        "invoices": 1,
        "errors": [],
    }
    inv = Invoice.objects.get()
    assert (inv.number, inv.total) == ("INV-0000001", Decimal("12.00000"))
    # the same now again: nothing
    code, out, _ = _run(capsys, "engine", "run", "--now", "2027-02-01T00:00:00Z")
    assert code == 0
    assert json.loads(out)["invoices"] == 0
    assert Invoice.objects.count() == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--now", "yesterday"], "'yesterday' is not an ISO 8601 date-time"),
        (["--now", "2027-02-01T00:00:00"], "has no time zone"),
    ],
)
def test_engine_run_refuses_a_bad_clock(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["engine", "run", *argv])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_engine_run_refuses_an_unknown_step(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "engine", "run", "--steps", "close,bill-twice")
    assert (code, out) == (2, "")
    assert "unknown engine step(s) ['bill-twice']" in err


def test_serve_schedules_the_engine_unless_told_not_to(monkeypatch: pytest.MonkeyPatch) -> None:
    assert build_parser().parse_args(["serve"]).engine_interval == 300
    assert build_parser().parse_args(["serve", "--engine-interval", "0"]).engine_interval == 0
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--engine-interval", "-5"])
    monkeypatch.setenv("BILLCORE_ENGINE_INTERVAL", "60")
    assert build_parser().parse_args(["serve"]).engine_interval == 60


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_scheduled_engine_stops_when_its_server_is_gone() -> None:
    """``billcore serve`` starts ``engine loop --exit-with-parent``: killed hard, the server
    leaves no engine behind."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        url = f"sqlite:///{db['NAME']}"
    else:
        url = (
            f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        )
    env = {**os.environ, "DATABASE_URL": url}
    loop = f"{sys.executable} -m billcore.cli engine loop --interval 1 --exit-with-parent"
    parent = subprocess.Popen(  # a stand-in for the server: it starts the loop, then waits
        ["/bin/sh", "-c", f"BILLCORE_ENGINE_PARENT=$$ {loop} & echo $!; sleep 60"],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    # The loop says it runs (however long Django takes to start on a loaded machine).
    assert parent.stdout.readline().startswith("billcore engine: running every 1 s")
    os.kill(child, 0)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    for _ in range(100):
        time.sleep(0.1)
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        # a zombie of the killed shell's child is reaped by init; check its state
        with open(f"/proc/{child}/stat") as stat:
            if stat.read().split()[2] == "Z":
                break
    else:
        os.kill(child, signal.SIGKILL)
        raise AssertionError("the engine loop outlived its server")
