"""The billing engine: everything due up to ``now`` (DESIGN rules 3 and 7).

``run(now=…)`` takes these steps, each idempotent for the same ``now`` and each safe to
interrupt at any point:

0. ``subscriptions``: periodic fees due up to ``now`` (in advance at a period's start, in
   arrears at its end, so they land in the period the close step bills), and the DIDs'
   recurring fees (``dids.charging``);
1. ``close``: for every customer whose open period ended or whose period waiting for approval
   reached its deadline, ``closing.close_due_periods`` in one transaction per customer
   (claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several engine processes can
   share one run);
1b. ``collections``: reminders, late-payment fees, suspensions and terminations of unpaid
   invoices, permanent terminations that are due, lift-until dates that passed;
2. ``collect``: invoices to be paid by the saved payment method (auto-charge, CC-14) are
   charged through the payment gateway, with an idempotency key per invoice;
2b. ``notifications``: low funds / credit limit near, saved card expiring;
3. ``documents``: PDFs of new invoices and closing statements (CC-16);
4. ``mail``: the queued invoice and statistics e-mails over SMTP.

Crash safety comes from the unit of work: a customer's closing commits whole or not at all,
and the later steps pick up whatever the earlier ones left (a PDF missing, an e-mail pending).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, connection
from django.db.models import Q

from billcore.accounts.access import Actor, is_admin
from billcore.core.taxes import TaxEngineNotConfigured
from billcore.customers.models import Customer, Status
from billcore.dids.charging import charge_step as did_charge_step
from billcore.engine.models import Trigger
from billcore.engine.runs import fail_run, finish_run, start_run, step_entry
from billcore.errors import BillcoreError, NotAllowed, NotFound, ValidationFailed
from billcore.installation.services import get_settings
from billcore.invoicing.allocation import mark_overdue
from billcore.invoicing.cards import card_expiring_step
from billcore.invoicing.closing import close_due_periods
from billcore.invoicing.collections import collections_step
from billcore.invoicing.documents import render_pending
from billcore.invoicing.fastclose import FastCloser
from billcore.invoicing.mail import send_pending
from billcore.invoicing.models import ClosedPeriod, PeriodStatus
from billcore.invoicing.payments import collect_step
from billcore.invoicing.tax_engines import TaxEngineError
from billcore.notifications.services import scan_step
from billcore.subscriptions.engine import charge_step

STEPS = (
    "subscriptions",
    "close",
    "collections",
    "collect",
    "notifications",
    "documents",
    "mail",
)


@dataclass
class EngineReport:
    now: dt.datetime
    customers: int = 0
    periods_closed: int = 0
    periods_awaiting_approval: int = 0
    invoices: int = 0
    skipped: int = 0
    fees_charged: int = 0
    collection_steps: int = 0
    status_changes: int = 0
    notifications_queued: int = 0
    payments_collected: int = 0
    payments_declined: int = 0
    pdfs: int = 0
    emails_sent: int = 0
    emails_failed: int = 0
    emails_pending: int = 0
    notes: list[str] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)
    run_id: int | None = None  # the EngineRun row recording this run

    def as_dict(self) -> dict[str, object]:
        return {
            "now": self.now.isoformat(),
            "customers": self.customers,
            "periods_closed": self.periods_closed,
            "periods_awaiting_approval": self.periods_awaiting_approval,
            "invoices": self.invoices,
            "skipped": self.skipped,
            "fees_charged": self.fees_charged,
            "collection_steps": self.collection_steps,
            "status_changes": self.status_changes,
            "notifications_queued": self.notifications_queued,
            "payments_collected": self.payments_collected,
            "payments_declined": self.payments_declined,
            "pdfs": self.pdfs,
            "emails_sent": self.emails_sent,
            "emails_failed": self.emails_failed,
            "emails_pending": self.emails_pending,
            "notes": list(self.notes),
            "errors": [{"customer_id": c, "message": m} for c, m in self.errors],
        }


def due_customer_ids(*, now: dt.datetime) -> list[int]:
    """Customers with something due: an ended open period, or an approval deadline passed."""
    ended, deadline = _due(now=now)
    return sorted(ended | deadline)


def _due(*, now: dt.datetime) -> tuple[set[int], set[int]]:
    ended = (
        Customer.objects.filter(Q(next_billed_to__lte=now) | Q(next_billed_to__isnull=True))
        .exclude(status=Status.CLOSED)
        .order_by()
        .values_list("pk", flat=True)
    )
    deadline = (
        ClosedPeriod.objects.filter(status=PeriodStatus.AWAITING_APPROVAL, approve_by__lte=now)
        .order_by()
        .values_list("customer_id", flat=True)
    )
    return set(ended), set(deadline)


def close_step(
    *,
    now: dt.datetime,
    report: EngineReport,
    customer_ids: Iterable[int] | None = None,
    progress: Callable[[int, int], None] | None = None,
    fast: bool = True,
) -> None:
    ended, deadline = _due(now=now)
    ids = list(customer_ids) if customer_ids is not None else sorted(ended | deadline)
    skip_locked = connection.vendor == "postgresql"
    inst = get_settings()
    closer = FastCloser(inst=inst) if fast else None
    for n, cid in enumerate(ids, 1):
        try:
            result = None
            if closer is not None and cid not in deadline:
                result = closer.close(customer_id=cid, now=now, skip_locked=skip_locked)
            if result is None:  # not the common case: the ORM path, the reference
                result = close_due_periods(
                    customer_id=cid,
                    now=now,
                    skip_locked=skip_locked,
                    inst=inst,
                    deadlines=cid in deadline,
                )
        except (
            BillcoreError,
            TaxEngineNotConfigured,
            TaxEngineError,
            ValueError,
            DatabaseError,
        ) as exc:
            # The customer's transaction rolled back: nothing half done; reported, retried
            # by the next run.
            report.errors.append((cid, str(exc)))
            continue
        report.customers += 1
        if result.skipped:
            report.skipped += 1
        report.periods_closed += result.closed
        report.periods_awaiting_approval += result.awaiting
        report.invoices += len(result.invoices)
        if progress is not None:
            progress(n, len(ids))
    mark_overdue(now=now)


def run(
    *,
    now: dt.datetime,
    steps: Iterable[str] = STEPS,
    progress: Callable[[int, int], None] | None = None,
    fast: bool = True,
    trigger: str = Trigger.OTHER,
    started_by: str = "",
    interval_seconds: int | None = None,
) -> EngineReport:
    """Run the engine's ``steps`` for ``now`` (aware datetime). ``fast=False`` closes every
    period through the ORM path (the reference the fast path is tested against).

    Every run is recorded (``EngineRun``): ``trigger`` says what started it (the scheduler,
    the command line, the API, another program), ``started_by`` who, ``interval_seconds``
    the scheduler's interval (its next run is due that long after this one ends)."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    wanted = list(steps)
    unknown = [s for s in wanted if s not in STEPS]
    if unknown:
        raise ValueError(f"unknown engine step(s) {unknown}; steps are {', '.join(STEPS)}")
    report = EngineReport(now=now)
    record = start_run(
        now=now,
        steps=[s for s in STEPS if s in wanted],
        trigger=trigger,
        started_by=started_by,
        interval_seconds=interval_seconds,
    )
    step_log: list[dict[str, object]] = []
    error_steps: list[str] = []
    try:
        for step in STEPS:
            if step not in wanted:
                continue
            before = report.as_dict()
            started = time.monotonic()
            _STEP_FUNCTIONS[step](now=now, report=report, progress=progress, fast=fast)
            after = report.as_dict()
            step_log.append(
                step_entry(step, seconds=time.monotonic() - started, before=before, after=after)
            )
            error_steps += [step] * (len(report.errors) - len(error_steps))
    except BaseException as exc:
        fail_run(
            record,
            report=_with_steps(report, error_steps),
            step_log=step_log,
            failure=f"{type(exc).__name__}: {exc}",
        )
        raise
    finish_run(record, report=_with_steps(report, error_steps), step_log=step_log)
    report.run_id = record.pk
    return report


