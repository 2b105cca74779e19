"""The golden rating scenarios (issue 12 §3): every YAML file under ``tests/golden/rating``
played through the services by ``tests/integration/golden.py`` - usage reported without an
amount, priced by billcore and invoiced - with every figure asserted to the last digit
(format: ``tests/golden/README.md``, "Rating")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.golden import ScenarioFailure, load, play, scenario_paths

pytestmark = pytest.mark.django_db

PATHS = scenario_paths("rating")


def test_there_are_at_least_5_scenarios() -> None:
    assert len(PATHS) >= 5, [p.stem for p in PATHS]


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_golden_rating(path: Path, admin: Any) -> None:
    play(load(path), admin=admin)


def test_runner_catches_a_wrong_rated_amount(admin: Any) -> None:
    data = load(next(p for p in PATHS if p.stem.startswith("01_")))
    data["timeline"][0]["usage"]["expect"]["amount"] = "0.0125"
    with pytest.raises(ScenarioFailure, match=r"timeline\[0\].*xdr\.amount"):
        play(data, admin=admin)
