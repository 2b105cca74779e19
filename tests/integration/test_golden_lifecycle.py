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
KNOWN_BUGS: dict[str, str] = {}
# Scenarios that fail on PostgreSQL only (SQLite does not enforce varchar lengths).
KNOWN_BUGS_POSTGRESQL: dict[str, str] = {}


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
