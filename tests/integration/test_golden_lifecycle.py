"""The golden lifecycle timelines (issue 5 §5): every YAML file under ``tests/golden/lifecycle``
played through the services by ``tests/integration/golden.py`` — statuses (CU-14 … CU-18),
collections (issue 5 §2), subscriptions (CU-02, CU-15, CC-19), notifications — with every
expected state, step, notification and figure asserted exactly (format:
``tests/golden/README.md``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from tests.integration.golden import ScenarioFailure, load, play, scenario_paths

pytestmark = pytest.mark.django_db

PATHS = scenario_paths("lifecycle")

# Scenarios whose hand-computed expectation the code does not meet yet: stem -> the bug
# (file, input, expected, actual). Each is skipped with that reason until it is fixed.
KNOWN_BUGS: dict[str, str] = {
    "11_lift_until_set_in_advance_survives_a_run_before_due": (
        "src/billcore/invoicing/collections.py:303-311 _Run.lift_if_paid (called by "
        "evaluate_customer at every engine run, line 358, and after every payment, line 366) "
        "removes suspension_delay_until whenever no invoice has status overdue, so a date set "
        "before the due date is dropped by the first run before the due date although nothing "
        "is paid. Input: INV-0000001 100 due 2027-02-11, lift until 2027-03-01 set 02-05, engine "
        "02-08. Expected (CU-15: removed once paid or passed): 2027-03-01 kept, suspension held "
        "until 03-01. Actual: None after the 02-08 run, suspended on 02-21."
    ),
    "27_invoice_issued_notification": (
        "Nothing queues the 'invoice_issued' notification (issue 5 §4; classes.models "
        "Notification.INVOICE_ISSUED): no notify(kind='invoice_issued') in "
        "src/billcore/invoicing/services.py issue_invoice / close_due_periods nor anywhere in "
        "src/. Input: class notifications [invoice_issued, ...], customer with an e-mail, "
        "INV-0000001 issued by the engine 2027-02-01. Expected: one OutboundEmail kind "
        "notification, notification 'invoice_issued'. Actual: none."
    ),
    "29_manual_suspension_does_not_swallow_the_overdue_one": (
        "src/billcore/invoicing/collections.py _Run.suspend records the suspension step with "
        "detail 'not suspended: the customer is suspended' when a manual suspension is in "
        "force on its day, and the resume rule in evaluate() (the 'K.SUSPENSION in done' "
        "block) only re-suspends when detail == 'suspended'. Input: INV-0000001 overdue, "
        "notices 02-18, manual suspension 02-20, engine 02-21, manual suspension lifted by hand "
        "02-22, engine 02-23. Expected (CU-15: set automatically for an overdue invoice, an "
        "administrator cannot clear it): suspended (overdue) on 02-23. Actual: open for good "
        "while the invoice stays overdue (also after 02-28), so suspend + unsuspend by hand "
        "clears an overdue suspension."
    ),
}

# The same, only on PostgreSQL (SQLite does not enforce a CharField's max_length).
KNOWN_BUGS_POSTGRESQL: dict[str, str] = {
    "22_cc19_on_prepaid_short_of_funds_suspended_until_funds_arrive": (
        "src/billcore/customers/models.py:89 Customer.suspension_reason is CharField("
        "max_length=10) but lifecycle.SUSPENSION_REASONS has 'insufficient_funds' (18 "
        "characters). Input: CC-19 class, prepaid customer with funds 20, a 30 fee due "
        "2027-01-01, engine run. Expected: suspended with reason insufficient_funds. Actual on "
        "PostgreSQL: DataError 'value too long for type character varying(10)' from "
        "lifecycle.suspend (via subscriptions/engine.py charge_customer), which charge_step "
        "does not catch (only BillcoreError, ValueError): the whole engine run aborts."
    ),
}


def test_there_are_at_least_25_timelines() -> None:
    assert len(PATHS) >= 25, [p.stem for p in PATHS]


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_golden_timeline(path: Path, admin: Any) -> None:
    if path.stem in KNOWN_BUGS:
        pytest.skip(KNOWN_BUGS[path.stem])
    if connection.vendor == "postgresql" and path.stem in KNOWN_BUGS_POSTGRESQL:
        pytest.skip(KNOWN_BUGS_POSTGRESQL[path.stem])
    play(load(path), admin=admin)


def _timeline(stem: str) -> dict[str, Any]:
    return load(next(p for p in PATHS if p.stem == stem))


def test_runner_catches_a_wrong_collection_step(admin: Any) -> None:
    data = _timeline("02_every_collection_step_on_its_day")
    data["expect"]["collection_steps"][2][3] = "2027-02-17T00:00:00Z"
    with pytest.raises(ScenarioFailure, match=r"expect\.collection_steps"):
        play(data, admin=admin)


def test_runner_catches_a_missing_notification(admin: Any) -> None:
    data = _timeline("06_payment_lifts_the_overdue_suspension_with_reactivation_fee")
    data["expect"]["notifications"]["slow"].pop()
    with pytest.raises(ScenarioFailure, match=r"expect\.notifications\.slow"):
        play(data, admin=admin)


def test_runner_catches_a_wrong_status_history(admin: Any) -> None:
    data = _timeline("13_reactivation_inside_n_days")
    data["expect"]["status_history"]["back"][1][2] = "reopened"
    with pytest.raises(ScenarioFailure, match=r"expect\.status_history\.back"):
        play(data, admin=admin)


def test_runner_catches_a_wrong_customer_state(admin: Any) -> None:
    data = _timeline("07_lift_until_a_future_date_then_the_suspension_resumes")
    data["timeline"][6]["check"]["customers"]["slow"]["suspension_delay_until"] = None
    with pytest.raises(ScenarioFailure, match=r"timeline\[6\].*suspension_delay_until"):
        play(data, admin=admin)


def test_runner_catches_a_wrong_subscription_charge(admin: Any) -> None:
    data = _timeline("24_subscription_charged_while_suspended_per_plan")
    data["expect"]["subscription_charges"][5] = [
        "acme",
        "Normal",
        "2027-03-01T00:00:00Z",
        "2027-04-01T00:00:00Z",
        "20",
    ]
    with pytest.raises(ScenarioFailure, match=r"expect\.subscription_charges"):
        play(data, admin=admin)


def test_runner_catches_a_wrong_engine_counter(admin: Any) -> None:
    data = _timeline("03_late_clock_notices_first_then_the_wait")
    data["timeline"][2]["engine"]["report"]["collection_steps"] = 3
    with pytest.raises(ScenarioFailure, match=r"report\.collection_steps: expected 3, got 2"):
        play(data, admin=admin)
