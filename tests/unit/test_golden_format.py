"""The golden scenarios are well formed and, together, touch every option they must: the
invoicing ones issue 4 sections 2-4, the lifecycle ones issue 5 §5 (every status action,
every collection step, partial payments, lift-until dates, reactivation, CC-19 both ways).
No database: this reads the YAML files only."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.integration.golden import load, scenario_paths, validate

PATHS = scenario_paths()
LIFECYCLE = scenario_paths("lifecycle")
RATING = scenario_paths("rating")


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_scenario_is_well_formed(path: Path) -> None:
    assert validate(load(path)) == []


@pytest.mark.parametrize("path", LIFECYCLE, ids=[p.stem for p in LIFECYCLE])
def test_lifecycle_timeline_is_well_formed(path: Path) -> None:
    assert validate(load(path)) == []


@pytest.mark.parametrize("path", RATING, ids=[p.stem for p in RATING])
def test_rating_scenario_is_well_formed(path: Path) -> None:
    assert validate(load(path)) == []


def test_rating_scenarios_cover_issue_12() -> None:
    """Per-second and 60/6 rates, off-peak in a far time zone, an override tariff, a rate
    version effective mid-period, a reseller's customer (issue 12 §3)."""
    data = [load(p) for p in RATING]
    rates = [r for d in data for t in d["catalogue"]["tariffs"].values() for r in t["rates"]]
    assert {(r.get("interval_first", 1), r.get("interval_next", 1)) for r in rates} >= {
        (1, 1),
        (60, 6),
    }
    assert any(d["catalogue"].get("offpeak_periods") for d in data)
    assert any(d["catalogue"].get("overrides") for d in data)
    assert any(r.get("discontinued") for r in rates)
    assert any(d.get("resellers") for d in data)


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


# --------------------------------------------------------------------------------------------
# Lifecycle timelines (issue 5 §5)


@cache
def _lifecycle() -> list[dict[str, Any]]:
    return [load(p) for p in LIFECYCLE]


