"""The engine page (administrators only, issue 17 §5): the last and next runs, the e-mails
waiting and why, the periods awaiting approval, the backlog warning before a first run, the
recorded runs, and one run's steps and errors per customer."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from billcore.customers.models import Customer
from billcore.engine.models import EngineRun
from billcore.engine.status import engine_status, get_run, list_runs
from billcore.web import base, exports
from billcore.web.base import admin_page, paginate

# The report's figures in words (the step that moves each: engine/runs.py STEP_FIGURES).
FIGURES = {
    "fees_charged": "subscription fees charged",
    "customers": "customers closed",
    "periods_closed": "periods closed",
    "periods_awaiting_approval": "periods awaiting approval",
    "invoices": "invoices issued",
    "skipped": "customers skipped",
    "collection_steps": "collection steps",
    "status_changes": "status changes",
    "payments_collected": "payments collected",
    "payments_declined": "payments declined",
    "notifications_queued": "notifications queued",
    "pdfs": "PDFs rendered",
    "emails_sent": "e-mails sent",
    "emails_failed": "e-mails failed",
    "emails_pending": "e-mails pending",
}

_ORDER = {name: i for i, name in enumerate(FIGURES)}


def _summary(run: EngineRun) -> str:
    """A run's main figures in words: what it did."""
    report = run.report or {}
    parts = [
        f"{report[k]} {FIGURES[k]}"
        for k in ("periods_closed", "invoices", "fees_charged", "pdfs", "emails_sent")
        if report.get(k)
    ]
    return ", ".join(parts) or "nothing due"


@admin_page
def engine_page(request: HttpRequest) -> HttpResponse:
    status = engine_status(actor=request.user, now=base.now())
    runs = list_runs(actor=request.user)
    if exports.wanted(request):
        header = (
            "id",
            "started_at",
            "finished_at",
            "engine_clock",
            "trigger",
            "started_by",
            "state",
            "what_it_did",
            "errors",
        )
        csv_rows = (
            (
                r.pk,
                r.started_at,
                r.finished_at,
                r.now,
                r.trigger,
                r.started_by,
                r.state,
                _summary(r),
                r.error_count,
            )
            for r in exports.rows_of(runs)
        )
        return exports.csv_response("engine-runs.csv", header, csv_rows)
    page_obj = paginate(request, runs)
    rows = [(run, _summary(run)) for run in page_obj]
    context: dict[str, Any] = {
        "status": status,
        "last_summary": _summary(status.last_run) if status.last_run else "",
        "page": page_obj,
        "rows": rows,
    }
    return render(request, "web/engine/engine.html", context)


@admin_page
def engine_run_page(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_run(actor=request.user, run_id=run_id)
    steps = [
        {
            "step": s["step"],
            "seconds": s["seconds"],
            # In the report's order (PostgreSQL's jsonb keeps no key order).
            "figures": [
                (FIGURES.get(k, k), v)
                for k, v in sorted(s["figures"].items(), key=lambda kv: _ORDER.get(kv[0], 99))
            ],
            "notes": s["notes"],
            "errors": s["errors"],
        }
        for s in run.step_log
    ]
    ids = {e["customer_id"] for e in run.errors}
    names = dict(Customer.objects.filter(pk__in=ids).values_list("pk", "name"))
    errors = [
        {**e, "name": names.get(e["customer_id"], f"customer {e['customer_id']}")}
        for e in run.errors
    ]
    context = {"run": run, "steps": steps, "errors": errors, "summary": _summary(run)}
    return render(request, "web/engine/run.html", context)
