"""The golden invoicing scenarios are well formed and, together, touch every option of
issue 4 sections 2-4 (no database: this reads the YAML files only)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.integration.golden import load, scenario_paths, validate

PATHS = scenario_paths()


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_scenario_is_well_formed(path: Path) -> None:
    assert validate(load(path)) == []


@cache
def _all() -> list[dict[str, Any]]:
    return [load(p) for p in PATHS]


def _class_values(option: str) -> set[Any]:
    return {
        str(cls.get(option)) for data in _all() for cls in data["classes"].values() if option in cls
    }


def _events(kind: str) -> list[dict[str, Any]]:
    return [e[kind] or {} for data in _all() for e in data["timeline"] if kind in e]


def test_at_least_30_scenarios_with_unique_titles() -> None:
    titles = [d["title"] for d in _all()]
    assert len(titles) >= 30
    assert len(set(titles)) == len(titles)


def test_every_billing_period_type_is_played() -> None:
    periods = {c.get("billing_period", 4) for d in _all() for c in d["customers"].values()}
    assert periods == {1, 2, 3, 4, 5, 6}
    zones = {c.get("time_zone") for d in _all() for c in d["customers"].values()}
    assert "Europe/Prague" in zones


def test_every_closing_and_invoice_option_is_played() -> None:
    assert _class_values("period_close") >= {"approval"}
    assert _class_values("postpaid_billed_externally") == {"True"}
    assert _class_values("reset_balance_every_period") == {"True"}
    assert _class_values("hide_balance_reset_xdr") == {"True", "False"}
    assert "False" in _class_values("generate_regular_invoices")
    assert "False" in _class_values("generate_statistics")
    assert _class_values("allow_out_of_turn_invoices") == {"True", "False"}
    assert _class_values("separate_recurring_fee_invoice") == {"True"}
    assert {e["number"] for e in _events("save_card")} == {"4242424242424242", "4000000000000002"}
    assert _events("approve") and _events("out_of_turn") and _events("fee")
    balance_controls = {
        c.get("balance_control", "postpaid") for d in _all() for c in d["customers"].values()
    }
    assert balance_controls == {"postpaid", "prepaid"}
    assert any(d.get("resellers") for d in _all())


def test_every_tax_and_rounding_option_is_played() -> None:
    assert _class_values("taxation_method") == {"fixed_vat", "custom", "gst_my", "eztax"}
    assert _class_values("vat_inclusive") == {"True"}
    assert any((d.get("installation") or {}).get("tax_rounding_half_up") for d in _all())
    assert max(len(c.get("taxes") or []) for d in _all() for c in d["classes"].values()) >= 3
    patterns = _class_values("invoice_rounding_pattern")
    assert any("5" in p for p in patterns) and any("X0" in p for p in patterns)
    currencies = {c for d in _all() for c in d.get("currencies") or []}
    assert {"MYR", "KWD", "BHD"} <= currencies


def test_the_validator_refuses_malformed_scenarios() -> None:
    good = load(PATHS[0])
    assert validate(good) == []
    bad = dict(good, arithmetic="")
    assert "arithmetic: the hand arithmetic, written out" in validate(bad)
    floats = load(PATHS[0])
    floats["expect"]["balances"]["acme"] = 11.02
    assert any("money must be a quoted string" in e for e in validate(floats))
    missing = load(PATHS[0])
    del missing["expect"]["invoices"][0]["total"]
    assert any("missing ['total']" in e for e in validate(missing))
    backwards = load(PATHS[0])
    backwards["timeline"][1]["at"] = "2026-01-01T00:00:00Z"
    assert any("goes back in time" in e for e in validate(backwards))
    naive = load(PATHS[0])
    naive["timeline"][0]["at"] = "2027-01-11T10:00:00"
    assert any("needs a time zone" in e for e in validate(naive))
