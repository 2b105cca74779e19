"""The golden invoicing scenarios (issue 4, section 7): every YAML file under
``tests/golden/invoicing`` played through the services by ``tests/integration/golden.py``,
with every expected figure asserted to the last digit (format: ``tests/golden/README.md``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.golden import ScenarioFailure, load, play, scenario_paths

pytestmark = pytest.mark.django_db

PATHS = scenario_paths()


def test_there_are_at_least_30_scenarios() -> None:
    assert len(PATHS) >= 30, [p.stem for p in PATHS]


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_golden_scenario(path: Path, admin: Any) -> None:
    play(load(path), admin=admin)


def _scenario(stem: str) -> dict[str, Any]:
    return load(next(p for p in PATHS if p.stem == stem))


def test_runner_catches_a_wrong_figure(admin: Any) -> None:
    data = _scenario("01_monthly_vat_exclusive")
    data["expect"]["invoices"][0]["total"] = "21.03"
    with pytest.raises(ScenarioFailure, match=r"INV-0000001\.total: expected Decimal\('21\.03'\)"):
        play(data, admin=admin)


def test_runner_catches_an_unexpected_invoice(admin: Any) -> None:
    data = _scenario("02_weekly_partial_first_period")
    data["expect"]["invoices"].pop()
    with pytest.raises(ScenarioFailure, match="invoice count per customer"):
        play(data, admin=admin)


def test_runner_catches_a_wrong_line(admin: Any) -> None:
    data = _scenario("27_gst_malaysia")
    data["expect"]["invoices"][0]["lines"][2][2] = "-0.02"
    with pytest.raises(ScenarioFailure, match=r"INV-0000001\.lines"):
        play(data, admin=admin)


def test_runner_catches_an_expected_error_that_does_not_happen(admin: Any) -> None:
    data = _scenario("15_out_of_turn_refused_and_nothing_to_invoice")
    data["classes"]["no_ooti"]["allow_out_of_turn_invoices"] = True
    with pytest.raises(ScenarioFailure, match=r"timeline\[1\].*expected the error"):
        play(data, admin=admin)
