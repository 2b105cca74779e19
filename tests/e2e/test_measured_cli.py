"""``billcore measured sample`` (issue 14): the sampler once, for cron; ``--now`` only in
test mode (the engine's rule); a slot read once is not read again."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from billcore.classes.services import create_class
from billcore.cli import build_parser, main
from billcore.installation.services import get_settings
from billcore.ledger.customers import create_customer
from billcore.measured.models import MeasuredSample
from billcore.measured.services import set_class_service

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2027, 1, 10, 9, 0, tzinfo=dt.UTC)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def trunk(admin: Any) -> Any:
    cls = create_class(actor=admin, now=T0, data={"name": "SIP", "currency": "USD"})
    set_class_service(
        actor=admin,
        now=T0,
        class_id=cls.pk,
        metric="concurrent_calls",
        data={"configured_limit": 12, "price": "5", "free_items": "10"},
    )
    return create_customer(
        actor=admin,
        now=T0,
        data={
            "name": "Trunk",
            "currency": "USD",
            "balance_control": "postpaid",
            "customer_class": cls.pk,
        },
    )


def test_sample_now_in_test_mode_takes_each_slot_once(
    capsys: pytest.CaptureFixture[str], trunk: Any
) -> None:
    inst = get_settings()
    inst.test_mode = True
    inst.save()
    code, out, err = _run(capsys, "measured", "sample", "--now", "2027-01-11T10:03:00Z")
    assert (code, err) == (0, "")
    report = json.loads(out)
    assert report["samples"] == {"active_calls": 0, "concurrent_calls": 1, "pbx_extensions": 0}
    assert report["slots"]["active_calls"] == "2027-01-11T10:00:00+00:00"
    assert report["slots"]["concurrent_calls"] == "2027-01-11T00:00:00+00:00"
    sample = MeasuredSample.objects.get(customer=trunk)
    assert (sample.metric, sample.value) == ("concurrent_calls", 12)
    code, out, _ = _run(capsys, "measured", "sample", "--now", "2027-01-11T18:00:00Z")
    assert json.loads(out)["samples"]["concurrent_calls"] == 0  # the day is read already
    assert MeasuredSample.objects.count() == 1


def test_sample_now_outside_test_mode_is_refused(
    capsys: pytest.CaptureFixture[str], trunk: Any
) -> None:
    code, out, err = _run(capsys, "measured", "sample", "--now", "2027-01-11T10:03:00Z")
    assert code == 2 and out == ""
    assert "--now: the engine's clock can be moved only when the installation is in test" in err
    assert not MeasuredSample.objects.exists()


def test_sample_without_now_reads_the_real_time(
    capsys: pytest.CaptureFixture[str], trunk: Any
) -> None:
    code, out, _ = _run(capsys, "measured", "sample")
    assert code == 0
    assert json.loads(out)["samples"]["concurrent_calls"] == 1


def test_the_loop_options() -> None:
    args = build_parser().parse_args(["measured", "loop", "--interval", "30"])
    assert (args.interval, args.exit_with_parent) == (30, False)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["measured", "loop", "--interval", "0"])