def _with_steps(report: EngineReport, error_steps: list[str]) -> dict[str, Any]:
    """The report with each error's step (the one that reported it)."""
    data = report.as_dict()
    data["errors"] = [
        {"customer_id": c, "message": m, "step": error_steps[i] if i < len(error_steps) else ""}
        for i, (c, m) in enumerate(report.errors)
    ]
    return data


def _subscriptions(*, now: dt.datetime, report: EngineReport, **_: Any) -> None:
    charge_step(now=now, report=report)
    did_charge_step(now=now, report=report)  # DID recurring fees, the same machinery (issue 14)


def _close(
    *,
    now: dt.datetime,
    report: EngineReport,
    progress: Callable[[int, int], None] | None,
    fast: bool,
) -> None:
    close_step(now=now, report=report, progress=progress, fast=fast)


def _collections(*, now: dt.datetime, report: EngineReport, **_: Any) -> None:
    collections_step(now=now, report=report)


def _collect(*, now: dt.datetime, report: EngineReport, **_: Any) -> None:
    collect_step(now=now, report=report)


def _notifications(*, now: dt.datetime, report: EngineReport, **_: Any) -> None:
    scan_step(now=now, report=report)
    card_expiring_step(now=now, report=report)


def _documents(*, now: dt.datetime, report: EngineReport, **_: Any) -> None:
    report.pdfs += render_pending(now=now)


def _mail(*, now: dt.datetime, report: EngineReport, **_: Any) -> None:
    mail = send_pending(now=now)
    report.emails_sent += mail.sent
    report.emails_failed += mail.failed
    report.emails_pending += mail.pending
    if mail.note:
        report.notes.append(mail.note)


_STEP_FUNCTIONS: dict[str, Callable[..., None]] = {
    "subscriptions": _subscriptions,
    "close": _close,
    "collections": _collections,
    "collect": _collect,
    "notifications": _notifications,
    "documents": _documents,
    "mail": _mail,
}


def engine_clock(*, now: dt.datetime, clock: dt.datetime | None) -> dt.datetime:
    """The time an operator's run is for: the real ``now``, or the engine's clock ``clock``
    only while the installation is in test mode (the API's and the command line's rule)."""
    if clock is None:
        return now
    if not get_settings().test_mode:
        raise NotAllowed(
            "now: the engine's clock can be moved only when the installation is in test "
            "mode (settings: test_mode)",
            field="now",
            code="not_test_mode",
        )
    if clock.tzinfo is None:
        raise ValidationFailed("now needs a time zone (e.g. Z)", field="now")
    return clock.astimezone(dt.UTC)


def run_for(
    *,
    actor: Actor,
    now: dt.datetime,
    clock: dt.datetime | None = None,
    steps: list[str] | None = None,
) -> EngineReport:
    """The engine run an operator asks for (API): administrators only; the engine's clock
    ``clock`` instead of the real ``now`` only while the installation is in test mode."""

    if not is_admin(actor):
        raise NotFound("not found")
    now = engine_clock(now=now, clock=clock)
    wanted = list(STEPS) if steps is None else steps
    bad = [s for s in wanted if s not in STEPS]
    if bad:
        raise ValidationFailed(
            f"steps: unknown step(s) {', '.join(bad)}; steps are {', '.join(STEPS)}",
            field="steps",
        )
    return run(now=now, steps=wanted, trigger=Trigger.API, started_by=str(actor.username))
