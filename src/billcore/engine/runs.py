"""Recording engine runs (issue 17 §5): a row when a run starts, its figures when it ends.

The row is written outside the customers' transactions (autocommit), so a run in progress
is visible while it works, and a run that stops on an exception says why."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import DatabaseError
from django.utils import timezone

from billcore.engine.models import EngineRun, RunState

# The figures of the report each step moves (what the run page shows per step).
STEP_FIGURES: dict[str, tuple[str, ...]] = {
    "subscriptions": ("fees_charged",),
    "close": (
        "customers",
        "periods_closed",
        "periods_awaiting_approval",
        "invoices",
        "skipped",
    ),
    "collections": ("collection_steps", "status_changes"),
    "collect": ("payments_collected", "payments_declined"),
    "notifications": ("notifications_queued",),
    "documents": ("pdfs",),
    "mail": ("emails_sent", "emails_failed", "emails_pending"),
}


# Errors kept per run (error_count counts them all): a run where every customer fails (a tax
# engine down) must not write a row the size of the customer base.
MAX_ERRORS = 1000


def start_run(
    *,
    now: dt.datetime,
    steps: Sequence[str],
    trigger: str,
    started_by: str = "",
    interval_seconds: int | None = None,
) -> EngineRun:
    return EngineRun.objects.create(
        started_at=timezone.now(),
        now=now,
        trigger=trigger,
        started_by=started_by[:200],
        interval_seconds=interval_seconds,
        state=RunState.RUNNING,
        steps=list(steps),
    )


def step_entry(
    step: str, *, seconds: float, before: dict[str, Any], after: dict[str, Any]
) -> dict[str, Any]:
    """What ``step`` did: its figures (the report's counts it moved, each as a difference),
    the notes and the number of errors it added."""
    names = list(STEP_FIGURES.get(step, ()))
    names += [
        k for k, v in after.items() if isinstance(v, int) and k not in names and v != before.get(k)
    ]
    figures = {k: int(after[k]) - int(before.get(k, 0)) for k in names}
    if step == "mail":  # a level, not a count of this step's work
        figures["emails_pending"] = int(after["emails_pending"])
    return {
        "step": step,
        "seconds": round(seconds, 3),
        "figures": figures,
        "notes": list(after["notes"][len(before["notes"]) :]),
        "errors": len(after["errors"]) - len(before["errors"]),
    }


def finish_run(
    record: EngineRun, *, report: dict[str, Any], step_log: list[dict[str, Any]]
) -> None:
    errors = [dict(e) for e in report.get("errors", [])]
    record.report = {k: v for k, v in report.items() if k != "errors"}
    record.errors = errors[:MAX_ERRORS]
    record.error_count = len(errors)
    record.step_log = step_log
    record.state = RunState.FINISHED
    record.finished_at = timezone.now()
    record.save()


def fail_run(
    record: EngineRun,
    *,
    report: dict[str, Any],
    step_log: list[dict[str, Any]],
    failure: str,
) -> None:
    """The run stopped on an exception: say so (unless the database itself is gone)."""
    try:
        record.report = {k: v for k, v in report.items() if k != "errors"}
        errors = [dict(e) for e in report.get("errors", [])]
        record.errors = errors[:MAX_ERRORS]
        record.error_count = len(errors)
        record.step_log = step_log
        record.state = RunState.FAILED
        record.failure = failure[:2000]
        record.finished_at = timezone.now()
        record.save()
    except DatabaseError:  # the outage that stopped the run: the row stays "running"
        pass
