"""The engine over HTTP (issue 17 §5): its recorded runs and its status. Administrators
only; anyone else gets a 404. (``POST /engine/run`` stays with billing, ``api/invoicing``.)"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Query, Router, Schema
from pydantic import Field

from billcore.api.base import AuthedRequest, now
from billcore.engine.models import EngineRun, Trigger
from billcore.engine.status import engine_status, get_run, list_runs

router = Router(tags=["engine"])


class EngineStepOut(Schema):
    step: str
    seconds: float
    figures: dict[str, int] = Field(description="What the step did: counts by name")
    notes: list[str]
    errors: int = Field(description="Errors the step reported (see the run's errors)")


class EngineRunErrorOut(Schema):
    customer_id: int
    message: str
    step: str


class EngineRunOut(Schema):
    id: int
    state: str = Field(description="running, finished or failed")
    trigger: str = Field(description="scheduler, cli, api or other (a program)")
    started_by: str = Field(description="the user, cli:<os user>, or the scheduler's process")
    started_at: dt.datetime = Field(description="the real time the run started")
    finished_at: dt.datetime | None
    seconds: float | None
    now: dt.datetime = Field(description="the engine's clock (moved only in test mode)")
    steps: list[str]
    report: dict[str, Any] = Field(description="the run's figures (POST /engine/run's reply)")
    step_log: list[EngineStepOut]
    error_count: int
    errors: list[EngineRunErrorOut] = Field(
        description="errors per customer, with their step (the first 1000 of error_count)"
    )
    failure: str = Field(description="why a failed run stopped")


class EngineRunPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[EngineRunOut]


class EngineRunFilters(Schema):
    trigger: Trigger | None = None
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


class EngineBacklogOut(Schema):
    customers: int = Field(description="customers whose open period has ended")
    oldest_period_end: dt.datetime
    days_back: int
    message: str


class EngineStatusOut(Schema):
    now: dt.datetime
    last_run: EngineRunOut | None
    schedule: str = Field(description="the scheduler (billcore serve) in words")
    interval_seconds: int | None
    next_run_at: dt.datetime | None = Field(description="the next scheduled run, if scheduled")
    emails_pending: int
    emails_pending_reasons: list[str] = Field(description="why they wait, e.g. no SMTP host")
    periods_awaiting_approval: int
    backlog: EngineBacklogOut | None = Field(
        description="before the first run: what it would invoice (a warning)"
    )


@router.get("/engine/runs", response=EngineRunPage)
def engine_runs(request: AuthedRequest, filters: Query[EngineRunFilters]) -> dict[str, Any]:
    """The engine's runs, newest first."""
    qs = list_runs(actor=request.auth, trigger=filters.trigger)
    items: list[EngineRun] = list(qs[filters.offset : filters.offset + filters.limit])
    return {"count": qs.count(), "limit": filters.limit, "offset": filters.offset, "items": items}


@router.get("/engine/runs/{run_id}", response=EngineRunOut)
def engine_run_detail(request: AuthedRequest, run_id: int) -> EngineRun:
    """One run: what each step did, the errors per customer."""
    return get_run(actor=request.auth, run_id=run_id)


@router.get("/engine/status", response=EngineStatusOut)
def status(request: AuthedRequest) -> Any:
    """The last run, the next scheduled one, the e-mails pending and why, the periods
    awaiting approval, and the backlog a first run would issue."""
    return engine_status(actor=request.auth, now=now())