def _lc_events(kind: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(event, body) of every lifecycle event of ``kind``."""
    return [(e, e[kind] or {}) for d in _lifecycle() for e in d["timeline"] if kind in e]


def test_at_least_25_lifecycle_timelines_with_unique_titles() -> None:
    titles = [d["title"] for d in _lifecycle()]
    assert len(titles) >= 25
    assert len(set(titles)) == len(titles)
    assert not set(titles) & {d["title"] for d in _all()}


def test_every_status_action_is_played_and_refusals_too() -> None:
    actions = {b["action"] for _, b in _lc_events("status")}
    assert actions == {
        "block",
        "unblock",
        "suspend",
        "unsuspend",
        "lift_suspension_until",
        "terminate",
        "reactivate",
        "export",
        "clear_export",
    }
    codes = {e["error"]["code"] for e, _ in _lc_events("status") if "error" in e}
    assert {"overdue_suspension", "too_late", "closed", "not_open", "not_suspended"} <= codes
    terminations = [b for _, b in _lc_events("status") if b["action"] == "terminate"]
    assert any(b.get("permanent") and b.get("midterm_invoice") for b in terminations)
    assert any(b.get("permanent") and not b.get("midterm_invoice") for b in terminations)
    assert any(b.get("permanent") and b.get("terminate_on") for b in terminations)
    assert any(not b.get("permanent") and b.get("terminate_on") for b in terminations)


def test_every_status_transition_is_expected_somewhere() -> None:
    seen = {
        (row[0], row[1])
        for d in _lifecycle()
        for rows in (d["expect"].get("status_history") or {}).values()
        for row in rows
    }
    assert {
        ("open", "suspended"),
        ("suspended", "open"),
        ("open", "provisionally_terminated"),
        ("suspended", "provisionally_terminated"),
        ("provisionally_terminated", "open"),
        ("provisionally_terminated", "closed"),
        ("open", "closed"),
        ("open", "exported"),
        ("exported", "open"),
    } <= seen
    reasons = {
        row[2]
        for d in _lifecycle()
        for rows in (d["expect"].get("status_history") or {}).values()
        for row in rows
    }
    assert {"blocked", "unblocked", "paid", "funds arrived", "reactivated"} <= reasons


def test_every_collection_step_and_the_lift_until_cases_are_played() -> None:
    kinds = {row[1] for d in _lifecycle() for row in d["expect"].get("collection_steps") or []}
    assert kinds == {
        "reminder",
        "late_fee_notice",
        "late_fee",
        "suspension_notice",
        "suspension",
        "termination_notice",
        "termination",
    }
    late = [
        row
        for d in _lifecycle()
        for row in d["expect"].get("collection_steps") or []
        if row[2] != row[3]
    ]
    assert late, "a late clock: some step done after its scheduled day"
    lifts = [(e, b) for e, b in _lc_events("status") if b["action"] == "lift_suspension_until"]
    assert any("error" in e for e, _ in lifts) and any("error" not in e for e, _ in lifts)
    assert any(
        e["error"].get("message") == "until must be in the future" for e, _ in lifts if "error" in e
    )


def test_partial_payments_oot_policy_and_notifications_off_are_played() -> None:
    statuses = {inv["status"] for d in _lifecycle() for inv in d["expect"].get("invoices") or []}
    assert {"partly_paid", "paid", "overdue", "issued"} <= statuses
    assert any(
        inv["kind"] == "out_of_turn" for d in _lifecycle() for inv in d["expect"]["invoices"]
    )
    assert any(k.startswith("oot_") for d in _lifecycle() for c in d["classes"].values() for k in c)
    assert any(
        c.get("notifications") == [] and "reminder_days_before_due" in c
        for d in _lifecycle()
        for c in d["classes"].values()
    )


def test_subscriptions_and_cc19_both_ways_are_played() -> None:
    cc19 = {
        str(c.get("suspend_on_insufficient_funds"))
        for d in _lifecycle()
        for c in d["classes"].values()
        if "suspend_on_insufficient_funds" in c
    }
    assert cc19 == {"True", "False"}
    plans = [b for _, b in _lc_events("plan")]
    assert any(b.get("charge_while_suspended") for b in plans)
    assert any(b.get("charge_while_blocked") is False for b in plans)
    skipped = {
        row[5]
        for d in _lifecycle()
        for row in d["expect"].get("subscription_charges") or []
        if len(row) == 6
    }
    assert skipped == {"suspended", "blocked", "provisionally_terminated"}
    reasons = {
        (c or {}).get("suspension_reason")
        for d in _lifecycle()
        for e in d["timeline"]
        if "check" in e
        for c in (e["check"].get("customers") or {}).values()
    }
    assert "insufficient_funds" in reasons


def test_the_validator_refuses_malformed_lifecycle_events() -> None:
    good = load(LIFECYCLE[0])
    assert validate(good) == []
    bad_action = load(LIFECYCLE[0])
    status = next(e for e in bad_action["timeline"] if "status" in e)
    status["status"]["action"] = "delete"
    assert any("status.action: one of" in e for e in validate(bad_action))
    unknown_plan = load(LIFECYCLE[0])
    sub = next(e for e in unknown_plan["timeline"] if "subscribe" in e)
    sub["subscribe"]["plan"] = "Platinum"
    assert any("subscribe.plan: no plan event defines it" in e for e in validate(unknown_plan))
    bad_step = load(LIFECYCLE[0])
    bad_step["expect"]["collection_steps"] = [["INV-0000001", "warning", "x", "y"]]
    problems = validate(bad_step)
    assert any("kind one of reminder" in e for e in problems)
    assert any("not an ISO 8601 date-time" in e for e in problems)
    bad_engine = load(LIFECYCLE[0])
    engine = next(e for e in bad_engine["timeline"] if "engine" in e)
    engine["engine"]["steps"] = ["close", "invoice"]
    assert any("engine.steps: a list of" in e for e in validate(bad_engine))
