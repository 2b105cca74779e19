"""What the engine did and will do (issue 17 §5): the last run, the scheduler's next run,
the e-mails waiting and why, the periods waiting for approval, and the backlog a first run
would issue. Administrators only (anyone else: not found, as for ``run_for``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Min, Q, QuerySet

from billcore.accounts.access import Actor, is_admin
from billcore.customers.models import Customer, Status
from billcore.engine.models import EngineRun, RunState, Trigger
from billcore.errors import NotFound
from billcore.installation.services import get_settings
from billcore.invoicing.models import ClosedPeriod, PeriodStatus
from billcore.notifications.models import EmailStatus, OutboundEmail
from billcore.notifications.outbox import SELLER_KINDS

# A scheduled run later than this after its due time: the scheduler is presumed stopped.
LATE = dt.timedelta(seconds=60)


@dataclass
class Backlog:
    """What a first run would invoice: customers whose open period already ended."""

    customers: int
    oldest_period_end: dt.datetime
    days_back: int

    @property
    def message(self) -> str:
        return (
            f"The engine has never run: its first run will close the ended periods of "
            f"{self.customers} customer{'s' if self.customers != 1 else ''} and issue their "
            f"invoices, going back {self.days_back} day{'s' if self.days_back != 1 else ''} "
            f"(the oldest period ended {self.oldest_period_end:%Y-%m-%d %H:%M} UTC)."
        )


@dataclass
class EngineStatus:
    now: dt.datetime
    last_run: EngineRun | None
    schedule: str  # the scheduler in words
    interval_seconds: int | None
    next_run_at: dt.datetime | None
    emails_pending: int
    emails_pending_reasons: list[str] = field(default_factory=list)
    periods_awaiting_approval: int = 0
    backlog: Backlog | None = None


def _admin(actor: Actor) -> None:
    if not is_admin(actor):
        raise NotFound("not found")


def list_runs(*, actor: Actor, trigger: str | None = None) -> QuerySet[EngineRun]:
    """The engine's runs, newest first."""
    _admin(actor)
    runs = EngineRun.objects.order_by("-started_at", "-id")
    return runs.filter(trigger=trigger) if trigger else runs


def get_run(*, actor: Actor, run_id: int) -> EngineRun:
    _admin(actor)
    try:
        return EngineRun.objects.get(pk=run_id)
    except (EngineRun.DoesNotExist, ValueError, OverflowError):
        raise NotFound(f"engine run {run_id} not found", field="id") from None


def _schedule(now: dt.datetime) -> tuple[str, int | None, dt.datetime | None]:
    last = (
        EngineRun.objects.filter(trigger=Trigger.SCHEDULER).order_by("-started_at", "-id").first()
    )
    if last is None or not last.interval_seconds:
        return (
            "not scheduled: no scheduled run recorded (billcore serve runs the engine every "
            "--engine-interval seconds)",
            None,
            None,
        )
    every = last.interval_seconds
    if last.state == RunState.RUNNING:
        return f"every {every} s; a scheduled run is in progress", every, None
    assert last.finished_at is not None
    due = last.finished_at + dt.timedelta(seconds=every)
    if now > due + LATE:
        return (
            f"every {every} s, but the scheduled run due at {due:%Y-%m-%d %H:%M:%S} UTC did "
            "not start: is billcore serve running?",
            every,
            None,
        )
    return f"every {every} s (billcore serve)", every, due


def _pending_reasons(pending: QuerySet[OutboundEmail]) -> list[str]:
    reasons = []
    if not settings.EMAIL_HOST:
        reasons.append("no SMTP host configured (BILLCORE_SMTP_HOST): nothing can be sent")
    inst = get_settings()
    with_own = Q(
        customer__customer_class__notification_from_override=True,
        customer__customer_class__notification_from_address__gt="",
    )
    # Issue 17 §6: invoice and credit-note e-mails wait for the seller's details.
    missing = inst.missing_seller_details()
    seller = pending.filter(kind__in=SELLER_KINDS)
    if missing == ["From address"]:
        seller = seller.exclude(with_own)
    waiting = seller.count() if missing else 0
    if waiting:
        reasons.append(
            f"seller details missing: {', '.join(missing)}: {waiting} invoice or credit-note "
            f"e-mail{'s' if waiting != 1 else ''} wait{'s' if waiting == 1 else ''} until "
            "they are filled in (Settings)"
        )
    if not inst.notification_from_address:
        without = pending.exclude(kind__in=SELLER_KINDS).exclude(with_own).count()
        if without:
            reasons.append(
                f"no From address: {without} e-mail{'s' if without != 1 else ''} cannot be "
                "built until the installation's legal info has a From address (Settings)"
            )
    return reasons


def backlog(*, now: dt.datetime) -> Backlog | None:
    """Before the engine's first run: the customers whose open period ended, and how far
    back (None once a run has finished, or when nothing has ended)."""
    if EngineRun.objects.filter(state=RunState.FINISHED).exists():
        return None
    ended = (
        Customer.objects.filter(next_billed_to__lte=now)
        .exclude(status=Status.CLOSED)
        .aggregate(n=Min("next_billed_to"))["n"]
    )
    if ended is None:
        return None
    count = Customer.objects.filter(next_billed_to__lte=now).exclude(status=Status.CLOSED).count()
    return Backlog(customers=count, oldest_period_end=ended, days_back=(now - ended).days)


def engine_status(*, actor: Actor, now: dt.datetime) -> EngineStatus:
    """``now``: the real time (the scheduler runs on it)."""
    _admin(actor)
    schedule, every, due = _schedule(now)
    pending = OutboundEmail.objects.filter(status=EmailStatus.PENDING)
    count = pending.count()
    return EngineStatus(
        now=now,
        last_run=EngineRun.objects.order_by("-started_at", "-id").first(),
        schedule=schedule,
        interval_seconds=every,
        next_run_at=due,
        emails_pending=count,
        emails_pending_reasons=_pending_reasons(pending) if count else [],
        periods_awaiting_approval=ClosedPeriod.objects.filter(
            status=PeriodStatus.AWAITING_APPROVAL
        ).count(),
        backlog=backlog(now=now),
    )
